"""Region volumes from their facets alone (the certificate's), against qhull."""

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.polytope import normalise_rows
from shallowrelu.polytope.volume import volume, volumes_by_facets
from shallowrelu.testing.nets import fuzz_net
from tests.helpers import facet_tables, random_polytope


@pytest.mark.parametrize("n", [1, 2, 3])
def test_volumes_by_facets_match_qhull(n):
    rng = np.random.default_rng(40 + n)
    polys = [random_polytope(rng, n, int(rng.integers(1, 4 * n))) for _ in range(60)]
    G, g, ptr, inside = facet_tables(polys)
    got = volumes_by_facets(G, g, ptr, inside)
    for i, (Gi, gi) in enumerate(polys):
        assert got[i] == pytest.approx(volume(Gi, gi, inside[i]), rel=1e-9)


def test_volumes_by_facets_of_degenerate_vertices():
    """A pyramid whose apex is on four facets (four copies of it among the triples) and a cube."""
    pyramid = normalise_rows(np.array([[0, 0, -1.0], [1, 0, 1], [-1, 0, 1], [0, 1, 1], [0, -1, 1]]),
                             np.array([0.0, -1, -1, -1, -1]))
    cube = normalise_rows(np.vstack([np.eye(3), -np.eye(3)]), -np.ones(6))
    G, g, ptr, inside = facet_tables([pyramid, cube])
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
