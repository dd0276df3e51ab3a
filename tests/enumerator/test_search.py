"""The enumerator against independent oracles (docs/design.md section 5)."""

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.enumerator import search
from shallowrelu.polytope import kernels
from shallowrelu.testing.nets import degenerate_nets, fuzz_net, random_net
from shallowrelu.testing.oracles import interval_regions, polygon_regions, zaslavsky

SQUARE = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


def catalogue_volumes(cat) -> dict[tuple, float]:
    return {tuple(int(b) for b in p): v for p, v in zip(cat.patterns(), cat.volumes())}


def assert_matches_oracle(cat, oracle: dict, rel=1e-7):
    mine = catalogue_volumes(cat)
    assert len(cat) == len(mine), "a pattern appears twice in the catalogue"
    assert set(mine) == set(oracle)
    for pattern, vol in oracle.items():
        assert mine[pattern] == pytest.approx(vol, rel=rel, abs=1e-12)


@pytest.mark.parametrize("n,m", [(1, 5), (2, 6), (3, 6), (4, 6)])
def test_one_layer_over_Rn_matches_zaslavsky(n, m):
    net = random_net([n, m, 1], seed=n, bias=0.5)
    cat = sr.enumerate_regions(net)
    assert len(cat) == zaslavsky(m, n)
    assert cat.info["complete"]
    assert not cat.info["bounded"]


@pytest.mark.parametrize("sizes,seed", [([2, 8, 1], 0), ([2, 10, 10, 2], 1), ([2, 6, 6, 6, 1], 2)])
def test_2d_counts_and_areas_match_polygon_splitting(sizes, seed):
    net = random_net(sizes, seed=seed)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    oracle = polygon_regions(net.layers, SQUARE)
    assert_matches_oracle(cat, oracle)
    assert sum(oracle.values()) == pytest.approx(4.0)
    assert cat.info["complete"] and cat.info["certificate"]["volume_checked"]


@pytest.mark.parametrize("name", sorted(degenerate_nets()))
def test_degenerate_nets_match_polygon_splitting(name):
    net = degenerate_nets()[name]
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert_matches_oracle(cat, polygon_regions(net.layers, SQUARE))
    assert cat.info["complete"]
    assert cat.info["thin"] == 0


@pytest.mark.parametrize("seed", range(4))
def test_1d_matches_interval_splitting(seed):
    net = random_net([1, 6, 6, 1], seed=seed, bias=0.5)
    cat = sr.enumerate_regions(net, sr.Box(-2, 2))
    assert_matches_oracle(cat, interval_regions(net.layers, -2.0, 2.0))


def test_polytope_domain_matches_polygon_splitting():
    net = random_net([2, 10, 6, 1], seed=3)
    tri = np.array([[-1.0, -0.5], [1.2, -0.8], [0.1, 1.1]])
    # rows P x <= p of the triangle, counter-clockwise
    edges = np.roll(tri, -1, axis=0) - tri
    P = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
    p = np.einsum("ij,ij->i", P, tri)
    cat = sr.enumerate_regions(net, sr.Polytope(P, p))
    assert_matches_oracle(cat, polygon_regions(net.layers, tri))


@pytest.mark.parametrize("sizes,box", [([3, 10, 8, 1], 1.0), ([4, 8, 8, 2], 1.0)])
def test_sampling_finds_no_pattern_outside_the_catalogue(sizes, box, rng):
    net = random_net(sizes, seed=len(sizes) + sizes[0])
    cat = sr.enumerate_regions(net, sr.Box(-box, box))
    X = rng.uniform(-box, box, size=(40_000, sizes[0]))
    P = net.patterns(X)
    catalogued = {p.tobytes() for p in cat.patterns()}
    assert {p.tobytes() for p in P} <= catalogued
    idx = cat.region_of(X)
    assert np.all(idx >= 0)
    assert np.array_equal(cat.patterns()[idx], P)
    Y = np.einsum("kmn,kn->km", cat.table.A[idx], X) + cat.table.d[idx]
    np.testing.assert_allclose(Y, net(X), atol=1e-10)
    assert cat.info["complete"]


def test_unbounded_regions_over_R2_hold_far_points(rng):
    net = random_net([2, 7, 5, 1], seed=11, bias=1.0)
    cat = sr.enumerate_regions(net)
    X = rng.normal(size=(5000, 2)) * 1e3
    idx = cat.region_of(X)
    assert np.array_equal(cat.patterns()[idx], net.patterns(X))
    # every unbounded region of the first layer's arrangement is met far out
    assert cat.info["complete"]


def test_region_far_from_origin_over_R2_is_found():
    # Two almost parallel lines meet at x = -1000; a region opens only beyond it.
    W1 = np.array([[0.0, 1.0], [1e-3, 1.0]])
    b1 = np.array([0.0, 1.0])
    net = sr.ReLUNetwork([(W1, b1), (np.ones((1, 2)), np.zeros(1))])
    cat = sr.enumerate_regions(net)
    assert len(cat) == zaslavsky(2, 2)
    far = np.array([[-2000.0, 0.5]])
    assert cat.region_of(far)[0] >= 0


def test_thin_region_is_kept_and_reported():
    # Two parallel hyperplanes 1e-8 apart: the slab between them is a real
    # region, thinner than min_inradius, so it is kept and reported as thin.
    W1 = np.array([[1.0, 0.0], [1.0, 0.0]])
    b1 = np.array([0.0, -1e-8])
    net = sr.ReLUNetwork([(W1, b1), (np.ones((1, 2)), np.zeros(1))])
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert len(cat) == 3
    assert cat.info["thin"] == 1
    assert cat.info["thin_min_radius"] == pytest.approx(5e-9, rel=1e-3)
    slab = cat.region_of(np.array([[5e-9, 0.3]]))[0]
    assert cat[slab].inradius == pytest.approx(5e-9, rel=1e-3)
    assert cat.info["complete"]
    assert cat.info["exact_decisions"] == 0  # floats decide a slab thicker than min_radius
    # thinner than min_radius, exact arithmetic decides it is a region
    net = sr.ReLUNetwork([(W1, np.array([0.0, -1e-12])), (np.ones((1, 2)), np.zeros(1))])
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert len(cat) == 3 and cat.info["exact_decisions"] > 0 and cat.info["complete"]
    # below float resolution it exists, is counted and not stored
    net = sr.ReLUNetwork([(W1, np.array([0.0, -1e-16])), (np.ones((1, 2)), np.zeros(1))])
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert len(cat) == 2 and cat.info["below_resolution"] == 1 and cat.info["complete"]


def test_network_without_hidden_layer_has_one_region():
    net = sr.ReLUNetwork([(np.array([[2.0, -1.0]]), np.array([0.5]))])
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert len(cat) == 1
    r = cat[0]
    np.testing.assert_allclose(r.A, [[2.0, -1.0]])
    assert r.pattern.shape == (0,)
    assert len(sr.enumerate_regions(net)) == 1


def test_flat_box_equals_enumeration_of_the_slice():
    net = random_net([3, 8, 6, 1], seed=5)
    cat = sr.enumerate_regions(net, sr.Box([-1, -1, 0.3], [1, 1, 0.3]))
    assert cat.dim == 2 and cat.hull.flat
    W, b = net.layers[0]
    sliced = sr.ReLUNetwork([(W[:, :2], b + 0.3 * W[:, 2])] + list(net.layers[1:]))
    assert_matches_oracle(cat, polygon_regions(sliced.layers, SQUARE))
    x_on = np.array([[0.1, -0.4, 0.3]])
    x_off = np.array([[0.1, -0.4, 0.5]])
    i = cat.region_of(x_on)[0]
    assert i >= 0 and cat.region_of(x_off)[0] == -1
    r = cat[i]
    np.testing.assert_allclose(r.A @ x_on[0] + r.d, net(x_on)[0], atol=1e-12)
    assert np.all(r.G @ x_on[0] + r.g <= 1e-12)


def test_flat_polytope_domain_is_reparametrised():
    net = random_net([2, 6, 1], seed=2)
    # the segment x0 = x1, -1 <= x0 <= 1, given by two opposite inequalities
    P = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    p = np.array([0.0, 0.0, 1.0, 1.0])
    cat = sr.enumerate_regions(net, sr.Polytope(P, p))
    assert cat.dim == 1
    W, b = net.layers[0]
    line = sr.ReLUNetwork([(W.sum(axis=1, keepdims=True), b)] + list(net.layers[1:]))
    assert len(cat) == len(interval_regions(line.layers, -1.0, 1.0))


def test_interior_points_and_facets_are_consistent():
    net = random_net([2, 8, 8, 1], seed=4)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    for r in cat:
        slack = r.G @ r.interior + r.g
        assert np.all(slack <= -r.inradius + 1e-9)
        assert r.inradius > 1e-7
        np.testing.assert_array_equal(net.patterns(r.interior[None])[0], r.pattern)
        assert len(r.neurons) == len(r.g)
        for nid in r.neurons:
            assert nid == "domain" or (1 <= nid[0] <= 2 and 0 <= nid[1] < 8)


def test_same_options_give_identical_catalogues():
    net = random_net([3, 8, 8, 1], seed=9)
    a = sr.enumerate_regions(net, sr.Box(-1, 1))
    b = sr.enumerate_regions(net, sr.Box(-1, 1))
    for field in ("patterns", "A", "facet_G", "facet_ptr", "interior", "inradius"):
        np.testing.assert_array_equal(getattr(a.table, field), getattr(b.table, field))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_leaves_recorded_in_batches_give_the_catalogue_of_one_at_a_time(monkeypatch, n):
    # batches of 7 cross the chunks' ends at odd places; padding must not reach any region's numbers
    net = random_net([n, 12, 12, 1], seed=8)
    whole = sr.enumerate_regions(net, sr.Box(-1, 1))
    for size in (1, 7):
        monkeypatch.setattr(search, "_LEAF_BATCH", size)
        other = sr.enumerate_regions(net, sr.Box(-1, 1))
        for field in ("patterns", "A", "d", "facet_G", "facet_g", "facet_ptr", "facet_index", "facet_point",
                      "facet_margin", "interior", "inradius"):
            np.testing.assert_array_equal(getattr(whole.table, field), getattr(other.table, field), err_msg=field)
        assert other.info["chunks"] == whole.info["chunks"] and other.info["lps"] == whole.info["lps"]


def test_sample_count_does_not_change_the_regions():
    # over all of R^3 (no vertices to carry) sampled points decide splits that would take LPs
    net = random_net([3, 8, 8, 1], seed=6)
    a = sr.enumerate_regions(net, samples=0)
    b = sr.enumerate_regions(net, samples=2000)
    assert {p.tobytes() for p in a.patterns()} == {p.tobytes() for p in b.patterns()}
    assert b.info["search_lps"] < a.info["search_lps"]


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("sizes", [[2, 10, 10, 1], [3, 8, 8, 1], [4, 6, 6, 1]])
def test_carried_vertices_need_no_search_lp_and_match_the_lp_path(monkeypatch, sizes, compiled):
    # the same net searched with vertices carried through the splits (with the
    # numba kernels or the numpy code) and by LPs alone
    net = random_net(sizes, seed=6)
    monkeypatch.setattr(kernels, "_NUMBA", compiled)
    carried = sr.enumerate_regions(net, sr.Box(-1, 1))
    monkeypatch.setattr(search, "_VERTEX_MAX_DIM", 0)
    lp = sr.enumerate_regions(net, sr.Box(-1, 1))
    # the root's LP, and one per region for its ball unless the plane or the compiled method finds it
    assert carried.info["lps"] == (1 if sizes[0] == 2 or compiled else len(carried) + 1)
    assert lp.info["lps"] > len(lp)
    np.testing.assert_array_equal(carried.table.patterns, lp.table.patterns)  # same regions, same order
    np.testing.assert_allclose(carried.table.inradius, lp.table.inradius, rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(carried.table.facet_ptr, lp.table.facet_ptr)
    np.testing.assert_array_equal(carried.table.facet_index, lp.table.facet_index)


def test_compiled_kernels_give_the_catalogue_of_the_numpy_code(monkeypatch):
    net = random_net([3, 8, 8, 1], seed=4)
    compiled = sr.enumerate_regions(net, sr.Box(-1, 1))
    monkeypatch.setattr(kernels, "_NUMBA", False)
    plain = sr.enumerate_regions(net, sr.Box(-1, 1))
    for field in ("patterns", "facet_ptr", "facet_layer", "facet_index"):
        np.testing.assert_array_equal(getattr(compiled.table, field), getattr(plain.table, field))
    for field in ("A", "d", "facet_G", "facet_g", "facet_point", "facet_margin", "inradius"):
        np.testing.assert_allclose(getattr(compiled.table, field), getattr(plain.table, field), rtol=1e-9,
                                   atol=1e-9)
    # The largest ball may slide (between parallel facets): each centre must hold it.
    moved = 0
    for i in range(len(compiled)):
        sl = compiled.facet_rows(i)
        G, g = compiled.table.facet_G[sl], compiled.table.facet_g[sl]
        assert -(G @ compiled.table.interior[i] + g).max() >= compiled.table.inradius[i] - 1e-9
        moved += not np.allclose(compiled.table.interior[i], plain.table.interior[i], atol=1e-9)
    assert moved < len(compiled) / 10


def test_the_compiled_ball_is_checked_again_from_its_tight_rows(monkeypatch):
    # fuzz net 7035: in regions about 3e-6 thin, rounding let the compiled
    # method pass its own optimality test with negative radii
    net = fuzz_net(7035, 5, depth=2)
    compiled = sr.enumerate_regions(net, sr.Box(-1, 1))
    monkeypatch.setattr(kernels, "_NUMBA", False)
    plain = sr.enumerate_regions(net, sr.Box(-1, 1))
    np.testing.assert_array_equal(compiled.table.patterns, plain.table.patterns)
    # to the LP solvers' own precision (HiGHS's feasibility tolerance is 1e-10)
    np.testing.assert_allclose(compiled.table.inradius, plain.table.inradius, rtol=1e-7, atol=1e-9)
    assert compiled.table.inradius.min() > 0


def test_empty_domain_is_an_error():
    net = random_net([2, 4, 1])
    with pytest.raises(sr.DomainError):
        sr.enumerate_regions(net, sr.Polytope(np.array([[1.0, 0], [-1.0, 0]]), np.array([-1.0, -1.0])))


@pytest.mark.parametrize("compiled", [True, False])
def test_nodes_past_the_vertex_limit_are_searched_by_lps_to_the_same_catalogue(monkeypatch, compiled):
    net = random_net([4, 8, 8, 1], seed=3)
    monkeypatch.setattr(kernels, "_NUMBA", compiled)
    carried = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert carried.info["vertices_dropped"] == 0
    monkeypatch.setattr(search, "NODE_VERTICES_MAX", 24)  # a 4-cube has 16: the first cuts pass it
    capped = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert capped.info["vertices_dropped"] > 0 and capped.info["lps"] > carried.info["lps"]
    np.testing.assert_array_equal(carried.table.patterns, capped.table.patterns)  # same regions, same order
    np.testing.assert_array_equal(carried.table.facet_ptr, capped.table.facet_ptr)
    np.testing.assert_array_equal(carried.table.facet_index, capped.table.facet_index)
    assert capped.info["complete"]


@pytest.mark.slow
def test_hyperplanes_through_one_point_of_a_5d_box_match_zaslavsky_within_a_small_budget():
    """Nine hyperplanes within 1e-9 of the origin: every region of the arrangement meets the box, so
    there are as many as over R^5, down to slivers of 1e-12. Their corners are finer than the vertices'
    rounding: carried through the cuts, such corners bred thousands of near-repeats (5 GB in one cut on
    ACAS Xu) and hid slivers between them. The search leaves them to LPs and exact arithmetic."""
    import resource

    rng = np.random.default_rng(0)  # carried through such corners, vertices missed three slivers of 1e-10
    W, b = rng.normal(size=(9, 5)), 1e-9 * rng.normal(size=9)
    net = sr.ReLUNetwork([(W, b), (rng.normal(size=(1, 9)), np.zeros(1))])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert len(cat) == zaslavsky(9, 5) and cat.info["complete"]
    assert cat.info["vertices_dropped"] > 0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB: under 200 MB more
