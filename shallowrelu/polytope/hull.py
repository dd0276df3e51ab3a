"""A domain in the coordinates of its affine hull, where it is full-dimensional.

Owns :class:`AffineHull` and :func:`affine_hull`: a flat domain (a box with
``lo == hi`` in some coordinates, a slice) becomes ``x = x0 + B t`` with ``t``
in a full-dimensional polytope, which is what the search works in. LPs go
through :mod:`.lp`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DomainError
from ..tolerances import DEFAULT_TOLERANCES, RANK_REL, Tolerances
from .domain import Box, Domain, Polytope, Slice, as_polytope, normalise_rows
from .lp import chebyshev_ball, solve_lp


@dataclass(frozen=True)
class AffineHull:
    """A domain in the coordinates of its affine hull: ``x = x0 + B t``, ``t`` in ``{P t <= p}``.

    ``B`` has orthonormal columns, so ``t = B^T (x - x0)`` for ``x`` on the hull.
    """

    x0: np.ndarray
    B: np.ndarray
    domain: Polytope

    @property
    def flat(self) -> bool:
        """True when the hull has lower dimension than the ambient space."""
        return self.B.shape[1] < self.B.shape[0]

    @property
    def normals(self) -> np.ndarray:
        """Orthonormal rows spanning the directions normal to the hull (none when it is not flat)."""
        return np.linalg.svd(self.B.T)[2][self.B.shape[1]:]

    def to_t(self, X: np.ndarray) -> np.ndarray:
        """Coordinates on the hull of points ``X`` (rows)."""
        return (np.atleast_2d(X) - self.x0) @ self.B

    def to_x(self, T: np.ndarray) -> np.ndarray:
        """Ambient points of hull coordinates ``T`` (rows)."""
        return np.atleast_2d(T) @ self.B.T + self.x0


def affine_hull(domain: Domain, n: int, tol: Tolerances = DEFAULT_TOLERANCES) -> AffineHull:
    """Reparametrise a domain over its affine hull, where it is full-dimensional.

    Raises
    ------
    DomainError
        If the domain is empty or has the wrong dimension.
    """
    if isinstance(domain, Slice):
        return _slice_hull(domain, n, tol)
    poly = as_polytope(domain, n)
    if poly.P.shape[0] == 0:
        return AffineHull(np.zeros(n), np.eye(n), poly)
    nz = np.linalg.norm(poly.P, axis=1) > 0
    if np.any(~nz & (poly.p < 0)):
        raise DomainError("domain is empty (a zero row of P with a negative right-hand side)")
    P, p = poly.P[nz], poly.p[nz]
    if isinstance(domain, Box):
        lo, hi = domain.bounds(n)
        fixed = hi - lo <= tol.min_radius
        equal = np.zeros(len(p), dtype=bool)
        equal[:n] = fixed
        equal[n:] = fixed
    else:
        Pn, pn = normalise_rows(P, -p)
        ball = chebyshev_ball(Pn, pn, tol.radius_cap, tol)
        if not ball.feasible:
            raise DomainError("domain polytope is empty")
        if ball.value > tol.min_radius:
            return AffineHull(np.zeros(n), np.eye(n), Polytope(P, p))
        # Flat: a row is an implicit equality iff its slack cannot be made positive.
        equal = np.array([solve_lp(P[i], P, p, tol).value >= p[i] - tol.min_radius
                          for i in range(len(p))])
    if not equal.any():
        return AffineHull(np.zeros(n), np.eye(n), Polytope(P, p))
    E, e = P[equal], p[equal]
    x0 = np.linalg.lstsq(E, e, rcond=None)[0]
    _, sing, Vt = np.linalg.svd(E)
    rank = int(np.sum(sing > RANK_REL * max(sing.max(), 1.0)))
    B = Vt[rank:].T
    keep = ~equal
    hull = AffineHull(x0, B, Polytope(P[keep] @ B, p[keep] - P[keep] @ x0))
    if B.shape[1] and hull.domain.P.shape[0]:
        Pn, pn = normalise_rows(hull.domain.P, -hull.domain.p)
        ball = chebyshev_ball(Pn, pn, tol.radius_cap, tol)
        if not ball.feasible or ball.value <= tol.min_radius:
            raise DomainError("domain is empty or thinner than the tolerance min_radius")
    return hull



def _slice_hull(sl: Slice, n: int, tol: Tolerances) -> AffineHull:
    """A slice over orthonormal coordinates of its span: ``x = origin + Q t'`` with ``D = Q R``, ``t' = R t``."""
    D, x0 = sl.directions, sl.origin
    if x0.size != n:
        raise DomainError(f"the slice lives in {x0.size} dimensions but the network has {n} inputs")
    Q, R = np.linalg.qr(D)
    diag = np.abs(np.diag(R))
    if diag.min() <= RANK_REL * max(diag.max(), 1.0):
        raise DomainError("slice directions are parallel (or zero)")
    Rinv = np.linalg.inv(R)
    rows, rhs = [np.zeros((0, D.shape[1]))], [np.zeros(0)]
    if sl.inner is not None:
        inner = as_polytope(sl.inner, D.shape[1])
        rows.append(inner.P @ Rinv)
        rhs.append(inner.p)
    if sl.clip is not None:
        clip = as_polytope(sl.clip, n)
        P, p = clip.P @ Q, clip.p - clip.P @ x0
        moved = np.linalg.norm(P, axis=1) > 0
        if np.any(~moved & (p < -tol.min_radius)):
            raise DomainError("the slice misses the domain it is cut by")
        rows.append(P[moved])
        rhs.append(p[moved])
    hull = AffineHull(x0, Q, Polytope(np.vstack(rows), np.concatenate(rhs)))
    if hull.domain.P.shape[0]:
        Pn, pn = normalise_rows(hull.domain.P, -hull.domain.p)
        ball = chebyshev_ball(Pn, pn, tol.radius_cap, tol)
        if not ball.feasible or ball.value <= tol.min_radius:
            raise DomainError("the slice is empty, or meets its domain in a set thinner than min_radius")
    return hull
