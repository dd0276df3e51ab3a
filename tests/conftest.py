"""Fixtures every test folder uses."""

import highspy  # noqa: F401 - the status names the flaky fixture is given
import numpy as np
import pytest

from shallowrelu.polytope import lp
from tests.helpers import FlakyHighs


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def pool_from_the_start(monkeypatch):
    """Every chunk but the last goes to the workers (the nets in tests are too small to need a pool);
    returns the list of chunk counts each pool got, so a test can check one ran."""
    from shallowrelu.enumerator import run, workers

    monkeypatch.setattr(run, "_POOL_AFTER", 0.0)
    sizes: list[int] = []
    real = workers.workers

    def spy(backend, spec, jobs):
        k = len(sizes)
        sizes.append(0)
        pool = real(backend, spec, jobs)
        submit = pool.submit

        def counted(chunk):
            sizes[k] += 1
            submit(chunk)
        pool.submit = counted
        return pool
    monkeypatch.setattr(workers, "workers", spy)
    return sizes


@pytest.fixture
def flaky(monkeypatch):
    def install(fault, failing):
        real_new = lp._new_highs
        FlakyHighs.count = 0
        monkeypatch.setattr(lp, "_new_highs", lambda tol: FlakyHighs(real_new(tol), fault, failing))
    return install


@pytest.fixture(scope="session")
def net():
    """A 3-input net whose search is cut into many chunks (the resume and chunk-log tests)."""
    from shallowrelu.testing.nets import random_net

    return random_net([3, 10, 10, 1], seed=4)


@pytest.fixture(scope="session")
def full(net):
    """``net``'s catalogue over [-1, 1]^3 from one uninterrupted run."""
    import shallowrelu as sr

    return sr.enumerate_regions(net, sr.Box(-1, 1))
