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


    @staticmethod
    def ball(center: np.ndarray, eps: float, clip: "Box | None" = None) -> "Box":
        """The L-inf ball of radius ``eps`` around ``center``, intersected with the box ``clip`` if given.

        Parameters
        ----------
        center : ndarray, shape (n,)
        eps : float
            Non-negative.
        clip : Box, optional
            The input box (pixel range, say) the ball is cut to.
        """
        center = np.asarray(center, dtype=np.float64).ravel()
        if not eps >= 0:
            raise DomainError(f"ball radius {eps!r} must be non-negative")
        lo, hi = center - eps, center + eps
        if clip is not None:
            clo, chi = clip.bounds(center.size)
            lo, hi = np.maximum(lo, clo), np.minimum(hi, chi)
        return Box(lo, hi)


@dataclass(frozen=True, eq=False)
class Slice:
    """The points ``x = origin + D t`` of the input space, ``t`` in ``inner``, within ``clip``.

    A segment between two inputs, the plane through three, a k-flat through a
    point: searched in its own coordinates, as a flat domain (the catalogue
    records it and answers for full-space points on it).

    Parameters
    ----------
    origin : ndarray, shape (n,)
    directions : ndarray, shape (n, k)
        Independent columns.
    inner : Box or Polytope, optional
        The set of ``t`` (None: every ``t``).
    clip : Box or Polytope, optional
        A domain of the input space the slice is cut by (the input box).
    kind : str
        What it is, for reports (``"segment"``, ``"plane"``, ``"slice"``).
    """

    origin: np.ndarray
    directions: np.ndarray
    inner: "Box | Polytope | None" = None
    clip: "Box | Polytope | None" = None
    kind: str = "slice"

    def __post_init__(self) -> None:
        origin = np.asarray(self.origin, dtype=np.float64).ravel()
        D = np.asarray(self.directions, dtype=np.float64)
        D = D.reshape(-1, 1) if D.ndim == 1 else D
        if D.ndim != 2 or D.shape[0] != origin.size or D.shape[1] == 0:
            raise DomainError(f"slice directions must have shape ({origin.size}, k), got {D.shape}")
        if not (np.all(np.isfinite(origin)) and np.all(np.isfinite(D))):
            raise DomainError("slice origin or directions contain NaN or inf")
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "directions", D)

    @staticmethod
    def segment(a: np.ndarray, b: np.ndarray, clip: "Box | Polytope | None" = None) -> "Slice":
        """The segment from ``a`` to ``b``: ``x = a + s (b - a)``, ``0 <= s <= 1``."""
        a, b = (np.asarray(v, dtype=np.float64).ravel() for v in (a, b))
        return Slice(a, (b - a)[:, None], Box(0.0, 1.0), clip, "segment")

    @staticmethod
    def plane(a: np.ndarray, b: np.ndarray, c: np.ndarray, margin: float = 0.25,
              clip: "Box | Polytope | None" = None) -> "Slice":
        """The plane of the triangle ``a, b, c``: ``x = a + s (b - a) + t (c - a)``, ``s, t`` in
        ``[-margin, 1 + margin]`` (the triangle and a margin around it), within ``clip``."""
        a, b, c = (np.asarray(v, dtype=np.float64).ravel() for v in (a, b, c))
        return Slice(a, np.stack([b - a, c - a], axis=1), Box(-margin, 1.0 + margin), clip, "plane")

    @staticmethod
    def through(origin: np.ndarray, *directions: np.ndarray, lo: float = -1.0, hi: float = 1.0,
                clip: "Box | Polytope | None" = None) -> "Slice":
        """The k-flat ``origin + sum_i t_i d_i``, ``lo <= t_i <= hi``."""
        D = np.stack([np.asarray(d, dtype=np.float64).ravel() for d in directions], axis=1)
        return Slice(origin, D, Box(lo, hi), clip, "slice")

    def point(self, t: np.ndarray) -> np.ndarray:
        """The input ``origin + D t`` of slice coordinates ``t``."""
        return self.origin + self.directions @ np.asarray(t, dtype=np.float64).ravel()

    def record(self) -> dict:
        """What a catalogue keeps of the slice (JSON-ready)."""
        return {"kind": self.kind, "origin": self.origin.tolist(), "directions": self.directions.T.tolist()}


Domain = Box | Polytope | Slice | None


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
    if isinstance(domain, Slice):
        raise DomainError("a slice is flat: search it through its affine hull (affine_hull), not as a polytope")
    raise DomainError(f"unsupported domain type {type(domain).__name__}")


def normalise_rows(G: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale each inequality ``G_k x + g_k <= 0`` to a unit normal; zero rows are kept as they are."""
    norms = np.linalg.norm(G, axis=1)
    scale = np.where(norms > 0, norms, 1.0)
    return G / scale[:, None], g / scale

