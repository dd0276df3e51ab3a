"""Tests of ``shallowrelu/enumerator``."""
