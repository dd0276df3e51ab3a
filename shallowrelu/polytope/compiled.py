"""Compiled kernels for small polytopes (numba, a default dependency).

Two steps of the search cost far more in numpy calls than in arithmetic:
a split (:func:`split`: a node's vertices cut by a hyperplane, and bounds on
the inradius of both parts) and a leaf (:func:`leaf`: the region's facets
from its vertices, then its Chebyshev LP, ``n + 1`` variables and a handful
of rows, on which HiGHS spends about half a millisecond, mostly setting it
up). Compiled, each takes microseconds. Both keep the numpy path of
:mod:`.vertices` and :mod:`.leaves` as their fallback: the LP's answer is accepted only with a
proof of optimality (every row satisfied, the multipliers of the tight rows
non-negative), which is checked again by :func:`proof_error` from the tight
rows alone, and a cut meeting a degenerate pair of vertices (one that needs
a rank) or a facet test that needs a span is left to numpy. This module is
imported only when numba is installed, and only through :mod:`.kernels`.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from ..tolerances import KKT_MULTIPLIER, KKT_PROOF, PIVOT_MIN, ROUNDING_REL


@njit(cache=True)
def _solve(M, b):  # pragma: no cover - runs compiled
    """``M x = b`` for a small square ``M`` by Gaussian elimination with partial pivoting; NaN if singular."""
    m = b.shape[0]
    M, x = M.copy(), b.copy()
    for c in range(m):
        p = c + np.argmax(np.abs(M[c:, c]))
        if abs(M[p, c]) < PIVOT_MIN:
            x[:] = np.nan
            return x
        for j in range(m):
            M[c, j], M[p, j] = M[p, j], M[c, j]
        x[c], x[p] = x[p], x[c]
        for r in range(c + 1, m):
            f = M[r, c] / M[c, c]
            for j in range(c, m):
                M[r, j] -= f * M[c, j]
            x[r] -= f * x[c]
    for c in range(m - 1, -1, -1):
        for j in range(c + 1, m):
            x[c] -= M[c, j] * x[j]
        x[c] /= M[c, c]
    return x


@njit(cache=True)
def _least_squares(A, b):  # pragma: no cover - runs compiled
    """Minimum-norm ``lam`` minimising ``|A^T lam - b|`` (``A`` is ``t x m``) by the smaller normal
    equations, in loops (``np.linalg.lstsq`` alone would add seconds to the first compile); NaN if singular."""
    t, m = A.shape
    if t <= m:  # (A A^T) lam = A b
        gram, rhs = np.empty((t, t)), np.empty(t)
        for i in range(t):
            rhs[i] = _dot(A[i], b)
            for j in range(t):
                gram[i, j] = _dot(A[i], A[j])
        return _solve(gram, rhs)
    gram = np.empty((m, m))   # lam = A (A^T A)^-1 b
    for i in range(m):
        for j in range(m):
            gram[i, j] = _dot(A[:, i], A[:, j])
    z = _solve(gram, b)
    lam = np.empty(t)
    for i in range(t):
        lam[i] = _dot(A[i], z)
    return lam


@njit(cache=True)
def _dot(x, y):  # pragma: no cover - runs compiled
    """A short dot product."""
    # a loop: numba's ``@`` calls BLAS, whose overhead dwarfs a length-4 product
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * y[i]
    return s


@njit(cache=True)
def _slack(A, b, y):  # pragma: no cover - runs compiled
    """``b - A y``."""
    k, m = A.shape
    s = b.copy()
    for i in range(k):
        for j in range(m):
            s[i] -= A[i, j] * y[j]
    return s


@njit(cache=True)
def _active_set(A, b, y, tol):  # pragma: no cover - runs compiled
    """Maximise ``y[-1]`` subject to ``A y <= b`` from the feasible ``y``; (y, proved optimal, tight rows).

    The tight rows ``W`` stay linearly independent. With fewer than
    ``len(y)`` of them, ``y`` moves along the part of the objective
    orthogonal to them; at a vertex, a row with a negative multiplier is
    left. Either way to the first row that blocks.
    """
    k, m = A.shape
    work = np.zeros(k, dtype=np.bool_)
    rows = np.empty(m, dtype=np.int64)
    s = _slack(A, b, y)
    rows[0] = np.argmin(s)
    work[rows[0]] = True
    w = 1
    d = np.zeros(m)
    for _ in range(8 * (k + m)):
        if w < m:  # the objective e = W^T mu + d with d orthogonal to W
            gram = np.empty((w, w))
            for i in range(w):
                for j in range(w):
                    gram[i, j] = _dot(A[rows[i]], A[rows[j]])
            rhs = np.empty(w)
            for i in range(w):
                rhs[i] = A[rows[i], m - 1]
            mu = _solve(gram, rhs)
            d[:] = 0.0
            d[m - 1] = 1.0
            for i in range(w):
                d -= mu[i] * A[rows[i]]
            moving = np.abs(d).max() > ROUNDING_REL
        else:
            WT = np.empty((m, m))
            for i in range(m):
                WT[:, i] = A[rows[i]]
            unit = np.zeros(m)
            unit[m - 1] = 1.0
            mu = _solve(WT, unit)
            moving = False
        if np.isnan(mu[0]):
            return y, False, rows[:w].copy()
        if not moving:
            i = np.argmin(mu)
            if mu[i] >= -KKT_MULTIPLIER:
                return y, _slack(A, b, y).min() >= -tol, rows[:w].copy()
            full = w == m
            if full:  # leave row i, stay on the others: W d = -e_i
                unit = np.zeros(m)
                unit[i] = -1.0
                d = _solve(WT.T.copy(), unit)
            work[rows[i]] = False
            rows[i:w - 1] = rows[i + 1:w].copy()
            w -= 1
            if not full:  # project again onto the fewer rows
                continue
        s = _slack(A, b, y)
        step, enter = np.inf, -1
        for j in range(k):
            if not work[j]:
                ad = _dot(A[j], d)
                if ad > ROUNDING_REL and max(s[j], 0.0) / ad < step:
                    step, enter = max(s[j], 0.0) / ad, j
        if enter < 0:
            return y, False, rows[:w].copy()
        y = y + step * d
        work[enter] = True
        rows[w] = enter
        w += 1
    return y, False, rows[:w].copy()


@njit(cache=True)
def chebyshev(G, g, x0, tol):  # pragma: no cover - runs compiled
    """Largest ball in the bounded ``{x : G x + g <= 0}`` (unit rows) from ``x0`` inside it.

    Returns ``(centre, radius, proved, tight)``, ``tight`` the rows of the
    final basis; use the answer only when ``proved``.
    """
    k, n = G.shape
    A = np.ones((k, n + 1))
    A[:, :n] = G
    y = np.zeros(n + 1)
    y[:n] = x0
    y[n] = _slack(A, -g, y).min()
    y, ok, tight = _active_set(A, -g, y, tol)
    return y[:n].copy(), y[n], ok, tight



@njit(cache=True)
def proof_error(G, g, centre, radius, tight):  # pragma: no cover - runs compiled
    """Check a Chebyshev answer again from its tight rows alone, independently of how it was found.

    The multipliers ``lam`` of the tight rows ``[G_i, 1]`` are solved for
    afresh (least squares unless there are ``n + 1`` independent rows); any
    ``lam >= 0`` with a small residual proves the answer, since weak duality
    then bounds every feasible radius by ``radius + error``. Returns
    ``(least multiplier, error, largest row violation)``.
    """
    t, n = tight.shape[0], G.shape[1]
    A = np.ones((t, n + 1))
    for i in range(t):
        A[i, :n] = G[tight[i]]
    unit = np.zeros(n + 1)
    unit[n] = 1.0
    lam = _solve(A.T.copy(), unit) if t == n + 1 else np.full(1, np.nan)
    if np.isnan(lam[0]):  # not square, or singular: the least-squares multipliers
        lam = _least_squares(A, unit)
    resid = -unit
    for i in range(t):
        resid = resid + lam[i] * A[i]
    off = 0.0
    for i in range(t):
        off = max(off, abs(_dot(A[i, :n], centre) + radius + g[tight[i]]))
    violation = -np.inf
    for r in range(G.shape[0]):
        violation = max(violation, _dot(G[r], centre) + g[r] + radius)
    lam_min = lam.min() if t else 0.0
    return lam_min, np.abs(resid).sum() + np.abs(lam).sum() * off, violation


@njit(cache=True)
def proved_chebyshev(G, g, x0, tol):  # pragma: no cover - runs compiled
    """:func:`chebyshev`, kept only when :func:`proof_error` confirms it; ``(centre, radius, ok)``."""
    centre, radius, ok, tight = chebyshev(G, g, x0, tol)
    if ok:
        lam_min, error, violation = proof_error(G, g, centre, radius, tight)
        ok = lam_min >= -KKT_PROOF and error <= KKT_PROOF and violation <= tol
    return centre, radius, ok

@njit(cache=True)
def _near(p, P, count, eps):  # pragma: no cover - runs compiled
    """Whether ``p`` lies within distance ``eps`` of one of the first ``count`` rows of ``P``."""
    for i in range(count):
        s = 0.0
        for j in range(p.shape[0]):
            s += (p[j] - P[i, j]) ** 2
        if s <= eps * eps:
            return True
    return False


@njit(cache=True)
def cut(V, G, g, vals, eps, limit, strict, near_miss):  # pragma: no cover - runs compiled
    """The vertex cut of :func:`shallowrelu.polytope.cut_vertices`, as loops.

    Returns ``(V_minus, V_plus, status)``: status 0 when done, 1 when a pair
    of vertices needs the rank test (the caller then runs the numpy
    version), 2 when a side would have more than ``limit`` vertices or, if
    ``strict``, two within ``eps`` of each other, or a vertex lies within
    ``eps`` of the hyperplane but farther than ``near_miss * eps``.
    """
    k, n = V.shape
    m = G.shape[0]
    on = np.zeros((k, m), dtype=np.bool_)
    for i in range(k):
        for r in range(m):
            s = g[r]
            for j in range(n):
                s += V[i, j] * G[r, j]
            on[i, r] = abs(s) <= eps
    if strict:
        for i in range(k):
            if eps * near_miss < abs(vals[i]) <= eps:
                return V, V, 2
    kept = max((vals <= eps).sum(), (vals >= -eps).sum())
    level = V[np.abs(vals) <= eps]
    new = np.empty((16, n))
    count = 0
    common = np.zeros(m, dtype=np.bool_)
    for u in range(k):
        if not vals[u] < -eps:
            continue
        for w in range(k):
            if not vals[w] > eps:
                continue
            shared = 0
            for r in range(m):
                common[r] = on[u, r] and on[w, r]
                shared += common[r]
            if shared < n - 1:
                continue
            holders = 0
            for x in range(k):
                holds = True
                for r in range(m):
                    if common[r] and not on[x, r]:
                        holds = False
                        break
                holders += holds
            if holders != 2:
                return V, V, 1
            t = vals[u] / (vals[u] - vals[w])
            p = V[u] + t * (V[w] - V[u])
            if kept + count >= limit or (strict and (_near(p, new, count, eps)
                                                     or _near(p, level, level.shape[0], eps))):
                return V, V, 2
            if count == new.shape[0]:
                grown = np.empty((2 * count, n))
                grown[:count] = new
                new = grown
            new[count] = p
            count += 1
    minus = np.concatenate((V[vals <= eps], new[:count]))
    plus = np.concatenate((V[vals >= -eps], new[:count]))
    return minus, plus, 0


@njit(cache=True)
def _bounds(P, G, g, a, c):  # pragma: no cover - runs compiled
    """:func:`shallowrelu.polytope.inradius_bounds` of ``P`` under the rows ``G`` plus ``a . x + c <= 0``."""
    k, n = P.shape
    centre = np.zeros(n)
    if k == 0:
        return 0.0, 0.0, centre
    for i in range(k):
        centre += P[i]
    centre /= k
    low = -(_dot(a, centre) + c)
    high = np.inf
    for r in range(G.shape[0] + 1):
        row = a if r == G.shape[0] else G[r]
        if r < G.shape[0]:
            low = min(low, -(_dot(row, centre) + g[r]))
        top, bottom = -np.inf, np.inf
        for i in range(k):
            x = _dot(row, P[i])
            top, bottom = max(top, x), min(bottom, x)
        high = min(high, (top - bottom) / 2)
    return low, high, centre


@njit(cache=True)
def split(V, G, g, a, c, vals, eps, limit, near_miss):  # pragma: no cover - runs compiled
    """:func:`cut`, plus the inradius bounds of both parts: ``(minus, plus, status, bounds_minus, bounds_plus)``."""
    minus, plus, status = cut(V, G, g, vals, eps, limit, True, near_miss)
    return minus, plus, status, _bounds(minus, G, g, a, c), _bounds(plus, G, g, -a, -c)

@njit(cache=True)
def facets(G, g, V, margin_tol, eps):  # pragma: no cover - runs compiled
    """The vertex test of :func:`shallowrelu.polytope._facets_by_vertices` for one region, as loops.

    Returns ``(facet, point, margin, done)`` (``margin`` as there, also for
    the rows that are not facets); ``done`` is False when a row
    on ``n`` or more vertices fails the margin and needs the span test (the
    caller then runs the numpy version).
    """
    k, n = G.shape
    nv = V.shape[0]
    counts = np.zeros(k, dtype=np.int64)
    point = np.zeros((k, n))
    for r in range(k):
        for i in range(nv):
            s = g[r]
            for j in range(n):
                s += V[i, j] * G[r, j]
            if abs(s) <= eps:
                counts[r] += 1
                point[r] += V[i]
        if counts[r] > 0:
            point[r] /= counts[r]
    facet = np.zeros(k, dtype=np.bool_)
    margin = np.zeros(k)
    for r in range(k):
        best = np.inf
        for q in range(k):
            if q != r:
                s = g[q]
                for j in range(n):
                    s += point[r, j] * G[q, j]
                best = min(best, -s)
        facet[r] = counts[r] >= n and best > margin_tol
        if counts[r] >= n and not facet[r] and n > 1:
            return facet, point, margin, False
        margin[r] = best if counts[r] > 0 else np.nan
        if not facet[r]:
            point[r] = 0.0
    return facet, point, margin, True


@njit(cache=True)
def leaf(G, g, V, margin_tol, eps, tol):  # pragma: no cover - runs compiled
    """:func:`facets` of a region, then its largest ball in them by :func:`proved_chebyshev`.

    Returns ``(facet, point, margin, done, centre, radius, ok)``; when not
    ``done`` the caller runs the numpy facet test, when not ``ok`` the LP.
    """
    facet, point, margin, done = facets(G, g, V, margin_tol, eps)
    n = G.shape[1]
    if not done:
        return facet, point, margin, False, np.zeros(n), 0.0, False
    rows = np.flatnonzero(facet)
    inside = np.zeros(n)
    for i in range(V.shape[0]):
        inside += V[i]
    inside /= V.shape[0]
    centre, radius, ok = proved_chebyshev(G[rows], g[rows], inside, tol)
    return facet, point, margin, True, centre, radius, ok
