"""HiGHS statuses other than optimal/infeasible, forced: retried, and reported as unresolved, never guessed."""

import highspy
import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu import cli
from shallowrelu.testing.nets import random_net
from tests.helpers import FlakyHighs

# kUnknown is what HiGHS reports for numerical trouble.
FAULTS = [highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kIterationLimit,
          highspy.HighsModelStatus.kUnknown, highspy.HighsModelStatus.kUnbounded,
          highspy.HighsModelStatus.kSolveError]


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


def test_cli_exits_3_and_names_the_unresolved_chunks(flaky, tmp_path, capsys):
    sr.save_network(NET3, tmp_path / "n.npz")
    flaky(highspy.HighsModelStatus.kUnknown, lambda k: 10 <= k < 13)
    code = cli.main(["enumerate", str(tmp_path / "n.npz"), "--jobs", "1", "-o", str(tmp_path / "c.npz")])
    err = capsys.readouterr().err
    assert code == 3 and "1 chunks unresolved" in err and "incomplete" in err
    assert not sr.Catalogue.load(tmp_path / "c.npz").info["complete"]


def test_verify_says_unknown_when_a_chunk_is_unresolved(flaky):
    # the property holds (the output never reaches 100); with a chunk unresolved it cannot be proved
    prop = sr.parse_vnnlib("(declare-const X_0 Real) (declare-const X_1 Real) (declare-const Y_0 Real) "
                           "(assert (>= X_0 -1)) (assert (<= X_0 1)) (assert (>= X_1 -1)) (assert (<= X_1 1)) "
                           "(assert (>= Y_0 100))")
    assert sr.verify(NET, prop, samples=0, method="tree").verdict is sr.Verdict.UNSAT
    flaky(highspy.HighsModelStatus.kUnknown, lambda k: k >= 1)
    res = sr.verify(NET, prop, samples=0, method="tree")
    assert res.verdict is sr.Verdict.UNKNOWN
    # the input split closes the box by a bound, which needs no LP: still a proof
    assert sr.verify(NET, prop, samples=0).verdict is sr.Verdict.UNSAT


def test_verify_with_one_unresolved_chunk_is_unknown(flaky):
    # y_0 above a level and below it at once: no row alone is ruled out where y_0 crosses the level, so only
    # the regions' LPs show the rows never hold together
    out = sr.output_bounds(NET, sr.Box(-1, 1), 0)
    mid = (out.min + out.max) / 2
    prop = sr.parse_vnnlib("(declare-const X_0 Real) (declare-const X_1 Real) (declare-const Y_0 Real) "
                           "(assert (>= X_0 -1)) (assert (<= X_0 1)) (assert (>= X_1 -1)) (assert (<= X_1 1)) "
                           f"(assert (>= Y_0 {mid})) (assert (<= Y_0 {mid - 1e-3}))")
    exact = sr.verify(NET, prop, samples=0, method="tree")
    assert exact.verdict is sr.Verdict.UNSAT and exact.regions > 0
    flaky(highspy.HighsModelStatus.kTimeLimit, lambda k: 6 <= k < 9)
    res = sr.verify(NET, prop, samples=0, method="tree")
    assert res.verdict is sr.Verdict.UNKNOWN and "undecided" in res.note
    # bab with failing LPs (its walks and region searches) never answers wrong
    assert sr.verify(NET, prop, samples=0).verdict in (sr.Verdict.UNSAT, sr.Verdict.UNKNOWN)


