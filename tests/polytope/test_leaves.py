"""A region's facets and ball from its vertices, in batches, against HiGHS."""

import numpy as np
import pytest
from scipy.optimize import linprog

from shallowrelu.polytope.leaves import regions_by_vertices
from shallowrelu.polytope.lp import chebyshev_ball
from shallowrelu.polytope.vertices import distinct_vertices, vertices
from shallowrelu.tolerances import DEFAULT_TOLERANCES
from tests.helpers import random_polytope


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_facets_by_vertices_against_lps(n, path):
    """Facets from the vertices against one LP per row: how far inside the others its hyperplane reaches.
    All polytopes in one batch, so that their different row and vertex counts are padded together."""
    rng = np.random.default_rng(10 + n)
    polytopes = []
    for _ in range(20):
        G, g = random_polytope(rng, n, int(rng.integers(1, 3 * n)))
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
        G, g = random_polytope(rng, n, int(rng.integers(0, 4 * n)))
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
    G, g = random_polytope(np.random.default_rng(3), 2, 3)
    V = distinct_vertices(vertices(G, g, chebyshev_ball(G, g, 10.0).x))
    (none, ball), (exact, got) = regions_by_vertices([G, G], [g, g], [np.zeros((0, 2)), V], DEFAULT_TOLERANCES)
    assert none is None and ball is None
    assert exact[0].any() and got is not None
