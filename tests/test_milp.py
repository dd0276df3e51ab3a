"""The MILP engine: an independent second exact method, checked against the tree search."""

import json
import subprocess
import sys

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.bounds import interval_bounds, layer_bounds
from shallowrelu.milp import build_milp
from shallowrelu.polytope.vertices import vertices
from shallowrelu.testing.nets import degenerate_nets, random_net


def same_patterns(cat, count):
    return {p.tobytes() for p in cat.patterns()} == {p.tobytes() for p in count.patterns}


@pytest.mark.parametrize("sizes,seed", [([1, 5, 5, 1], 0), ([2, 6, 4, 1], 1), ([3, 5, 4, 1], 2),
                                        ([4, 4, 3, 1], 3), ([2, 3, 3, 3, 1], 4)])
def test_milp_counts_equal_the_tree_search(sizes, seed):
    net = random_net(sizes, seed=seed)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    count = sr.count_patterns(net, sr.Box(-1, 1))
    assert count.status == "complete" and count.count == len(cat)
    assert same_patterns(cat, count)
    # every MILP interior point really has its pattern
    np.testing.assert_array_equal(net.patterns(count.points), count.patterns)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["duplicate", "scaled_duplicate", "dead_and_always_active", "zero_rows",
                                  "parallel", "concurrent", "bent_copies"])
def test_milp_counts_equal_the_tree_search_on_degenerate_nets(name):
    net = degenerate_nets()[name]
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    count = sr.count_patterns(net, sr.Box(-1, 1))
    assert count.count == len(cat) and same_patterns(cat, count)


def test_output_extrema_equal_the_catalogue_and_beat_any_sample(rng):
    net = random_net([2, 8, 6, 2], seed=5)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    V = np.vstack([vertices(cat.table.facet_G[cat.facet_rows(i)], cat.table.facet_g[cat.facet_rows(i)],
                                        cat.table.interior[i]) for i in range(len(cat))])
    X = rng.uniform(-1, 1, size=(50_000, 2))
    for j in range(2):
        b = sr.output_bounds(net, sr.Box(-1, 1), j)
        Yv = net(V)[:, j]  # an affine piece attains its extremes at vertices
        assert b.min == pytest.approx(Yv.min(), abs=1e-7) and b.max == pytest.approx(Yv.max(), abs=1e-7)
        assert net(b.argmin[None])[0, j] == pytest.approx(b.min) and net(b.argmax[None])[0, j] == pytest.approx(b.max)
        Ys = net(X)[:, j]
        assert Ys.min() >= b.min - 1e-9 and Ys.max() <= b.max + 1e-9


@pytest.mark.parametrize("rows", [1, 2])
def test_least_violation_of_a_disjunction_equals_the_catalogue_minimum(rows):
    # parts "y_j - y_0 >= -0.1" for j = 1, 2, 3 (and with rows=2 also "y_j >= -1"): the least over the parts
    # of each one's largest violation is a piecewise-linear function, least at a vertex of some region
    from shallowrelu.milp import least_violation

    net = random_net([2, 8, 6, 4], seed=9)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    V = np.vstack([vertices(cat.table.facet_G[cat.facet_rows(i)], cat.table.facet_g[cat.facet_rows(i)],
                            cat.table.interior[i]) for i in range(len(cat))])
    parts = []
    for j in (1, 2, 3):
        C = np.zeros((rows, 4))
        C[0, 0], C[0, j] = 1.0, -1.0
        if rows == 2:
            C[1, j] = -1.0
        parts.append((C, np.full(rows, 0.1)))
    Y = net(V)
    exact = np.min([np.max(Y @ C.T - e, axis=1) for C, e in parts], axis=0).min()
    lo, hi = -np.ones(2), np.ones(2)
    found = least_violation(net, lo, hi, parts, cutoff=1e6)
    assert found.status == "optimal" and found.value == pytest.approx(exact, abs=1e-6)
    x = found.x[None]
    assert min(np.max(net(x) @ C.T - e) for C, e in parts) == pytest.approx(exact, abs=1e-6)
    # a cutoff a hair below the minimum: infeasible, the proof that every part is violated everywhere
    assert least_violation(net, lo, hi, parts, cutoff=exact - 1e-4).value == np.inf


def test_big_m_comes_from_sound_bounds(rng):
    net = random_net([3, 6, 5, 1], seed=6)
    lo, hi = -np.ones(3), np.ones(3)
    model = build_milp(net, lo, hi, np.zeros((0, 3)), np.zeros(0))
    assert len(model.bounds) == 2
    X = rng.uniform(-1, 1, size=(20_000, 3))
    for (L, U), Z in zip(model.bounds, net.preactivations(X)):
        assert np.all(Z >= L - 1e-12) and np.all(Z <= U + 1e-12)
    # the model takes its bounds from the bounds module, no constant of its own,
    # and they are never looser than plain interval arithmetic
    for (L, U), (L2, U2), (L3, U3) in zip(model.bounds, layer_bounds(net, lo, hi), interval_bounds(net, lo, hi)):
        np.testing.assert_array_equal(L, L2)
        np.testing.assert_array_equal(U, U2)
        assert np.all(L >= L3) and np.all(U <= U3)


def test_formulation_is_exact_when_the_bounds_are_tight():
    # one hidden layer over a box: interval bounds are exact, y = relu(x1 + x2) - relu(x1 - x2)
    net = sr.ReLUNetwork([(np.array([[1.0, 1.0], [1.0, -1.0]]), np.zeros(2)), (np.array([[1.0, -1.0]]), np.zeros(1))])
    b = sr.output_bounds(net, sr.Box(-1, 1), 0)
    assert b.min == pytest.approx(-2.0) and b.max == pytest.approx(2.0)


def test_timeout_gives_no_answer():
    net = random_net([2, 16, 16, 1], seed=7)
    count = sr.count_patterns(net, sr.Box(-1, 1), time_limit=0.5)
    assert count.status == "timeout"
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert count.count < len(cat)
    assert {p.tobytes() for p in count.patterns} <= {p.tobytes() for p in cat.patterns()}


def test_unbounded_domain_is_refused():
    with pytest.raises(sr.DomainError, match="bounded"):
        sr.output_bounds(random_net([2, 3, 1]), None, 0)


def test_cli_bounds_and_milp_count(tmp_path):
    net = random_net([2, 5, 4, 2], seed=8)
    sr.save_network(net, tmp_path / "n.npz")
    run = [sys.executable, "-m", "shallowrelu"]
    proc = subprocess.run(run + ["bounds", str(tmp_path / "n.npz"), "--box=-1,1", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)["bounds"]
    assert [b["status"] for b in found] == ["optimal", "optimal"]
    proc = subprocess.run(run + ["enumerate", str(tmp_path / "n.npz"), "--box=-1,1", "--method", "milp", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["regions"] == len(sr.enumerate_regions(net, sr.Box(-1, 1))) and data["status"] == "complete"
