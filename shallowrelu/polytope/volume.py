"""Volumes (lengths, areas) of bounded polytopes, for the completeness certificate and statistics.

Owns the volume of one polytope from its vertices (qhull) and the batched
volumes of many polytopes from their facets alone (1-3 D, no qhull), which
checks the search independently of the vertices it carried. No LP.
"""

from __future__ import annotations

import numpy as np

from .polygon import counter_clockwise, shoelace
from .vertices import box_sides, subsets, vertices_or_empty
from ..tolerances import SINGULAR_DET, VERTEX_TOL


def volume(G: np.ndarray, g: np.ndarray, interior: np.ndarray) -> float:
    """Volume (length, area) of a bounded polytope from its vertices; ``nan`` where qhull fails. A box's is the
    product of its sides."""
    sides = box_sides(G, g)
    if sides is not None:
        return float(np.prod(sides[1] - sides[0]))
    V = vertices_or_empty(G, g, interior)
    if V.shape[0] == 0:
        return float("nan")
    if V.shape[1] == 1:
        return float(V[1, 0] - V[0, 0])
    if V.shape[1] == 2:
        V = counter_clockwise(V)
        return shoelace(V, np.concatenate((V[1:], V[:1])))
    from scipy.spatial import ConvexHull, QhullError

    V = V - V.mean(axis=0)
    for options in ("", "QJ"):  # joggling moves the volume by ~1e-11 relative, no more
        try:
            return float(ConvexHull(V, qhull_options=options or None).volume)
        except QhullError:
            continue
    return float("nan")



# Regions whose facet subsets are solved at once; bounds the batch's memory.
_VOLUME_BATCH_ROWS = 2_000_000


def volumes_by_facets(G: np.ndarray, g: np.ndarray, ptr: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """Volumes (lengths, areas) of many bounded polytopes in 1-3 D, each given by its facets alone.

    Polytope ``i`` is ``{x : G[k] x + g[k] <= 0 for ptr[i] <= k < ptr[i+1]}``
    (unit rows, irredundant) with ``interior[i]`` inside it. Its vertices are
    the feasible solutions of every ``n`` of its rows, found in one batch for
    all polytopes with the same facet count (no qhull, no carried vertices:
    an independent check of the search). The volume is the sum of the cones
    from the interior point over the facets, ``height * facet area / n``.
    A row listed that is no facet adds nothing; with a facet missing the
    sum is not the volume of anything, which a total over a partition
    shows. ``inf`` for fewer than ``n + 1`` rows (no bounded polytope).
    """
    R, n = interior.shape
    if not 1 <= n <= 3:
        raise ValueError("volumes_by_facets works in 1 to 3 dimensions")
    counts = np.diff(ptr)
    out = np.full(R, np.inf)
    for k in np.unique(counts[counts >= n + 1]):
        T = subsets(int(k), n)
        regions = np.flatnonzero(counts == k)
        step = max(1, _VOLUME_BATCH_ROWS // (len(T) * int(k)))
        for start in range(0, len(regions), step):
            idx = regions[start:start + step]
            out[idx] = _cone_volumes(G, g, ptr[idx], int(k), T, interior[idx])
    return out


def _cone_volumes(G, g, first, k, T, interior):
    """:func:`volumes_by_facets` for polytopes with ``k`` facets each, rows from ``first``."""
    R, n = interior.shape
    rows = first[:, None] + np.arange(k)                       # (R, k)
    Gr, gr = G[rows], g[rows]                                  # (R, k, n), (R, k)
    A, b = Gr[:, T], -gr[:, T]                                 # (R, S, n, n), (R, S, n)
    ok = np.abs(np.linalg.det(A)) > SINGULAR_DET
    X = np.full(A.shape[:3], np.nan)
    X[ok] = np.linalg.solve(A[ok], b[ok][..., None])[..., 0]   # candidate vertices (R, S, n)
    vals = np.einsum("rsn,rkn->rsk", X, Gr) + gr[:, None, :]    # (R, S, k)
    # each candidate on its own scale: a far one from nearly parallel rows must not loosen the others
    eps = VERTEX_TOL * (1.0 + np.nan_to_num(np.abs(X), nan=0.0).max(axis=2, keepdims=True))
    feasible = ok & (vals.max(axis=2) <= eps[..., 0])
    on = feasible[..., None] & (np.abs(vals) <= eps)           # vertex s lies on facet f
    height = -(np.einsum("rkn,rn->rk", Gr, interior) + gr)     # (R, k)
    if n == 1:
        size = on.any(axis=1).astype(float)                    # a point: measure 1 if there
    elif n == 2:
        d = np.stack([-Gr[..., 1], Gr[..., 0]], axis=-1)       # the facet's direction
        proj = np.einsum("rsn,rkn->rsk", np.nan_to_num(X), d)
        size = (np.where(on, proj, -np.inf).max(axis=1) - np.where(on, proj, np.inf).min(axis=1))
        size = np.where(on.any(axis=1), size, 0.0)
    else:
        size = _facet_areas(X, Gr, on)
    return (height * size).sum(axis=1) / n


def _facet_areas(X, Gr, on):
    """Area of every facet polygon (3-D): the vertices on it sorted by angle, then the shoelace formula."""
    R, S, k = on.shape
    r, s, f = np.nonzero(on)                                   # one row per (region, vertex, facet)
    normal = Gr[r, f]
    # a basis (u, w) of each facet's plane
    helper = np.where(np.abs(normal[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    u = np.cross(normal, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    w = np.cross(normal, u)
    P = X[r, s]
    a, b = (P * u).sum(axis=1), (P * w).sum(axis=1)
    group = r * k + f
    size = np.bincount(group, minlength=R * k)
    ca = np.bincount(group, a, minlength=R * k) / np.maximum(size, 1)
    cb = np.bincount(group, b, minlength=R * k) / np.maximum(size, 1)
    a, b = a - ca[group], b - cb[group]
    order = np.lexsort((np.arctan2(b, a), group))
    a, b, group = a[order], b[order], group[order]
    # the next vertex around the same facet, wrapping at the group's end
    nxt = np.arange(len(group)) + 1
    start = np.concatenate([[0], np.flatnonzero(np.diff(group)) + 1])
    ends = np.concatenate([start[1:], [len(group)]]) - 1
    nxt[ends] = start
    area = 0.5 * np.bincount(group, a * b[nxt] - b * a[nxt], minlength=R * k)
    return np.abs(area).reshape(R, k)

