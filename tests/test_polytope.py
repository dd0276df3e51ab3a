"""The vertex geometry the search carries and the certificate's volumes, against qhull and HiGHS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

import shallowrelu as sr
from nets import fuzz_net
from shallowrelu.polytope import kernels, normalise_rows
from shallowrelu.polytope.leaves import regions_by_vertices
from shallowrelu.polytope.lp import chebyshev_ball
from shallowrelu.polytope.vertices import cut_vertices, distinct_vertices, inradius_bounds, split_vertices, vertices
from shallowrelu.polytope.volume import volume, volumes_by_facets
from shallowrelu.tolerances import DEFAULT_TOLERANCES


@pytest.fixture(params=["compiled", "numpy"])
def path(request, monkeypatch):
    """Run a test with the numba kernels and again with the numpy code they stand in for."""
    monkeypatch.setattr(kernels, "_NUMBA", request.param == "compiled")
    return request.param


def _same_points(P: np.ndarray, Q: np.ndarray, tol: float = 1e-9) -> bool:
    P, Q = distinct_vertices(P), distinct_vertices(Q)
    if len(P) != len(Q):
        return False
    return bool(np.abs(P[:, None, :] - Q[None, :, :]).max(axis=2).min(axis=1).max() <= tol)


def _random_polytope(rng, n: int, k: int):
    """``k`` random unit rows around the origin, inside the box [-1, 1]^n."""
    G = rng.normal(size=(k, n))
    G = np.vstack([G / np.linalg.norm(G, axis=1, keepdims=True), np.eye(n), -np.eye(n)])
    g = np.concatenate([-rng.uniform(0.2, 1.0, k), -np.ones(2 * n)])
    return G, g


def _check_cut(G, g, a, c):
    V = distinct_vertices(vertices(G, g, chebyshev_ball(G, g, 10.0).x))
    minus, plus = cut_vertices(V, G, g, V @ a + c)
    for side, got in ((1.0, minus), (-1.0, plus)):
        Gs, gs = np.vstack([G, side * a]), np.append(g, side * c)
        ball = chebyshev_ball(Gs, gs, 10.0)
        if ball.value <= 1e-6:  # the cut misses this side (or only touches it)
            continue
        assert _same_points(got, vertices(Gs, gs, ball.x))


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_cut_vertices_match_qhull_on_random_polytopes(n, path):
    rng = np.random.default_rng(n)
    for _ in range(40):
        G, g = _random_polytope(rng, n, int(rng.integers(1, 3 * n)))
        a = rng.normal(size=n)
        a /= np.linalg.norm(a)
        _check_cut(G, g, a, float(rng.uniform(-0.5, 0.5)))


def test_cut_vertices_through_vertices_and_edges_of_a_cube(path):
    """Degenerate cuts: through a corner, on a diagonal plane with four vertices, along an edge, near a corner."""
    G, g = normalise_rows(np.vstack([np.eye(3), -np.eye(3)]), -np.ones(6))
    for a, c in [((1, 1, 1), -1), ((1, -1, 0), 0), ((1, 1, 0), 0), ((1, 1, 0), -2 + 1e-3), ((1, 1, 1), -3 + 1e-2)]:
        scale = np.linalg.norm(a)
        _check_cut(G, g, np.array(a) / scale, c / scale)


def test_cut_vertices_of_a_pyramid_whose_apex_is_on_four_facets(path):
    G = np.array([[0, 0, -1.0], [1, 0, 1], [-1, 0, 1], [0, 1, 1], [0, -1, 1]])
    G, g = normalise_rows(G, np.array([0.0, -1, -1, -1, -1]))
    V = distinct_vertices(vertices(G, g, np.array([0.0, 0.0, 0.3])))
    assert len(V) == 5  # qhull lists the apex once per facet of its dual; one copy kept
    for z in (0.25, 0.5, 0.999):
        _check_cut(G, g, np.array([0.0, 0.0, 1.0]), -z)
    _check_cut(G, g, np.array([1.0, 0.0, 0.0]), 0.0)  # through the apex and the middle of two base edges
    _check_cut(G, g, np.array([1.0, 1.0, 0.0]) / np.sqrt(2), 0.0)  # through the apex and two base corners


def test_inradius_bounds_hold_the_chebyshev_radius():
    rng = np.random.default_rng(7)
    for n in (2, 3, 4):
        for _ in range(30):
            G, g = _random_polytope(rng, n, int(rng.integers(1, 3 * n)))
            ball = chebyshev_ball(G, g, 10.0)
            low, high, centre = inradius_bounds(vertices(G, g, ball.x), G, g)
            assert low <= ball.value + 1e-12 <= high + 2e-12
            assert -(G @ centre + g).min() >= low - 1e-12  # a ball of radius low fits at the centre


def test_cut_vertices_rejects_vertices_that_share_rows_but_no_edge(path):
    """A redundant row tight on a whole 2-face of a 4-cube: opposite corners of that face share n - 1 rows."""
    G = np.vstack([np.eye(4), -np.eye(4), [[1.0, 1.0, 0.0, 0.0]]])
    G, g = normalise_rows(G, np.concatenate([-np.ones(8), [-2.0]]))
    V = distinct_vertices(vertices(G, g, np.zeros(4)))
    assert len(V) == 16
    minus, plus = cut_vertices(V, G, g, V @ (np.array([0.0, 0.0, 1.0, 1.0]) / np.sqrt(2)))
    for side, got in ((1.0, minus), (-1.0, plus)):
        a = side * np.array([0.0, 0.0, 1.0, 1.0]) / np.sqrt(2)
        assert _same_points(got, vertices(np.vstack([G, a]), np.append(g, 0.0), -0.3 * a))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_facets_by_vertices_against_lps(n, path):
    """Facets from the vertices against one LP per row: how far inside the others its hyperplane reaches.
    All polytopes in one batch, so that their different row and vertex counts are padded together."""
    rng = np.random.default_rng(10 + n)
    polytopes = []
    for _ in range(20):
        G, g = _random_polytope(rng, n, int(rng.integers(1, 3 * n)))
        G, g = np.vstack([G, G[:2]]), np.append(g, g[:2] - 0.05)  # two redundant rows, parallel to facets
        polytopes.append((G, g, distinct_vertices(vertices(G, g, chebyshev_ball(G, g, 10.0).x))))
    found = regions_by_vertices(*zip(*polytopes), DEFAULT_TOLERANCES)
    for (G, g, _), ((facet, point, margin), _) in zip(polytopes, found):
        assert facet.shape == g.shape
        for r in range(len(g)):
            others = np.delete(np.arange(len(g)), r)
            # maximise the distance to the other rows over the hyperplane of row r
            reach = linprog(np.append(np.zeros(n), -1.0), A_ub=np.hstack([G[others], np.ones((len(others), 1))]),
                            b_ub=-g[others], A_eq=np.append(G[r], 0.0)[None], b_eq=-g[r:r + 1],
                            bounds=[(None, None)] * n + [(None, 10.0)], method="highs")
            depth = -reach.fun if reach.status == 0 else -np.inf
            assert facet[r] == (depth > 1e-7) or abs(depth) < 1e-6
            if facet[r]:
                assert abs(G[r] @ point[r] + g[r]) < 1e-9 and margin[r] > 0
                assert abs(margin[r] - (-(G[others] @ point[r] + g[others])).min()) < 1e-12
        assert not facet[-2:].any()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_ball_from_vertices_matches_highs(n, path):
    """The leaf's ball without an LP solver: facet subsets in 1-D/2-D (one batch), the compiled method from 3-D."""
    rng = np.random.default_rng(20 + n)
    polytopes = []
    for _ in range(50):
        G, g = _random_polytope(rng, n, int(rng.integers(0, 4 * n)))
        ref = chebyshev_ball(G, g, 10.0)
        polytopes.append((G, g, distinct_vertices(vertices(G, g, ref.x)), ref))
    found = regions_by_vertices(*list(zip(*polytopes))[:3], DEFAULT_TOLERANCES)
    for (G, g, _, ref), ((facet, _, _), got) in zip(polytopes, found):
        if n >= 3 and path == "numpy":
            assert got is None  # HiGHS's job without numba
            continue
        assert got is not None
        assert abs(got.value - ref.value) < 1e-9
        assert (G[facet] @ got.x + g[facet] + got.value).max() < 1e-9  # the ball fits


def test_a_region_without_vertices_is_left_to_highs():
    G, g = _random_polytope(np.random.default_rng(3), 2, 3)
    V = distinct_vertices(vertices(G, g, chebyshev_ball(G, g, 10.0).x))
    (none, ball), (exact, got) = regions_by_vertices([G, G], [g, g], [np.zeros((0, 2)), V], DEFAULT_TOLERANCES)
    assert none is None and ball is None
    assert exact[0].any() and got is not None


@pytest.mark.parametrize("n", [2, 3, 4])
def test_split_bounds_hold_each_side(n, path):
    rng = np.random.default_rng(30 + n)
    for _ in range(30):
        G, g = _random_polytope(rng, n, int(rng.integers(1, 3 * n)))
        V = distinct_vertices(vertices(G, g, chebyshev_ball(G, g, 10.0).x))
        a = rng.normal(size=n)
        a /= np.linalg.norm(a)
        c = float(rng.uniform(-0.5, 0.5))
        for side, (P, low, high, centre) in zip((1.0, -1.0), split_vertices(V, G, g, a, c, V @ a + c)):
            Gs, gs = np.vstack([G, side * a]), np.append(g, side * c)
            ball = chebyshev_ball(Gs, gs, 10.0)
            if ball.value <= 1e-6:
                assert high <= 1e-6
                continue
            assert _same_points(P, vertices(Gs, gs, ball.x))
            assert low <= ball.value + 1e-12 <= high + 2e-12
            assert -(Gs @ centre + gs).min() >= low - 1e-12


def _facet_tables(polytopes):
    """Facets (irredundant, as a catalogue stores them) of each polytope, stacked with their pointers."""
    Gs, gs, ptr, inside = [], [], [0], []
    for G, g in polytopes:
        ball = chebyshev_ball(G, g, 10.0)
        ((facet, _, _), _), = regions_by_vertices([G], [g], [distinct_vertices(vertices(G, g, ball.x))],
                                                  DEFAULT_TOLERANCES)
        Gs.append(G[facet])
        gs.append(g[facet])
        ptr.append(ptr[-1] + int(facet.sum()))
        inside.append(ball.x)
    return np.vstack(Gs), np.concatenate(gs), np.array(ptr), np.array(inside)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_volumes_by_facets_match_qhull(n):
    rng = np.random.default_rng(40 + n)
    polys = [_random_polytope(rng, n, int(rng.integers(1, 4 * n))) for _ in range(60)]
    G, g, ptr, inside = _facet_tables(polys)
    got = volumes_by_facets(G, g, ptr, inside)
    for i, (Gi, gi) in enumerate(polys):
        assert got[i] == pytest.approx(volume(Gi, gi, inside[i]), rel=1e-9)


def test_volumes_by_facets_of_degenerate_vertices():
    """A pyramid whose apex is on four facets (four copies of it among the triples) and a cube."""
    pyramid = normalise_rows(np.array([[0, 0, -1.0], [1, 0, 1], [-1, 0, 1], [0, 1, 1], [0, -1, 1]]),
                             np.array([0.0, -1, -1, -1, -1]))
    cube = normalise_rows(np.vstack([np.eye(3), -np.eye(3)]), -np.ones(6))
    G, g, ptr, inside = _facet_tables([pyramid, cube])
    np.testing.assert_allclose(volumes_by_facets(G, g, ptr, inside), [4 / 3, 8.0], rtol=1e-12)


def test_volumes_by_facets_of_a_region_with_two_nearly_parallel_facets():
    """Fuzz net 484 (3-D): a region bounded by two rows 1e-5 apart in offset and almost parallel; their
    crossing lies far outside, and must not loosen the vertex test of the region's true vertices."""
    cat = sr.enumerate_regions(fuzz_net(484, 3, depth=2), sr.Box(-1, 1))
    t = cat.table
    got = volumes_by_facets(t.facet_G, t.facet_g, t.facet_ptr, t.interior)
    for i in range(len(cat)):
        rows = cat.facet_rows(i)
        assert got[i] == pytest.approx(volume(t.facet_G[rows], t.facet_g[rows], t.interior[i]), rel=1e-7)
    assert cat.certificate().volume_ok
