"""The domains a search runs over: boxes and H-polytopes, as plain data.

Owns :class:`Polytope`, :class:`Box`, the ``Domain`` alias and the row
normalisation every other module uses. Knows nothing of LPs or vertices:
this module must not import the solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DomainError

@dataclass(frozen=True)
class Polytope:
    """The H-polytope ``{x : P x <= p}``.

    Parameters
    ----------
    P : ndarray, shape (k, n)
    p : ndarray, shape (k,)
    """

    P: np.ndarray
    p: np.ndarray

    def __post_init__(self) -> None:
        P = np.asarray(self.P, dtype=np.float64)
        p = np.asarray(self.p, dtype=np.float64).reshape(-1)
        if P.ndim != 2 or P.shape[0] != p.shape[0]:
            raise DomainError(f"polytope needs P of shape (k, n) and p of shape (k,), got {P.shape} and {p.shape}")
        if not (np.all(np.isfinite(P)) and np.all(np.isfinite(p))):
            raise DomainError("polytope P or p contains NaN or inf")
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "p", p)

    @property
    def dim(self) -> int:
        """Ambient dimension."""
        return self.P.shape[1]

    def contains(self, X: np.ndarray, tol: float = 0.0) -> np.ndarray:
        """Which rows of ``X`` satisfy ``P x <= p + tol``."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if self.P.shape[0] == 0:
            return np.ones(X.shape[0], dtype=bool)
        return np.all(X @ self.P.T <= self.p + tol, axis=1)


@dataclass(frozen=True)
class Box:
    """The box ``lo <= x <= hi``; scalars are broadcast to every coordinate.

    A box with ``lo == hi`` in some coordinates is flat: enumeration then
    works in the remaining coordinates.

    Parameters
    ----------
    lo, hi : float or ndarray, shape (n,)
        The corners; finite, ``lo <= hi``.
    """

    lo: np.ndarray | float
    hi: np.ndarray | float

    def __post_init__(self) -> None:
        lo = np.asarray(self.lo, dtype=np.float64)
        hi = np.asarray(self.hi, dtype=np.float64)
        if lo.ndim > 1 or hi.ndim > 1:
            raise DomainError(f"box bounds must be scalars or 1-D arrays, got shapes {lo.shape} and {hi.shape}")
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise DomainError("box bounds contain NaN or inf")
        try:
            lo_b, hi_b = np.broadcast_arrays(lo, hi)
        except ValueError:
            raise DomainError(f"box lo has {lo.size} entries but hi has {hi.size}") from None
        bad = np.flatnonzero(np.atleast_1d(lo_b > hi_b))
        if bad.size:
            i = int(bad[0])
            raise DomainError(f"box has lo > hi in coordinate {i}: "
                              f"{np.atleast_1d(lo_b)[i]} > {np.atleast_1d(hi_b)[i]}")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    def bounds(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)`` as arrays of length ``n``."""
        lo, hi = (np.broadcast_to(v, (n,)) if v.ndim == 0 else v for v in (self.lo, self.hi))
        if lo.shape != (n,) or hi.shape != (n,):
            raise DomainError(f"box has {max(lo.size, hi.size)} coordinates but the network has {n} inputs")
        return np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)

    def as_polytope(self, n: int) -> Polytope:
        """The box as ``{x : P x <= p}`` in dimension ``n``."""
        lo, hi = self.bounds(n)
        eye = np.eye(n)
        return Polytope(np.vstack([eye, -eye]), np.concatenate([hi, -lo]))


Domain = Box | Polytope | None


def as_polytope(domain: Domain, n: int) -> Polytope:
    """Turn a domain (``None`` meaning all of R^n) into a :class:`Polytope` of dimension ``n``.

    Raises
    ------
    DomainError
        If the domain's dimension is not ``n``.
    """
    if domain is None:
        return Polytope(np.zeros((0, n)), np.zeros(0))
    if isinstance(domain, Box):
        return domain.as_polytope(n)
    if isinstance(domain, Polytope):
        if domain.dim != n:
            raise DomainError(f"polytope has dimension {domain.dim} but the network has {n} inputs")
        return domain
    raise DomainError(f"unsupported domain type {type(domain).__name__}")


def normalise_rows(G: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale each inequality ``G_k x + g_k <= 0`` to a unit normal; zero rows are kept as they are."""
    norms = np.linalg.norm(G, axis=1)
    scale = np.where(norms > 0, norms, 1.0)
    return G / scale[:, None], g / scale

