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
from .domain import Box, Domain, Polytope, as_polytope, normalise_rows
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

