"""Tests of ``shallowrelu/io``."""
