"""The vertex geometry the search carries and the certificate's volumes, against qhull and HiGHS."""

from __future__ import annotations

import numpy as np
import pytest

from shallowrelu.polytope import normalise_rows
from shallowrelu.polytope.lp import chebyshev_ball
from shallowrelu.polytope.vertices import (
    cut_vertices,
    distinct_vertices,
    inradius_bounds,
    split_vertices,
    vertices,
)
from tests.helpers import random_polytope


def _same_points(P: np.ndarray, Q: np.ndarray, tol: float = 1e-9) -> bool:
    P, Q = distinct_vertices(P), distinct_vertices(Q)
    if len(P) != len(Q):
        return False
    return bool(np.abs(P[:, None, :] - Q[None, :, :]).max(axis=2).min(axis=1).max() <= tol)


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
        G, g = random_polytope(rng, n, int(rng.integers(1, 3 * n)))
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
            G, g = random_polytope(rng, n, int(rng.integers(1, 3 * n)))
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


@pytest.mark.parametrize("n", [2, 3, 4])
def test_split_bounds_hold_each_side(n, path):
    rng = np.random.default_rng(30 + n)
    for _ in range(30):
        G, g = random_polytope(rng, n, int(rng.integers(1, 3 * n)))
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


def _wedge():
    """A tetrahedron with two edges from one corner 0.01 rad apart, and a cut 1e-8 past that corner:
    it crosses the two edges (and the two from the opposite corner) at points 1e-10 apart."""
    from scipy.spatial import ConvexHull

    V = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.01, 0.0], [0.0, 0.0, 1.0]])
    eq = ConvexHull(V).equations
    a, c = np.array([1.0, 0.0, 0.0]), -1e-8
    return V, eq[:, :3], eq[:, 3], a, c


def test_cut_gives_up_on_a_corner_finer_than_the_vertex_rounding(path):
    V, G, g, a, c = _wedge()
    minus, plus = cut_vertices(V, G, g, V @ a + c)  # the geometry builder keeps both points
    assert len(minus) == 2 + 4 and len(plus) == 2 + 4
    assert cut_vertices(V, G, g, V @ a + c, strict=True) is None
    assert split_vertices(V, G, g, a, c, V @ a + c) is None  # the search's split is strict
    # the same cut 1e-3 past the corner is a plain cut
    parts = split_vertices(V, G, g, a, -1e-3, V @ a - 1e-3)
    assert parts is not None and len(parts[0].vertices) == 6


def test_cut_gives_up_past_the_vertex_limit(path):
    G, g = normalise_rows(np.vstack([np.eye(3), -np.eye(3)]), -np.ones(6))
    V = distinct_vertices(vertices(G, g, np.zeros(3)))
    a = np.array([1.0, 1.0, 1.0]) / np.sqrt(3)
    vals = V @ a
    assert len(cut_vertices(V, G, g, vals)[0]) == 10  # 4 corners and the hexagon where the plane cuts
    assert cut_vertices(V, G, g, vals, limit=10) is not None
    assert cut_vertices(V, G, g, vals, limit=9) is None
    assert split_vertices(V, G, g, a, 0.0, vals, limit=9) is None


@pytest.mark.parametrize("n", [2, 3, 5])
def test_a_box_gets_its_corners_without_qhull_and_they_are_qhull_s(n, rng):
    from scipy.spatial import HalfspaceIntersection

    from shallowrelu.polytope.vertices import box_sides
    from shallowrelu.polytope.volume import volume

    lo, hi = -rng.uniform(0.5, 2.0, n), rng.uniform(0.5, 2.0, n)
    # rows scaled and repeated (a looser copy of one side), in shuffled order
    G = np.vstack([-np.eye(n) * 2.0, np.eye(n), np.eye(n)[:1]])
    g = np.concatenate([2.0 * lo, -hi, [-hi[0] - 1.0]])
    order = rng.permutation(len(g))
    G, g = G[order], g[order]
    np.testing.assert_allclose(box_sides(G, g), (lo, hi))
    V = vertices(G, g, (lo + hi) / 2)
    assert len(V) == 2 ** n
    qhull = HalfspaceIntersection(np.hstack([G, g[:, None]]), (lo + hi) / 2).intersections
    assert _same_points(V, qhull)
    assert volume(G, g, (lo + hi) / 2) == pytest.approx(np.prod(hi - lo), rel=1e-12)
    # a row with two coordinates: no box, qhull's vertices and volume
    tilted = np.vstack([G, np.ones((1, n))])
    cut = np.append(g, -0.5 * np.sum(hi))
    assert box_sides(tilted, cut) is None
    inside = chebyshev_ball(tilted, cut, 10.0).x
    assert _same_points(vertices(tilted, cut, inside),
                        HalfspaceIntersection(np.hstack([tilted, cut[:, None]]), inside).intersections)
