"""The seam to HiGHS: nearest points that survive failed solves, and the active-set projection's check."""

import highspy
import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.polytope import lp


def _small_polytope(rng, n):
    """A random polytope around the origin and a point outside it, as ``A y <= b``."""
    A = rng.normal(size=(3 * n, n))
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    return A, rng.uniform(0.2, 1.0, size=3 * n), rng.normal(size=n) * 3


@pytest.mark.parametrize("n", [2, 3, 5])
@pytest.mark.parametrize("norm", ["2", "inf"])
def test_a_nearest_point_survives_failed_solves(flaky, norm, n, rng):
    # the two first solves (the free problem and its retry) fail, and for l_2 the boxed one too:
    # the answer must still be the nearest point (for l_2 from our own active set, checked by KKT)
    A, b, x = _small_polytope(rng, n)
    expected = lp.nearest_point(x, A, b, norm)
    failing = {1, 2, 4, 5} if norm == "2" else {1, 2}
    flaky(highspy.HighsModelStatus.kSolveError, lambda k: k in failing)
    found = lp.nearest_point(x, A, b, norm)
    assert found.feasible and found.value == pytest.approx(expected.value, abs=1e-9)
    np.testing.assert_allclose(found.x, expected.x, atol=1e-7)
    flaky(highspy.HighsModelStatus.kSolveError, lambda k: True)
    # no status to trust: an error, or (l_2) a point proved optimal by its KKT conditions; never a guess
    try:
        answer = lp.nearest_point(x, A, b, norm)
    except sr.SolverError as exc:
        assert "failed" in str(exc)
    else:
        assert norm == "2" and answer.value == pytest.approx(expected.value, abs=1e-9)


def test_the_active_set_projection_and_its_check(rng):
    tol = sr.Tolerances()
    for _ in range(40):
        n = int(rng.integers(2, 6))
        A, b, x = _small_polytope(rng, n)
        y = lp._projection(x, A, b, np.zeros(n))     # the origin is inside (b > 0)
        assert lp._is_projection(x, y, A, b, tol)
        np.testing.assert_allclose(y, lp.nearest_point(x, A, b, "2").x, atol=1e-7)
        assert not lp._is_projection(x, y + 1e-4 * rng.normal(size=n), A, b, tol)
