"""Fixtures of the polytope tests."""

import pytest

from shallowrelu.polytope import kernels


@pytest.fixture(params=["compiled", "numpy"])
def path(request, monkeypatch):
    """Run a test with the numba kernels and again with the numpy code they stand in for."""
    monkeypatch.setattr(kernels, "_NUMBA", request.param == "compiled")
    return request.param
