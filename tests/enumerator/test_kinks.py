"""Networks with other kinks than ReLU: leaky units, units with no kink, max groups (``docs/design.md`` section 1).

Oracles: polygon splitting that reads the kinks as plain arrays (no code of
the package's), dense sampling with the network's own forward pass, exact
forms against exact forward passes, the MILP count, and the shallow network.
"""

from fractions import Fraction

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.network import Kinks
from shallowrelu.polytope.exact import ExactNetwork
from shallowrelu.testing.nets import kinked_net, random_net
from shallowrelu.testing.oracles import polygon_regions
from tests.helpers import SQUARE


def _volumes(cat) -> dict[tuple, float]:
    return {tuple(int(b) for b in p): v for p, v in zip(cat.patterns(), cat.volumes())}


@pytest.mark.parametrize("seed", range(8))
def test_2d_regions_and_areas_match_polygon_splitting(seed):
    net = kinked_net([2, 6, 5, 2], seed=seed)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    oracle = polygon_regions(net.layers, SQUARE, kinks=net.kinks)
    mine = _volumes(cat)
    assert set(mine) == set(oracle)
    for pattern, area in oracle.items():
        assert mine[pattern] == pytest.approx(area, rel=1e-7, abs=1e-12)
    assert cat.info["complete"]


@pytest.mark.parametrize("n,sizes,bounded", [(3, [3, 6, 5, 2], True), (6, [6, 5, 4, 2], True),
                                             (2, [2, 6, 5, 2], False), (3, [3, 5, 4, 2], False)])
@pytest.mark.parametrize("seed", [0, 1])
def test_sampled_patterns_are_catalogued_with_their_maps(n, sizes, bounded, seed, rng):
    net = kinked_net(sizes, seed=seed)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1) if bounded else None)
    X = rng.uniform(-1, 1, (8000, n)) if bounded else 3 * rng.normal(size=(8000, n))
    found = cat.region_of(X)
    assert np.all(found >= 0)
    np.testing.assert_array_equal(cat.patterns()[found], net.patterns(X))
    Y = np.einsum("kmn,kn->km", cat.table.A[found], X) + cat.table.d[found]
    np.testing.assert_allclose(Y, net(X), atol=1e-9)
    assert cat.info["complete"]


def test_a_unit_without_kink_adds_no_hyperplane():
    # y = relu(w . x) + (u . x): carrying u . x past the layer must not cut the plane along u . x = 0
    W = np.array([[1.0, 0.5], [0.3, -1.0]])
    net = sr.ReLUNetwork([(W, np.array([0.1, 0.2])), (np.ones((1, 2)), np.zeros(1))],
                         kinks=[Kinks(np.array([0.0, 1.0]), np.array([-1, -1]))])
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert len(cat) == 2  # the ReLU's line alone splits the square
    assert {n for r in cat for n in r.neurons if n != "domain"} == {(1, 0)}


def test_a_max_group_of_three_has_three_regions_not_the_tournaments_six():
    # max(z1, z2, z3) of three lines through one point: three wedges, each where one member is largest
    angles = np.array([0.0, 2.1, 4.2])
    W = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    net = sr.ReLUNetwork([(W, np.zeros(3)), (np.ones((1, 3)), np.zeros(1))],
                         kinks=[Kinks(np.zeros(3), np.zeros(3, dtype=int))])
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert len(cat) == 3 and cat.info["complete"]
    assert sorted(tuple(p) for p in cat.patterns().astype(int)) == [(0, 0, 1), (0, 1, 0), (1, 0, 0)]


def test_leaky_units_cut_where_relus_do():
    net = random_net([2, 7, 6, 1], seed=8)
    leaky = sr.ReLUNetwork(net.layers, kinks=[Kinks(np.full(7, 0.1), np.full(7, -1)),
                                              Kinks(np.full(6, -0.3), np.full(6, -1))])
    relu, kinked = sr.enumerate_regions(net, sr.Box(-1, 1)), sr.enumerate_regions(leaky, sr.Box(-1, 1))
    # the first layer's lines are the same; deeper, the bent lines follow other maps
    assert set(map(tuple, relu.patterns()[:, :7].astype(int))) == set(map(tuple, kinked.patterns()[:, :7].astype(int)))
    X = np.random.default_rng(3).uniform(-1, 1, (3000, 2))
    found = kinked.region_of(X)
    np.testing.assert_allclose(np.einsum("kmn,kn->km", kinked.table.A[found], X) + kinked.table.d[found], leaky(X),
                               atol=1e-12)
    assert kinked.info["complete"]


def test_duplicate_members_tie_to_the_first():
    # members 0 and 1 are the same function: member 1 never wins, and no sliver is left between them
    W = np.array([[1.0, 0.2], [1.0, 0.2], [-0.5, 1.0]])
    net = sr.ReLUNetwork([(W, np.zeros(3)), (np.ones((1, 3)), np.zeros(1))],
                         kinks=[Kinks(np.zeros(3), np.zeros(3, dtype=int))])
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert len(cat) == 2 and not cat.patterns()[:, 1].any()
    assert cat.info["complete"]


@pytest.mark.parametrize("seed", range(4))
def test_exact_forms_equal_an_exact_forward_pass(seed, rng):
    net = kinked_net([3, 5, 4, 2], seed=seed)
    x = rng.uniform(-1, 1, 3)
    pattern = net.patterns(x[None])[0]
    forms = ExactNetwork(net).forms(pattern, len(net.layers) - 1)
    exact_x = [Fraction(float(v)) for v in x]
    h = exact_x
    for l, (f, (W, b)) in enumerate(zip(forms, net.layers[:-1])):
        z = [sum((Fraction(float(w)) * hv for w, hv in zip(row, h)), Fraction(float(bias))) for row, bias in zip(W, b)]
        from_forms = [(sum(Fraction(int(a)) * xv for a, xv in zip(row, exact_x)) + Fraction(int(c))) / f.D
                      for row, c in zip(f.M, f.v)]
        assert z == from_forms
        bits = pattern[sum(net.hidden_sizes[:l]):sum(net.hidden_sizes[:l + 1])]
        k = net.kinks_of(l)
        slope = [Fraction(0)] * len(z) if k is None else [Fraction(float(s)) for s in k.slope]
        h = [zv if bit else s * zv for zv, bit, s in zip(z, bits, slope)]


@pytest.mark.parametrize("seed", range(3))
def test_milp_counts_the_same_regions(seed):
    net = kinked_net([2, 5, 4, 2], seed=seed)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    count = sr.count_patterns(net, sr.Box(-1, 1))
    assert {p.tobytes() for p in cat.patterns()} == {p.tobytes() for p in count.patterns}


@pytest.mark.parametrize("mode", ["faces", "cells"])
@pytest.mark.parametrize("sizes,bounded", [([2, 6, 5, 2], True), ([3, 5, 4, 2], True), ([2, 6, 5, 2], False)])
def test_the_shallow_network_equals_the_deep_one(sizes, bounded, mode):
    net = kinked_net(sizes, seed=len(sizes) + int(bounded))
    cat = sr.enumerate_regions(net, sr.Box(-1, 1) if bounded else None)
    report = sr.check_equivalence(net, sr.build_shallow(cat, mode=mode), cat)
    assert report.passed, report
