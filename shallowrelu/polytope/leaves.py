"""A region's facets and largest ball from its vertices, many regions per numpy call.

Owns what the search does at a leaf when the node carries vertices: the
facet test by the centroid of each row's vertices, the Chebyshev ball from
the (n+1)-subsets of the facets (1-D, 2-D) or the compiled active-set
method (3-D up, through :mod:`.kernels`). Where this has no answer the
caller asks HiGHS (:mod:`.lp`); this module never does.
"""

from __future__ import annotations

import math

import numpy as np

from ..tolerances import FIT_REL, SINGULAR_DET, SPAN_TOL, VERTEX_TOL, Tolerances
from .kernels import kernel, use_compiled
from .lp import LPResult
from .vertices import subsets, vertex_eps


# Beyond this many (n+1)-subsets of facets the LP solver is quicker.
_MAX_SUBSETS = 2000



def _stack(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Arrays whose first axes differ in length, zero-padded into one array, and the mask of their entries."""
    sizes = np.array([len(a) for a in arrays])
    out = np.zeros((len(arrays), int(sizes.max(initial=0))) + arrays[0].shape[1:])
    mask = np.arange(out.shape[1]) < sizes[:, None]
    out[mask] = np.concatenate(arrays)
    return out, mask


def _facets_by_vertices(G: np.ndarray, g: np.ndarray, rows: np.ndarray, V: np.ndarray, verts: np.ndarray,
                        margin_tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Facets of many bounded polytopes ``{x : G[l] x + g[l] <= 0}`` (unit-normal rows) from their vertices ``V[l]``.

    Rows and vertices are zero-padded (:func:`_stack`), ``rows`` and
    ``verts`` mark the real ones. A row is a facet iff the centroid of the
    vertices on its hyperplane lies strictly inside every other row: that
    centroid is then a relative interior point of an (n-1)-dimensional face;
    on a lower-dimensional face it would sit on a second hyperplane. Rows
    must not repeat within a polytope.

    Returns
    -------
    (facet, point, margin)
        ``facet[l]`` marks the irredundant rows of polytope ``l``;
        ``point[l, k]`` is that centroid and ``margin[l, k]`` its distance to
        the other rows. For a row that is no facet, ``margin`` is that of the
        centroid of the vertices on it (at most ``margin_tol``, or 0 on
        fewer than ``n``: a row through a vertex is too close to call) and
        NaN when no vertex lies on it.
    """
    L, K, n = G.shape
    scale = 1.0 + np.abs(V).max(axis=(1, 2))
    vals = np.einsum("lmj,lkj->lmk", V, G) + g[:, None, :]  # <= 0 up to rounding
    on = (np.abs(vals) <= VERTEX_TOL * scale[:, None, None]) & verts[:, :, None] & rows[:, None, :]
    counts = on.sum(axis=1)
    point = np.einsum("lmk,lmj->lkj", on.astype(float), V) / np.maximum(counts, 1)[..., None]
    cl, cr = np.nonzero(counts >= n)  # the rows that can be facets
    slack = -(np.einsum("ckj,cj->ck", G[cl], point[cl, cr]) + g[cl])
    slack[~rows[cl]] = np.inf
    slack[np.arange(len(cl)), cr] = np.inf
    least = slack.min(axis=1, initial=np.inf)
    keep = least > margin_tol
    # A row whose vertices span n - 1 dimensions is a facet however short it
    # is: dropping a facet shorter than the margin tolerance between two
    # nearly parallel ones would stretch the region far past its corner.
    for c in np.flatnonzero(~keep) if n > 1 else ():
        l, r = cl[c], cr[c]
        keep[c] = np.linalg.svd(V[l, on[l, :, r]] - point[l, r], compute_uv=False)[n - 2] > SPAN_TOL * scale[l]
    facet = np.zeros((L, K), dtype=bool)
    facet[cl[keep], cr[keep]] = True
    margin = np.where(counts > 0, 0.0, np.nan)
    margin[cl, cr] = least
    return facet, np.where(facet[..., None], point, 0.0), margin


def _balls_from_subsets(F: np.ndarray, f: np.ndarray, fmask: np.ndarray) -> list[LPResult | None]:
    """Largest balls in many bounded polytopes ``{x : F[l] x + f[l] <= 0}`` given by their few facets, no LP solver.

    Facets zero-padded as by :func:`_stack` (``fmask`` marks them). The
    Chebyshev LP's optimum is one of its vertices: ``n + 1`` rows tight.
    Every such subset is solved and the feasible one with the largest
    radius kept (the first of equals). None for a polytope with too many
    subsets, or where rounding left no subset feasible: the caller then
    asks the LP solver.
    """
    L, K, n = F.shape
    count = fmask.sum(axis=1)
    few = np.array([math.comb(k, n + 1) for k in range(K + 1)])[count] <= _MAX_SUBSETS
    width = int(count[few].max(initial=0))
    T = subsets(width, n + 1)
    ls, ts = np.nonzero(few[:, None] & (T[:, -1][None, :] < count[:, None]))  # subsets in order, polytope by polytope
    A = np.concatenate([F[ls[:, None], T[ts]], np.ones((len(ls), n + 1, 1))], axis=2)  # [a, 1] . (x, r) = -c
    ok = np.abs(np.linalg.det(A)) > SINGULAR_DET
    ls, sol = ls[ok], np.linalg.solve(A[ok], -f[ls[ok][:, None], T[ts[ok]]][..., None])[..., 0]
    slack = np.einsum("qkj,qj->qk", F[ls], sol[:, :n]) + f[ls] + sol[:, n:]
    slack[~fmask[ls]] = -np.inf
    size = np.abs(np.where(fmask, f, 0.0)).max(axis=1, initial=0.0)
    fits = (slack.max(axis=1, initial=-np.inf) <= FIT_REL * (1.0 + size[ls])) & (sol[:, n] >= 0)
    ls, sol = ls[fits], sol[fits]
    order = np.lexsort((-sol[:, n], ls))  # stable: the first subset of the largest radius leads
    lead = np.ones(len(order), dtype=bool)
    np.not_equal(ls[order][1:], ls[order][:-1], out=lead[1:])
    first = order[lead]
    balls: list[LPResult | None] = [None] * L
    for q in first:
        balls[ls[q]] = LPResult(True, float(sol[q, n]), sol[q, :n].copy())
    return balls


Facets = tuple[np.ndarray, np.ndarray, np.ndarray]


def regions_by_vertices(Gs: list[np.ndarray], gs: list[np.ndarray], Vs: list[np.ndarray],
                        tol: Tolerances) -> list[tuple[Facets | None, LPResult | None]]:
    """Facets and largest ball of many bounded regions from their vertices, no LP solver.

    Region ``l`` is ``{x : Gs[l] x + gs[l] <= 0}`` (unit-normal rows, none
    repeated) with vertices ``Vs[l]``. Its facets, each with a point on it
    and that point's margin (:func:`_facets_by_vertices`), and its ball:
    in 1-D and 2-D from the (n+1)-subsets of the facets
    (:func:`_balls_from_subsets`), all regions at once in numpy; from 3-D by
    the compiled active-set method of :mod:`.compiled` where numba is
    installed (a default dependency), kept only with its
    proof of optimality checked again from the tight rows.

    Returns
    -------
    list of (facets, ball)
        ``facets`` is ``(facet, point, margin)`` over the region's rows;
        either is None where this way has no answer (no vertices; no subset
        fits; no numba; no proof): the caller then asks HiGHS.
    """
    n = Gs[0].shape[1] if Gs else 0
    out: list[tuple[Facets | None, LPResult | None]] = [(None, None)] * len(Gs)
    todo = [l for l, V in enumerate(Vs) if V.shape[0]]
    if use_compiled(n):
        for l in todo:
            out[l] = _compiled_region(Gs[l], gs[l], Vs[l], tol)
        return out
    if not todo:
        return out
    G, rows = _stack([Gs[l] for l in todo])
    g = np.zeros(rows.shape)
    g[rows] = np.concatenate([gs[l] for l in todo])
    V, verts = _stack([Vs[l] for l in todo])
    facet, point, margin = _facets_by_vertices(G, g, rows, V, verts, tol.facet_margin)
    balls = [None] * len(todo)
    if n <= 2:
        # each region's facets to the front, in order
        first = np.argsort(~facet, axis=1, kind="stable")[:, :facet.sum(axis=1).max(initial=0)]
        balls = _balls_from_subsets(np.take_along_axis(G, first[..., None], axis=1),
                                    np.take_along_axis(g, first, axis=1), np.take_along_axis(facet, first, axis=1))
    for i, l in enumerate(todo):
        k = len(gs[l])
        out[l] = (facet[i, :k], point[i, :k], margin[i, :k]), balls[i]
    return out


def _compiled_region(G: np.ndarray, g: np.ndarray, V: np.ndarray,
                     tol: Tolerances) -> tuple[Facets, LPResult | None]:
    """One region of :func:`regions_by_vertices` by the compiled kernels (numpy for a short facet)."""
    facet, point, margin, done, centre, radius, ok = kernel("leaf")(G, g, V, tol.facet_margin, vertex_eps(V),
                                                                    tol.lp_feasibility)
    if not done:  # a short facet needs the span test
        one = _facets_by_vertices(G[None], g[None], np.ones((1, len(g)), dtype=bool), V[None],
                                  np.ones((1, len(V)), dtype=bool), tol.facet_margin)
        facet, point, margin = (a[0] for a in one)
        centre, radius, ok = kernel("proved_chebyshev")(G[facet], g[facet], V.mean(axis=0), tol.lp_feasibility)
    return (facet, point, margin), (LPResult(True, float(radius), centre) if ok else None)

