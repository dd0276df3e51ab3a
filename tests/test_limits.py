"""Deadlines, stop signals and the memory budget inside solver calls, with real signals and real limits.

No test here depends on how fast the machine is: each bound is many times
what the work takes, and far below what it took before the limits reached
into the solver (an LP in 785 dimensions runs for about 20 s).
"""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu import limits
from shallowrelu.builder import choose_mode, estimate_faces
from shallowrelu.builder.faces import grown_box
from shallowrelu.milp import count_patterns
from shallowrelu.polytope.lp import solve_lp
from shallowrelu.polytope.vertices import vertex_bound, vertices
from shallowrelu.testing.nets import random_net


def _long_lp(n: int = 785, m: int = 1800):
    """An LP that HiGHS needs about 20 s for: random rows in 785 dimensions, a box around it."""
    rng = np.random.default_rng(0)
    A = np.vstack([rng.standard_normal((m, n)), np.eye(n), -np.eye(n)])
    b = np.concatenate([rng.random(m) + 1.0, np.ones(2 * n)])
    return rng.standard_normal(n), A, b


def _signal_in(seconds: float, sig: int) -> threading.Timer:
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), sig))
    timer.start()
    return timer


@pytest.mark.parametrize("sig, reason", [(signal.SIGTERM, "terminated"), (signal.SIGINT, "interrupted")])
def test_a_signal_stops_a_long_lp_at_once(sig, reason):
    cost, A, b = _long_lp()
    with limits.stop_signals():
        _signal_in(0.5, sig)
        start = time.monotonic()
        with pytest.raises(limits.Stopped):
            solve_lp(cost, A, b)
        assert time.monotonic() - start < 5.0
        assert limits.stop_reason() == reason
    # the handlers are back: the LP guard leaves nothing behind
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_deadline_ends_a_long_lp():
    cost, A, b = _long_lp()
    start = time.monotonic()
    with limits.deadline(time.time() + 0.5), pytest.raises(limits.OutOfTime):
        solve_lp(cost, A, b)
    assert time.monotonic() - start < 5.0
    assert limits.time_left() == np.inf


def test_nested_deadlines_keep_the_earliest():
    soon = time.time() + 10
    with limits.deadline(soon), limits.deadline(soon + 100):
        assert limits.time_left() <= 10
    with limits.deadline(time.time() - 1), pytest.raises(limits.OutOfTime):
        limits.check_time()


def test_a_time_limit_stops_the_work_like_ctrl_c():
    cost, A, b = _long_lp()
    start = time.monotonic()
    with limits.stop_signals(), pytest.raises(KeyboardInterrupt):
        with limits.time_limit(0.5):
            solve_lp(cost, A, b)
    assert time.monotonic() - start < 5.0
    assert limits.stop_reason() == "time limit"


def test_a_signal_stops_a_milp_count():
    net = random_net([6, 40, 40, 1], seed=0)  # thousands of patterns: minutes of MILPs
    with limits.stop_signals():
        _signal_in(1.0, signal.SIGINT)
        start = time.monotonic()
        with pytest.raises(limits.Stopped):
            count_patterns(net, sr.Box(-1, 1))
        assert time.monotonic() - start < 10.0


def test_a_small_lp_runs_unguarded_and_still_answers_under_a_deadline():
    with limits.deadline(time.time() + 60):
        res = solve_lp(np.array([1.0, 1.0]), -np.eye(2), np.zeros(2))
    assert res.feasible and res.value == pytest.approx(0.0)


def test_memory_budget_reads_an_address_space_limit():
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
            "from shallowrelu import limits\n"
            "b = limits.memory_budget(); assert 0 < b < 3 << 30, b\n"
            "try:\n    limits.check_memory(4 << 30, 'the test array')\n"
            "except limits.MemoryBudgetError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "the test array needs about 4.0 GiB" in proc.stdout and "memory available" in proc.stdout


def test_a_set_budget_refuses_and_names_the_work():
    cat = sr.enumerate_regions(random_net([3, 12, 12, 1], seed=0), sr.Box(-1, 1))
    assert choose_mode(cat)[0] == "faces"
    limits.set_memory_budget(2**20)
    try:
        with pytest.raises(limits.MemoryBudgetError, match=r"faces mode .* needs about .* budget is 1 MiB"):
            choose_mode(cat, "faces")
        assert choose_mode(cat)[0] == "cells"
    finally:
        limits.set_memory_budget(None)


@pytest.mark.parametrize("d, m", [(2, 7), (3, 9), (4, 8), (13, 26)])
def test_vertex_bound_is_the_upper_bound_theorem(d, m):
    # d = 2: a polygon has as many vertices as edges; d = 3: 2m - 4 (simple polytopes reach it)
    expected = {2: m, 3: 2 * m - 4}.get(d)
    if expected is not None:
        assert vertex_bound(m, d) == expected
    if d <= 4:  # a random polytope with m facets never has more
        rng = np.random.default_rng(d)
        for _ in range(20):
            G = rng.standard_normal((m, d))
            G /= np.linalg.norm(G, axis=1, keepdims=True)
            try:
                V = vertices(G, -np.ones(m), np.zeros(d))
            except Exception:  # noqa: BLE001 - an unbounded draw
                continue
            if np.all(np.isfinite(V)):
                assert len(np.unique(V.round(9), axis=0)) <= vertex_bound(m, d)
    else:
        assert vertex_bound(m, d) >= 2**d  # the 13-cube has 2^13 vertices and 26 facets


def _one_region_cube(d: int) -> sr.Catalogue:
    """The cube [-1, 1]^d as the single region of a network whose units are all active there."""
    net = sr.ReLUNetwork([(np.eye(d), np.full(d, 10.0)), (np.ones((1, d)), np.zeros(1))])
    return sr.enumerate_regions(net, sr.Box(-1, 1))


def test_the_face_estimate_of_a_cube_is_three_to_the_d():
    # every face of the cube: each coordinate at -1, at 1 or free
    assert estimate_faces(_one_region_cube(4)).faces == 3**4


def test_thirteen_dimensions_choose_cells_and_refuse_explicit_faces():
    cat = _one_region_cube(13)  # 1.6 million faces: the build grew past 17 GB before
    start = time.monotonic()
    assert not np.isfinite(estimate_faces(cat).faces)
    mode, why = choose_mode(cat)
    assert mode == "cells" and "cells mode chosen" in why
    with pytest.raises(limits.MemoryBudgetError, match="too many faces to count"):
        choose_mode(cat, "faces")
    assert time.monotonic() - start < 5.0
    shallow = sr.build_shallow(cat)
    assert shallow.mode == "cells"
    X = np.random.default_rng(0).uniform(-1, 1, (200, 13))
    assert np.allclose(shallow(X), cat.network(X), atol=1e-9)


def test_cell_boxes_from_lps_equal_those_from_vertices(monkeypatch):
    import shallowrelu.builder.faces as faces

    rng = np.random.default_rng(3)
    G = rng.standard_normal((9, 3))
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    g = -rng.random(9) - 0.5
    fixed = np.zeros(9, dtype=bool)
    by_vertices = grown_box(G, g, np.zeros(3), 1e-9, fixed)
    monkeypatch.setattr(faces, "QHULL_VERTICES", 0)
    by_lps = grown_box(G, g, np.zeros(3), 1e-9, fixed)
    assert np.all(np.isfinite(by_lps)) == np.all(np.isfinite(by_vertices))
    assert np.allclose(by_lps, by_vertices, atol=1e-7)


def test_a_high_dimensional_cells_network_passes_the_check():
    net = random_net([13, 16, 16, 3], seed=0)
    cat = sr.enumerate_regions(net, sr.Box(-0.02, 0.02))
    assert len(cat) > 5
    shallow = sr.build_shallow(cat)
    assert shallow.mode == "cells"
    report = sr.check_equivalence(net, shallow, cat)  # the deep network's forward pass is the oracle
    assert report.passed and report.counts["vertex"] > 0


def test_convert_estimates_the_face_lattice_once(monkeypatch):
    from shallowrelu.builder import estimate

    cat = sr.enumerate_regions(random_net([3, 8, 8, 1], seed=2), sr.Box(-1, 1))
    counted = []
    real = estimate._estimate
    monkeypatch.setattr(estimate, "_estimate", lambda *a: counted.append(1) or real(*a))
    mode, _ = choose_mode(cat)  # as convert does, before building in the mode it chose
    sr.build_shallow(cat, mode=mode)
    assert mode == "faces" and len(counted) == 1
    other = sr.Catalogue(cat.network, cat.hull, cat.table, dict(cat.info))  # another catalogue: counted anew
    choose_mode(other)
    assert len(counted) == 2
