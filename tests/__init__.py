"""Tests of shallowrelu, one folder per package (see docs/tests.md)."""
