"""Tests of ``shallowrelu/builder``."""
