"""Tests of ``shallowrelu/catalogue``."""
