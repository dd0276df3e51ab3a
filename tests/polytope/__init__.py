"""Tests of ``shallowrelu/polytope``."""
