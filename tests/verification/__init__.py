"""Tests of ``shallowrelu/verification``."""
