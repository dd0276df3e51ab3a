"""H-polytopes, domains, and the one seam to the LP solver (highspy).

No other module imports highspy. Every LP result is read from HiGHS's model
status, never from the return code alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import Callable

import importlib.util

import highspy
import numpy as np
from highspy._core import _Highs

from .errors import DomainError, SolverError
from .tolerances import DEFAULT_TOLERANCES, Tolerances

INF = highspy.kHighsInf
_OK = highspy.HighsModelStatus.kOptimal
_INFEASIBLE = highspy.HighsModelStatus.kInfeasible
_NUMBA = importlib.util.find_spec("numba") is not None
# Below this dimension the numpy code is quick enough that loading the
# compiled kernels (about a second per process) would cost more than it saves.
_COMPILED_MIN_DIM = 3


def _compiled(n: int) -> bool:
    return _NUMBA and n >= _COMPILED_MIN_DIM


@lru_cache(maxsize=None)
def _kernel(name: str) -> Callable:
    """The numba kernel ``name`` of :mod:`.compiled`, called so that an interrupt stays an interrupt.

    A Ctrl-C or SIGTERM that lands while numba loads a kernel from its cache
    (its first call in a process) comes out of the call as a SystemError
    raised from the KeyboardInterrupt; it is raised again as that
    KeyboardInterrupt, so the run stops as interrupted and keeps its regions.
    """
    from . import compiled

    fn = getattr(compiled, name)

    def call(*args):
        try:
            return fn(*args)
        except SystemError as exc:
            cause: BaseException | None = exc
            while cause is not None and not isinstance(cause, KeyboardInterrupt):
                cause = cause.__cause__ or cause.__context__
            if cause is None:
                raise
            raise KeyboardInterrupt from exc
    return call


# ----------------------------------------------------------------- domains ---

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


# --------------------------------------------------------------- LP seam ---

@dataclass(frozen=True)
class LPResult:
    """One LP answer: ``feasible`` is False only when HiGHS proved infeasibility."""

    feasible: bool
    value: float
    x: np.ndarray


def _new_highs(tol: Tolerances) -> _Highs:
    # The bare core class: no per-solve Python callbacks and no start-up banner.
    h = _Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")
    h.setOptionValue("primal_feasibility_tolerance", tol.lp_feasibility)
    h.setOptionValue("dual_feasibility_tolerance", tol.lp_feasibility)
    return h


class ChebyshevModel:
    """One warm HiGHS model for Chebyshev-ball LPs over a changing set of rows.

    Variables are ``(t_1..t_n, r)``; row ``k`` reads ``G_k t + r <= -g_k`` for
    unit-normal rows, so the optimum ``r`` is the radius of the largest ball
    inside ``{t : G t + g <= 0}``, capped at ``r_max``. Rows are keyed so that a
    depth-first search adds and removes only the rows that changed, keeping
    the simplex basis between solves. Every answer is checked against the
    rows. A solve that fails (any status but optimal or infeasible: time or
    iteration limit, numerical trouble) or whose answer violates the rows
    (HiGHS can return such a point after rows changed) is redone cold, then
    once more on a fresh model with presolve and the primal simplex (another
    path through the same LP); if that fails too, :class:`SolverError` is
    raised and the caller reports the LP as unresolved.

    Parameters
    ----------
    n : int
        Dimension of ``t``.
    r_max : float
        Cap on the radius (keeps the LP bounded over unbounded sets).
    tol : Tolerances
    """

    def __init__(self, n: int, r_max: float, tol: Tolerances = DEFAULT_TOLERANCES) -> None:
        self.n = n
        self.tol = tol
        self.solves = 0
        self._keys: list[int] = []
        self._G: list[np.ndarray] = []
        self._g: list[float] = []
        self._idx = np.arange(n + 1, dtype=np.int32)
        self.r_max = r_max
        self._h = _new_highs(tol)
        for _ in range(n):
            self._h.addVar(-INF, INF)
        self._h.addVar(0.0, r_max)
        self._h.changeColCost(n, -1.0)

    def sync(self, keys: list[int] | tuple[int, ...], G: np.ndarray, g: np.ndarray) -> None:
        """Make the model hold exactly the unit-normal rows ``G t + g <= 0`` keyed by ``keys``."""
        common = 0
        limit = min(len(keys), len(self._keys))
        while common < limit and keys[common] == self._keys[common]:
            common += 1
        if common < len(self._keys):
            drop = np.arange(common, len(self._keys), dtype=np.int32)
            self._h.deleteRows(drop.size, drop)
            del self._keys[common:], self._G[common:], self._g[common:]
        for k in range(common, len(keys)):
            self._add(G[k], g[k])
            self._keys.append(keys[k])
            self._G.append(np.asarray(G[k], dtype=np.float64))
            self._g.append(float(g[k]))

    def _add(self, a: np.ndarray, c: float) -> None:
        self._h.addRow(-INF, -float(c), self.n + 1, self._idx, np.append(a, 1.0))

    def _violation(self, sol: np.ndarray, extra, equality: int | None) -> float:
        G, g = np.array(self._G).reshape(-1, self.n), np.array(self._g)
        if extra is not None:
            G, g = np.vstack([G, extra[0]]), np.append(g, extra[1])
        margin = np.full(g.shape, sol[self.n])
        if equality is not None:
            margin[equality] = 0.0
        v = G @ sol[:self.n] + g + margin
        worst = float(v.max(initial=-np.inf))
        return worst if equality is None else max(worst, float(-v[equality]))

    def _solve(self, what: str, extra=None, equality: int | None = None) -> LPResult:
        self.solves += 1
        status = None
        for attempt in ("warm", "cold", "fresh"):
            if attempt == "cold":
                # A cold restart clears a basis that went numerically bad.
                self._h.clearSolver()
            h = self._fresh(extra, equality) if attempt == "fresh" else self._h
            h.run()
            status = h.getModelStatus()
            if status == _INFEASIBLE:
                return LPResult(False, -np.inf, np.full(self.n, np.nan))
            if status != _OK:
                continue
            sol = np.array(h.getSolution().col_value)
            if self._violation(sol, extra, equality) <= 10 * self.tol.lp_feasibility:
                return LPResult(True, float(sol[self.n]), sol[:self.n])
            status = None
        raise SolverError(f"{what} LP failed (its answer violates the rows on three attempts)"
                          if status is None else f"{what} LP failed on three attempts",
                          "" if status is None else self._h.modelStatusToString(status))

    def _fresh(self, extra, equality: int | None) -> _Highs:
        """The current LP as a new model solved another way (presolve, primal simplex)."""
        G, g = np.array(self._G).reshape(-1, self.n), np.array(self._g)
        if extra is not None:
            G, g = np.vstack([G, extra[0]]), np.append(g, extra[1])
        r = np.ones((len(g), 1))
        if equality is not None:
            r[equality] = 0.0
        A, b = np.hstack([G, r]), -g
        if equality is not None:
            A, b = np.vstack([A, -A[equality]]), np.append(b, g[equality])
        h = _new_highs(self.tol)
        h.setOptionValue("presolve", "on")
        h.setOptionValue("simplex_strategy", 4)
        _pass_model(h, np.append(np.zeros(self.n), -1.0), A, b, np.append(np.full(self.n, -INF), 0.0),
                    np.append(np.full(self.n, INF), self.r_max))
        return h

    def chebyshev(self, extra: tuple[np.ndarray, float] | None = None) -> LPResult:
        """Largest ball inside the current rows (and one extra unit-normal row, if given).

        Returns
        -------
        LPResult
            ``value`` is the radius, ``x`` the centre.
        """
        if extra is None:
            return self._solve("Chebyshev")
        self._add(*extra)
        try:
            return self._solve("Chebyshev", extra=extra)
        finally:
            last = np.array([self._h.getNumRow() - 1], dtype=np.int32)
            self._h.deleteRows(1, last)

    def facet(self, k: int) -> LPResult:
        """Test whether row ``k`` is a facet: the largest margin of a point on its hyperplane.

        Returns
        -------
        LPResult
            ``value`` is the margin to every other row of the point ``x`` on
            hyperplane ``k``; the row is a facet iff it exceeds
            ``tol.facet_margin``.
        """
        c = self._g[k]
        self._h.changeCoeff(k, self.n, 0.0)
        self._h.changeRowBounds(k, -c, -c)
        try:
            return self._solve("facet", equality=k)
        finally:
            self._h.changeCoeff(k, self.n, 1.0)
            self._h.changeRowBounds(k, -INF, -c)


def _pass_model(h: _Highs, cost: np.ndarray, A_ub: np.ndarray, b_ub: np.ndarray,
                lower: np.ndarray, upper: np.ndarray) -> None:
    n = cost.shape[0]
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = A_ub.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(upper, dtype=np.float64)
    lp.row_lower_ = np.full(A_ub.shape[0], -INF)
    lp.row_upper_ = np.asarray(b_ub, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.arange(A_ub.shape[0] + 1, dtype=np.int32) * n
    lp.a_matrix_.index_ = np.tile(np.arange(n, dtype=np.int32), A_ub.shape[0])
    lp.a_matrix_.value_ = np.ascontiguousarray(A_ub, dtype=np.float64).ravel()
    h.passModel(lp)


def solve_lp(cost: np.ndarray, A_ub: np.ndarray, b_ub: np.ndarray,
             tol: Tolerances = DEFAULT_TOLERANCES) -> LPResult:
    """Minimise ``cost . x`` subject to ``A_ub x <= b_ub`` with ``x`` free.

    Returns
    -------
    LPResult
        ``feasible`` False if infeasible; ``value`` is ``-inf`` if unbounded.

    Raises
    ------
    SolverError
        On any other HiGHS status.
    """
    n = cost.shape[0]
    h = _new_highs(tol)
    _pass_model(h, cost, A_ub, b_ub, np.full(n, -INF), np.full(n, INF))
    h.run()
    status = h.getModelStatus()
    if status not in (_OK, _INFEASIBLE, highspy.HighsModelStatus.kUnbounded,
                      highspy.HighsModelStatus.kUnboundedOrInfeasible):
        # Numerical trouble at our tight tolerances: once more with presolve
        # and HiGHS's own (looser) defaults before giving up.
        h.setOptionValue("presolve", "on")
        h.setOptionValue("primal_feasibility_tolerance", 1e-7)
        h.setOptionValue("dual_feasibility_tolerance", 1e-7)
        h.clearSolver()
        h.run()
        status = h.getModelStatus()
    if status == _INFEASIBLE:
        return LPResult(False, np.inf, np.full(n, np.nan))
    if status in (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        # Decide unbounded-or-infeasible by a feasibility solve with zero cost.
        if status == highspy.HighsModelStatus.kUnboundedOrInfeasible and not solve_lp(
                np.zeros(n), A_ub, b_ub, tol).feasible:
            return LPResult(False, np.inf, np.full(n, np.nan))
        return LPResult(True, -np.inf, np.full(n, np.nan))
    if status != _OK:
        raise SolverError("LP failed", h.modelStatusToString(status))
    return LPResult(True, float(h.getInfo().objective_function_value), np.array(h.getSolution().col_value))


def nearest_point(x: np.ndarray, A_ub: np.ndarray, b_ub: np.ndarray, norm: str,
                  tol: Tolerances = DEFAULT_TOLERANCES) -> LPResult:
    """The point of ``{y : A_ub y <= b_ub}`` nearest to ``x`` in the l_inf (LP) or l_2 (QP) norm.

    Returns
    -------
    LPResult
        ``value`` is the distance, ``x`` the nearest point; ``feasible`` False
        if the set is empty.
    """
    n = x.shape[0]
    h = _new_highs(tol)
    if norm == "inf":
        # variables (y, s): min s with -s <= y_i - x_i <= s
        eye = np.eye(n)
        A = np.vstack([np.hstack([A_ub, np.zeros((A_ub.shape[0], 1))]),
                       np.hstack([eye, -np.ones((n, 1))]), np.hstack([-eye, -np.ones((n, 1))])])
        b = np.concatenate([b_ub, x, -x])
        cost = np.append(np.zeros(n), 1.0)
        _pass_model(h, cost, A, b, np.append(np.full(n, -INF), 0.0), np.full(n + 1, INF))
    elif norm == "2":
        # min |y|^2 - 2 x.y, i.e. |y - x|^2 - |x|^2
        _pass_model(h, -2.0 * x, A_ub, b_ub, np.full(n, -INF), np.full(n, INF))
        hess = highspy.HighsHessian()
        hess.dim_ = n
        hess.format_ = highspy.HessianFormat.kTriangular
        hess.start_ = np.arange(n + 1, dtype=np.int32)
        hess.index_ = np.arange(n, dtype=np.int32)
        hess.value_ = np.full(n, 2.0)
        h.passHessian(hess)
    else:
        raise ValueError(f"norm must be 'inf' or '2', got {norm!r}")
    h.run()
    status = h.getModelStatus()
    if status == _INFEASIBLE:
        return LPResult(False, np.inf, np.full(n, np.nan))
    if status != _OK:
        raise SolverError(f"nearest point ({norm} norm) failed", h.modelStatusToString(status))
    y = np.array(h.getSolution().col_value)[:n]
    return LPResult(True, float(np.linalg.norm(y - x, np.inf if norm == "inf" else 2)), y)


def chebyshev_ball(G: np.ndarray, g: np.ndarray, r_max: float,
                   tol: Tolerances = DEFAULT_TOLERANCES) -> LPResult:
    """Largest ball (radius capped at ``r_max``) inside ``{x : G x + g <= 0}``; one-off solve."""
    Gn, gn = normalise_rows(G, g)
    model = ChebyshevModel(G.shape[1], r_max, tol)
    model.sync(list(range(len(gn))), Gn, gn)
    return model.chebyshev()


def bounding_box(poly: Polytope, tol: Tolerances = DEFAULT_TOLERANCES) -> tuple[np.ndarray, np.ndarray]:
    """Smallest box around a polytope (``+-inf`` where it is unbounded), by ``2n`` LPs."""
    n = poly.dim
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        lo[i] = solve_lp(e, poly.P, poly.p, tol).value
        hi[i] = -solve_lp(-e, poly.P, poly.p, tol).value
    return lo, hi


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
    rank = int(np.sum(sing > 1e-12 * max(sing.max(), 1.0)))
    B = Vt[rank:].T
    keep = ~equal
    hull = AffineHull(x0, B, Polytope(P[keep] @ B, p[keep] - P[keep] @ x0))
    if B.shape[1] and hull.domain.P.shape[0]:
        Pn, pn = normalise_rows(hull.domain.P, -hull.domain.p)
        ball = chebyshev_ball(Pn, pn, tol.radius_cap, tol)
        if not ball.feasible or ball.value <= tol.min_radius:
            raise DomainError("domain is empty or thinner than the tolerance min_radius")
    return hull


# -------------------------------------------------- geometry without LPs ---

def vertices(G: np.ndarray, g: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """Vertices of a bounded polytope ``{x : G x + g <= 0}`` around a strict interior point.

    Uses qhull's half-space intersection (dimension >= 2) or the interval ends (1-D).
    """
    n = G.shape[1]
    if n == 1:
        a, c = G[:, 0], g
        lo = np.max(-c[a < 0] / a[a < 0]) if np.any(a < 0) else -np.inf
        hi = np.min(-c[a > 0] / a[a > 0]) if np.any(a > 0) else np.inf
        return np.array([[lo], [hi]])
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


def vertices_or_empty(G: np.ndarray, g: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """Like :func:`vertices`, but an empty array where qhull fails or returns non-finite points."""
    from scipy.spatial import QhullError

    try:
        V = vertices(G, g, interior)
    except (QhullError, ValueError):
        return np.zeros((0, G.shape[1]))
    return V if np.all(np.isfinite(V)) else np.zeros((0, G.shape[1]))


def volume(G: np.ndarray, g: np.ndarray, interior: np.ndarray) -> float:
    """Volume (length, area) of a bounded polytope from its vertices; ``nan`` where qhull fails."""
    V = vertices_or_empty(G, g, interior)
    if V.shape[0] == 0:
        return float("nan")
    if V.shape[1] == 1:
        return float(V[1, 0] - V[0, 0])
    if V.shape[1] == 2:
        V = _counter_clockwise(V)
        return _shoelace(V, np.concatenate((V[1:], V[:1])))
    from scipy.spatial import ConvexHull, QhullError

    V = V - V.mean(axis=0)
    for options in ("", "QJ"):  # joggling moves the volume by ~1e-11 relative, no more
        try:
            return float(ConvexHull(V, qhull_options=options or None).volume)
        except QhullError:
            continue
    return float("nan")


# A vertex lies on a hyperplane (unit normal) within this distance, relative
# to 1 + the largest coordinate: far above the rounding of a vertex carried
# through a few dozen cuts, far below any feature the search resolves.
VERTEX_TOL = 1e-9


def _vertex_eps(V: np.ndarray) -> float:
    """``VERTEX_TOL`` on the scale of the vertices ``V``."""
    return VERTEX_TOL * (1.0 + np.abs(V).max())


def distinct_vertices(V: np.ndarray) -> np.ndarray:
    """``V`` without repeats (qhull lists a vertex on more than ``n`` facets once per facet of its dual)."""
    if V.shape[0] < 2:
        return V
    eps = _vertex_eps(V)
    near = np.abs(V[:, None, :] - V[None, :, :]).max(axis=2) <= eps
    return V[~np.triu(near, 1).any(axis=0)]


def cut_vertices(V: np.ndarray, G: np.ndarray, g: np.ndarray, vals: np.ndarray,
                 eps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
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

    Returns
    -------
    (V_minus, V_plus)
        Vertices of the parts where ``a . x + c <= 0`` and ``>= 0``: the old
        vertices of each side (those on the hyperplane in both) and one new
        vertex where each edge crosses it. Two vertices span an edge when
        the rows tight at both have rank ``n - 1``; the combinatorial test
        (at least ``n - 1`` common tight rows and no third vertex tight on
        all of them) decides all but degenerate pairs, which get the rank.
    """
    eps = _vertex_eps(V) if eps is None else eps
    if _compiled(V.shape[1]):
        minus, plus, done = _kernel("cut")(V, G, g, np.ascontiguousarray(vals), eps)
        if done:
            return minus, plus
    return _cut_numpy(V, G, g, vals, eps)


def _cut_numpy(V: np.ndarray, G: np.ndarray, g: np.ndarray, vals: np.ndarray,
               eps: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cut_vertices` in numpy: the path without numba, and for pairs that need the rank test."""
    n = V.shape[1]
    neg, pos = vals < -eps, vals > eps
    if not (neg.any() and pos.any()):
        return V[~pos], V[~neg]
    on = (np.abs(V @ G.T + g) <= eps).astype(np.float64)
    iu, iw = np.nonzero(on[neg] @ on[pos].T >= n - 1)
    masks = on[neg][iu] * on[pos][iw]
    holders = (on @ masks.T == masks.sum(axis=1)).sum(axis=0)
    edge = holders == 2
    for e in np.flatnonzero(~edge):  # near-duplicate vertices: do the common rows meet in a line?
        rows = G[masks[e] > 0]
        edge[e] = n == 1 or (len(rows) >= n - 1 and np.linalg.svd(rows, compute_uv=False)[n - 2] > 1e-9)
    Vn, Vp = V[neg][iu[edge]], V[pos][iw[edge]]
    sn, sp = vals[neg][iu[edge]], vals[pos][iw[edge]]
    new = Vn + (sn / (sn - sp))[:, None] * (Vp - Vn)
    return np.vstack([V[~pos], new]), np.vstack([V[~neg], new])


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


def _counter_clockwise(V: np.ndarray) -> np.ndarray:
    """The vertices of a convex polygon sorted by angle around their mean."""
    centre = V.mean(axis=0)
    return V[np.argsort(np.arctan2(V[:, 1] - centre[1], V[:, 0] - centre[0]), kind="stable")]


def polygon(G: np.ndarray, g: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """Vertices of a bounded polygon ``{x in R^2 : G x + g <= 0}`` in counter-clockwise order."""
    V = _counter_clockwise(vertices(G, g, interior))
    # qhull lists a vertex once per pair of rows through it: keep one copy
    keep = np.linalg.norm(V - np.roll(V, 1, axis=0), axis=1) > 1e-12 * (1.0 + np.abs(V).max())
    return V[keep] if keep.any() else V[:1]


def clip_polygon(V: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """The part of the convex polygon ``V`` (vertices in order) where the affine ``vals`` is ``<= 0``.

    ``vals`` holds the function's values at the vertices; a vertex with value
    0 belongs to both parts, a crossing edge gives one new vertex.
    """
    nxt = np.concatenate((vals[1:], vals[:1]))
    cross = ((vals < 0) & (nxt > 0)) | ((vals > 0) & (nxt < 0))
    keep = vals <= 0
    if not cross.any():
        return V[keep]
    i = np.flatnonzero(cross)
    j = (i + 1) % len(V)
    # each vertex kept is followed by the crossing point on its outgoing edge, if any
    out = np.empty((2 * len(V), V.shape[1]))
    out[0::2] = V
    out[2 * i + 1] = V[i] + (vals[i] / (vals[i] - vals[j]))[:, None] * (V[j] - V[i])
    return out[np.column_stack([keep, cross]).ravel()]


def polygon_inradius_bounds(V: np.ndarray) -> tuple[float, float]:
    """Bounds ``(A/P, 2A/P)`` on the inradius of a convex polygon from its area ``A`` and perimeter ``P``.

    The upper bound: the triangles from the incentre to the edges have
    height ``r`` and fill at most ``A``. The lower: Bonnesen's inequality
    ``A + pi r^2 <= r P`` for planar convex sets.
    """
    if len(V) < 3:
        return 0.0, 0.0
    W = np.concatenate((V[1:], V[:1]))
    area = _shoelace(V, W)
    perimeter = float(np.sqrt(((W - V) ** 2).sum(axis=1)).sum())
    return area / perimeter, 2.0 * area / perimeter


def _shoelace(V: np.ndarray, W: np.ndarray) -> float:
    return 0.5 * abs(float(np.sum(V[:, 0] * W[:, 1] - V[:, 1] * W[:, 0])))


@lru_cache(maxsize=256)
def _subsets(k: int, size: int) -> np.ndarray:
    return np.array(list(combinations(range(k), size)), dtype=np.intp).reshape(-1, size)


# Beyond this many (n+1)-subsets of facets the LP solver is quicker.
_MAX_SUBSETS = 2000

# Vertices of a face closer than this (relative) are one vertex counted twice.
_SPAN_TOL = 1e-11


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
        the other rows (zero for rows that are not facets).
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
        keep[c] = np.linalg.svd(V[l, on[l, :, r]] - point[l, r], compute_uv=False)[n - 2] > _SPAN_TOL * scale[l]
    facet = np.zeros((L, K), dtype=bool)
    facet[cl[keep], cr[keep]] = True
    margin = np.zeros((L, K))
    margin[cl[keep], cr[keep]] = least[keep]
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
    T = _subsets(width, n + 1)
    ls, ts = np.nonzero(few[:, None] & (T[:, -1][None, :] < count[:, None]))  # subsets in order, polytope by polytope
    A = np.concatenate([F[ls[:, None], T[ts]], np.ones((len(ls), n + 1, 1))], axis=2)  # [a, 1] . (x, r) = -c
    ok = np.abs(np.linalg.det(A)) > 1e-12
    ls, sol = ls[ok], np.linalg.solve(A[ok], -f[ls[ok][:, None], T[ts[ok]]][..., None])[..., 0]
    slack = np.einsum("qkj,qj->qk", F[ls], sol[:, :n]) + f[ls] + sol[:, n:]
    slack[~fmask[ls]] = -np.inf
    size = np.abs(np.where(fmask, f, 0.0)).max(axis=1, initial=0.0)
    fits = (slack.max(axis=1, initial=-np.inf) <= 1e-10 * (1.0 + size[ls])) & (sol[:, n] >= 0)
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
    installed (``pip install 'shallowrelu[fast]'``), kept only with its
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
    if _compiled(n):
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
    facet, point, margin, done, centre, radius, ok = _kernel("leaf")(G, g, V, tol.facet_margin, _vertex_eps(V),
                                                                     tol.lp_feasibility)
    if not done:  # a short facet needs the span test
        one = _facets_by_vertices(G[None], g[None], np.ones((1, len(g)), dtype=bool), V[None],
                                  np.ones((1, len(V)), dtype=bool), tol.facet_margin)
        facet, point, margin = (a[0] for a in one)
        centre, radius, ok = _kernel("proved_chebyshev")(G[facet], g[facet], V.mean(axis=0), tol.lp_feasibility)
    return (facet, point, margin), (LPResult(True, float(radius), centre) if ok else None)


def split_vertices(V: np.ndarray, G: np.ndarray, g: np.ndarray, a: np.ndarray, c: float,
                   vals: np.ndarray) -> tuple[tuple, tuple]:
    """:func:`cut_vertices` by ``a . x + c`` (unit ``a``), with :func:`inradius_bounds` of both parts.

    Returns ``((V_minus, low, high, centre), (V_plus, low, high, centre))``.
    """
    eps = _vertex_eps(V)
    if _compiled(V.shape[1]):
        minus, plus, done, b_minus, b_plus = _kernel("split")(V, G, g, np.ascontiguousarray(a), float(c),
                                                              np.ascontiguousarray(vals), eps)
        if done:
            return (minus, *b_minus), (plus, *b_plus)
    minus, plus = _cut_numpy(V, G, g, vals, eps)  # not cut_vertices: the compiled cut just declined
    return ((minus, *inradius_bounds(minus, np.vstack([G, a]), np.append(g, c))),
            (plus, *inradius_bounds(plus, np.vstack([G, -a]), np.append(g, -c))))


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
        T = _subsets(int(k), n)
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
    ok = np.abs(np.linalg.det(A)) > 1e-12
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

