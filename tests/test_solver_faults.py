"""HiGHS statuses other than optimal/infeasible, forced: retried, and reported as unresolved, never guessed."""

import highspy
import numpy as np
import pytest

import shallowrelu as sr
from nets import random_net
from shallowrelu import cli
from shallowrelu.polytope import lp

# kUnknown is what HiGHS reports for numerical trouble.
FAULTS = [highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kIterationLimit,
          highspy.HighsModelStatus.kUnknown, highspy.HighsModelStatus.kUnbounded,
          highspy.HighsModelStatus.kSolveError]


class FlakyHighs:
    """A real HiGHS model whose status reads ``fault`` on the solves the shared counter picks."""

    count = 0

    def __init__(self, real, fault, failing):
        self._real, self._fault, self._failing, self._last = real, fault, failing, 0

    def run(self):
        FlakyHighs.count += 1
        self._last = FlakyHighs.count
        return self._real.run()

    def getModelStatus(self):
        return self._fault if self._failing(self._last) else self._real.getModelStatus()

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.fixture
def flaky(monkeypatch):
    def install(fault, failing):
        real_new = lp._new_highs
        FlakyHighs.count = 0
        monkeypatch.setattr(lp, "_new_highs", lambda tol: FlakyHighs(real_new(tol), fault, failing))
    return install


NET = random_net([2, 8, 6, 1], seed=3)
# Over a box the search carries vertices and needs hardly an LP to fail: the
# enumeration tests search all of R^3, where every split and facet is an LP.
NET3 = random_net([3, 8, 6, 1], seed=3)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_solve_is_retried_and_the_catalogue_is_unchanged(flaky, fault):
    full = sr.enumerate_regions(NET3)
    flaky(fault, lambda k: k % 3 == 1)  # every third solve fails; its retry does not
    cat = sr.enumerate_regions(NET3)
    assert FlakyHighs.count > 30
    assert cat.info["unresolved"] == 0 and cat.info["complete"]
    np.testing.assert_array_equal(cat.table.patterns, full.table.patterns)


@pytest.mark.parametrize("fault", FAULTS)
def test_an_lp_that_fails_on_every_attempt_is_reported_not_guessed(flaky, fault):
    full = sr.enumerate_regions(NET3)
    flaky(fault, lambda k: 10 <= k < 13)  # warm, cold and fresh attempts of one LP
    cat = sr.enumerate_regions(NET3)
    assert cat.info["unresolved"] == 1 and "three attempts" in cat.info["unresolved_error"]
    assert not cat.info["complete"]
    assert 0 < len(cat) < len(full)
    # what was found is right: every region is one of the full run's
    assert set(map(bytes, cat.table.patterns)) < set(map(bytes, full.table.patterns))


def test_cli_exits_3_and_names_the_unresolved_subtrees(flaky, tmp_path, capsys):
    sr.save_network(NET3, tmp_path / "n.npz")
    flaky(highspy.HighsModelStatus.kUnknown, lambda k: 10 <= k < 13)
    code = cli.main(["enumerate", str(tmp_path / "n.npz"), "--jobs", "1", "-o", str(tmp_path / "c.npz")])
    err = capsys.readouterr().err
    assert code == 3 and "1 subtrees unresolved" in err and "incomplete" in err
    assert not sr.Catalogue.load(tmp_path / "c.npz").info["complete"]


def test_verify_says_unknown_when_a_subtree_is_unresolved(flaky):
    # the property holds (the output never reaches 100); with a subtree unresolved it cannot be proved
    prop = sr.parse_vnnlib("(declare-const X_0 Real) (declare-const X_1 Real) (declare-const Y_0 Real) "
                           "(assert (>= X_0 -1)) (assert (<= X_0 1)) (assert (>= X_1 -1)) (assert (<= X_1 1)) "
                           "(assert (>= Y_0 100))")
    assert sr.verify(NET, prop, samples=0, method="tree").verdict is sr.Verdict.UNSAT
    flaky(highspy.HighsModelStatus.kUnknown, lambda k: k >= 1)
    res = sr.verify(NET, prop, samples=0, method="tree")
    assert res.verdict is sr.Verdict.UNKNOWN
    # the input split closes the box by a bound, which needs no LP: still a proof
    assert sr.verify(NET, prop, samples=0).verdict is sr.Verdict.UNSAT


def test_verify_with_one_unresolved_subtree_is_unknown(flaky):
    # just above the true maximum: unsat, but only region by region
    top = sr.output_bounds(NET, sr.Box(-1, 1), 0).max
    prop = sr.parse_vnnlib("(declare-const X_0 Real) (declare-const X_1 Real) (declare-const Y_0 Real) "
                           "(assert (>= X_0 -1)) (assert (<= X_0 1)) (assert (>= X_1 -1)) (assert (<= X_1 1)) "
                           f"(assert (>= Y_0 {top + 1e-3}))")
    exact = sr.verify(NET, prop, samples=0, method="tree")
    assert exact.verdict is sr.Verdict.UNSAT and exact.regions > 0
    flaky(highspy.HighsModelStatus.kTimeLimit, lambda k: 6 <= k < 9)
    res = sr.verify(NET, prop, samples=0, method="tree")
    assert res.verdict is sr.Verdict.UNKNOWN and "undecided" in res.note
    # bab with failing LPs (its walks and region searches) never answers wrong
    assert sr.verify(NET, prop, samples=0).verdict in (sr.Verdict.UNSAT, sr.Verdict.UNKNOWN)


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
