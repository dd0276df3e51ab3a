"""Vertices of bounded polytopes and how a hyperplane cuts them, with no LP.

Owns the vertex tolerance, the vertices of a polytope (qhull, or the ends of
an interval), the double-description step that cuts a vertex set by a
hyperplane (:func:`cut_vertices`, :func:`split_vertices`) and bounds on the
inradius from the vertices. The search carries these through every split in
up to five dimensions. Compiled kernels are used through :mod:`.kernels`.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations
from math import comb
from typing import NamedTuple

import numpy as np

from .kernels import kernel, use_compiled
from ..tolerances import EDGE_SINGULAR_MIN, VERTEX_TOL

_UNLIMITED = np.iinfo(np.int64).max
# The compiled cut's statuses besides 0 (done).
_RANK_TEST, _GIVE_UP = 1, 2
# A vertex within this fraction of ``eps`` of a hyperplane lies on it up to rounding (a degenerate net's
# hyperplanes through one point); between it and ``eps``, the hyperplane passes a corner closer than the
# vertices resolve.
_ON_EXACTLY = 1e-3
# Boxes up to this dimension get their corners directly (a million of them at most, as qhull would list).
_BOX_CORNERS_DIM = 20


def vertices(G: np.ndarray, g: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """Vertices of a bounded polytope ``{x : G x + g <= 0}`` around a strict interior point.

    Uses the interval ends (1-D), the corners where the rows make a box (a
    search's usual root, for which importing scipy.spatial would cost more
    than a small search), else qhull's half-space intersection.
    """
    n = G.shape[1]
    if n == 1:
        a, c = G[:, 0], g
        lo = np.max(-c[a < 0] / a[a < 0]) if np.any(a < 0) else -np.inf
        hi = np.min(-c[a > 0] / a[a > 0]) if np.any(a > 0) else np.inf
        return np.array([[lo], [hi]])
    sides = box_sides(G, g) if n <= _BOX_CORNERS_DIM else None
    if sides is not None:
        bits = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1
        return np.where(bits == 1, sides[1], sides[0])
    from scipy.spatial import HalfspaceIntersection

    # qhull works best with the interior point at the origin and the nearest
    # halfspace at distance 1: shift by the point, scale by its margin.
    c = np.asarray(interior, dtype=np.float64)
    offsets = g + G @ c
    scale = float(-offsets.max() / np.linalg.norm(G, axis=1).max()) if offsets.size else 1.0
    if not scale > 0:
        raise ValueError("the interior point is not strictly inside")
    hs = HalfspaceIntersection(np.hstack([G, offsets[:, None] / scale]), np.zeros(n))
    return hs.intersections * scale + c


def vertex_bound(m: int, d: int) -> int:
    """The most vertices a ``d``-polytope with ``m`` facets can have (McMullen's upper bound theorem).

    Known before qhull runs: in 13 dimensions a box has 8,192 vertices, in 20
    over a million, and qhull's time and memory grow with them.
    """
    if d <= 1:
        return 2
    return comb(m - (d + 1) // 2, d // 2) + comb(m - d // 2 - 1, (d + 1) // 2 - 1)


def box_sides(G: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(lo, hi)`` where every row of ``{x : G x + g <= 0}`` bounds one coordinate and every coordinate is
    bounded on both sides (a box); else None."""
    m, n = G.shape
    nonzero = G != 0
    if not np.all(nonzero.sum(axis=1) == 1):
        return None
    axis = nonzero.argmax(axis=1)
    a = G[np.arange(m), axis]
    bound = -g / a
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    np.maximum.at(lo, axis[a < 0], bound[a < 0])
    np.minimum.at(hi, axis[a > 0], bound[a > 0])
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo < hi)):
        return None
    return lo, hi


def vertices_or_empty(G: np.ndarray, g: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """Like :func:`vertices`, but an empty array where qhull fails or returns non-finite points."""
    empty = np.zeros((0, G.shape[1]))
    try:
        V = vertices(G, g, interior)
    except ValueError:
        return empty
    except RuntimeError as exc:
        from scipy.spatial import QhullError  # only where qhull ran

        if not isinstance(exc, QhullError):
            raise
        return empty
    return V if np.all(np.isfinite(V)) else empty




def vertex_eps(V: np.ndarray) -> float:
    """``VERTEX_TOL`` on the scale of the vertices ``V``."""
    return VERTEX_TOL * (1.0 + np.abs(V).max())


def distinct_vertices(V: np.ndarray) -> np.ndarray:
    """``V`` without repeats (qhull lists a vertex on more than ``n`` facets once per facet of its dual)."""
    if V.shape[0] < 2:
        return V
    eps = vertex_eps(V)
    near = np.abs(V[:, None, :] - V[None, :, :]).max(axis=2) <= eps
    return V[~np.triu(near, 1).any(axis=0)]


def cut_vertices(V: np.ndarray, G: np.ndarray, g: np.ndarray, vals: np.ndarray,
                 eps: float | None = None, limit: int = _UNLIMITED,
                 strict: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertices of the two parts of a bounded polytope cut by a hyperplane (one double-description step).

    Parameters
    ----------
    V : ndarray
        The vertices of ``{x : G x + g <= 0}`` (unit-normal rows), each once.
    G, g : ndarray
    vals : ndarray
        ``a . x + c`` (unit ``a``) at the vertices.
    eps : float, optional
        Distance within which a point lies on a hyperplane; default
        ``VERTEX_TOL`` relative to ``1 + max |V|``.
    limit : int, optional
        The most vertices a part may have.
    strict : bool
        Give up at a corner finer than ``eps``: where a new vertex would lie
        within ``eps`` of another, or the hyperplane passes a vertex closer
        than ``eps`` without going through it.

    Returns
    -------
    (V_minus, V_plus) or None
        Vertices of the parts where ``a . x + c <= 0`` and ``>= 0``: the old
        vertices of each side (those on the hyperplane in both) and one new
        vertex where each edge crosses it. Two vertices span an edge when
        the rows tight at both have rank ``n - 1``; the combinatorial test
        (at least ``n - 1`` common tight rows and no third vertex tight on
        all of them) decides all but degenerate pairs, which get the rank.
        None when a part would have more than ``limit`` vertices or, if
        ``strict``, the cut meets a corner finer than the vertices'
        rounding: there the set is no longer quite the polytope's, its
        near-repeats breed more at every later cut (thousands in a few),
        and slivers thinner than ``eps`` hide between its points.
    """
    eps = vertex_eps(V) if eps is None else eps
    if use_compiled(V.shape[1]):
        minus, plus, status = kernel("cut")(V, G, g, np.ascontiguousarray(vals), eps, limit, strict, _ON_EXACTLY)
        if status != _RANK_TEST:
            return None if status == _GIVE_UP else (minus, plus)
    return _cut_numpy(V, G, g, vals, eps, limit, strict)


def _cut_numpy(V: np.ndarray, G: np.ndarray, g: np.ndarray, vals: np.ndarray, eps: float,
               limit: int, strict: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`cut_vertices` in numpy: the path without numba, and for pairs that need the rank test."""
    n = V.shape[1]
    neg, pos = vals < -eps, vals > eps
    if strict and np.any((np.abs(vals) <= eps) & (np.abs(vals) > eps * _ON_EXACTLY)):
        return None
    if not (neg.any() and pos.any()):
        return V[~pos], V[~neg]
    on = (np.abs(V @ G.T + g) <= eps).astype(np.float64)
    iu, iw = np.nonzero(on[neg] @ on[pos].T >= n - 1)
    masks = on[neg][iu] * on[pos][iw]
    holders = (on @ masks.T == masks.sum(axis=1)).sum(axis=0)
    edge = holders == 2
    for e in np.flatnonzero(~edge):  # near-duplicate vertices: do the common rows meet in a line?
        rows = G[masks[e] > 0]
        edge[e] = n == 1 or (len(rows) >= n - 1 and np.linalg.svd(rows, compute_uv=False)[n - 2] > EDGE_SINGULAR_MIN)
    Vn, Vp = V[neg][iu[edge]], V[pos][iw[edge]]
    sn, sp = vals[neg][iu[edge]], vals[pos][iw[edge]]
    new = Vn + (sn / (sn - sp))[:, None] * (Vp - Vn)
    if (max(np.count_nonzero(~pos), np.count_nonzero(~neg)) + len(new) > limit
            or (strict and _crowded(new, V[~(neg | pos)], eps))):
        return None
    return np.vstack([V[~pos], new]), np.vstack([V[~neg], new])


def _crowded(new: np.ndarray, level: np.ndarray, eps: float) -> bool:
    """Whether a row of ``new`` lies within distance ``eps`` of another or of a row of ``level``."""
    near = np.linalg.norm(new[:, None] - np.vstack([new, level])[None], axis=2) <= eps
    near[np.arange(len(new)), np.arange(len(new))] = False
    return bool(near.any())


def inradius_bounds(V: np.ndarray, G: np.ndarray, g: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Bounds on the inradius of the bounded polytope ``{x : G x + g <= 0}`` (unit rows) with vertices ``V``.

    Returns ``(low, high, centre)``: ``low`` is the distance from the
    vertices' centroid ``centre`` to the nearest row (a ball that fits),
    ``high`` half the polytope's least width along a row normal (no ball
    is wider than any width).
    """
    if V.shape[0] == 0:
        return 0.0, 0.0, np.zeros(G.shape[1])
    centre = V.mean(axis=0)
    low = float(-(G @ centre + g).max())
    proj = V @ G.T
    high = float((proj.max(axis=0) - proj.min(axis=0)).min()) / 2 if len(g) else np.inf
    return low, high, centre



class Part(NamedTuple):
    """One side of a polytope cut by a hyperplane: its vertices and ``low <= inradius <= high``
    with ``centre`` the centre of a ball of radius ``low`` (bounds None where not yet computed)."""

    vertices: np.ndarray
    low: float | None
    high: float | None
    centre: np.ndarray | None


def split_vertices(V: np.ndarray, G: np.ndarray, g: np.ndarray, a: np.ndarray, c: float,
                   vals: np.ndarray, limit: int = _UNLIMITED) -> tuple[Part, Part] | None:
    """:func:`cut_vertices` by ``a . x + c`` (unit ``a``), with :func:`inradius_bounds` of both parts.

    Returns the parts where ``a . x + c <= 0`` and ``>= 0``, or None where
    :func:`cut_vertices` gives up (``strict``).
    """
    eps = vertex_eps(V)
    if use_compiled(V.shape[1]):
        minus, plus, status, b_minus, b_plus = kernel("split")(V, G, g, np.ascontiguousarray(a), float(c),
                                                               np.ascontiguousarray(vals), eps, limit,
                                                               _ON_EXACTLY)
        if status != _RANK_TEST:
            return None if status == _GIVE_UP else (Part(minus, *b_minus), Part(plus, *b_plus))
    parts = _cut_numpy(V, G, g, vals, eps, limit, True)  # not cut_vertices: the compiled cut just declined
    if parts is None:
        return None
    minus, plus = parts
    return (Part(minus, *inradius_bounds(minus, np.vstack([G, a]), np.append(g, c))),
            Part(plus, *inradius_bounds(plus, np.vstack([G, -a]), np.append(g, -c))))


@lru_cache(maxsize=256)
def subsets(k: int, size: int) -> np.ndarray:
    """Every ``size``-subset of ``range(k)``, one per row, in lexicographic order."""
    return np.array(list(combinations(range(k), size)), dtype=np.intp).reshape(-1, size)

