import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def pool_from_the_start(monkeypatch):
    """Every subtree but the last goes to the workers (the nets in tests are too small to need a pool);
    returns the list of task counts each pool got, so a test can check one ran."""
    from shallowrelu.enumerator import run, workers

    monkeypatch.setattr(run, "_POOL_AFTER", 0.0)
    sizes: list[int] = []
    for name in ("pool_results", "ray_results"):
        real = getattr(workers, name)

        def spy(init, tasks, jobs, real=real):
            sizes.append(len(tasks))
            return real(init, tasks, jobs)
        monkeypatch.setattr(workers, name, spy)
    return sizes
