"""The one seam to the LP solver: every HiGHS model of the project is made here.

Owns the warm Chebyshev model of the search (:class:`ChebyshevModel`),
one-off LPs and QPs (:func:`solve_lp`, :func:`nearest_point`,
:func:`chebyshev_ball`, :func:`bounding_box`) and the :class:`LPResult` record
they all return. Every answer is read from HiGHS's model status, never from
the return code alone. No other module imports highspy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numpy as np
from highspy._core import _Highs, cb

from ..errors import SolverError
from ..limits import OutOfTime, check_time, solver_callback, stoppable, time_left
from ..tolerances import (DEFAULT_TOLERANCES, FALLBACK_LP_FEASIBILITY, KKT_ENTER, KKT_MULTIPLIER, KKT_PROOF,
                          KKT_ZERO_STEP, ROUNDING_REL, Tolerances)
from .domain import Polytope, normalise_rows

INF = highspy.kHighsInf
_OK = highspy.HighsModelStatus.kOptimal
_INFEASIBLE = highspy.HighsModelStatus.kInfeasible
_STOPPED = (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt)
# HiGHS's callbacks that may stop a solve: simplex, interior point, MIP.
INTERRUPT_CALLBACKS = (cb.HighsCallbackType.kCallbackSimplexInterrupt, cb.HighsCallbackType.kCallbackIpmInterrupt,
                       cb.HighsCallbackType.kCallbackMipInterrupt)
# A model with this many matrix entries (columns times rows) or more can solve for seconds; smaller
# ones end within milliseconds, and a Python callback would slow the many small LPs of the search.
_LONG_LP_ENTRIES = 20_000


@dataclass(frozen=True)
class LPResult:
    """One LP answer: ``feasible`` is False only when HiGHS proved infeasibility."""

    feasible: bool
    value: float
    x: np.ndarray


def _new_highs(tol: Tolerances) -> _Highs:
    """A silent HiGHS instance with this package's options."""
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
        """Add the Chebyshev row ``a . t + c + |a| r <= 0`` (``a`` a unit row)."""
        self._h.addRow(-INF, -float(c), self.n + 1, self._idx, np.append(a, 1.0))

    def _violation(self, sol: np.ndarray, extra, equality: int | None) -> float:
        """How far the solution ``sol`` breaks the model's rows (and ``extra``, and an equality row)."""
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
        """Solve the model warm, then cold, then afresh; the first checked optimum or infeasibility wins."""
        self.solves += 1
        status = None
        for attempt in ("warm", "cold", "fresh"):
            if attempt == "cold":
                # A cold restart clears a basis that went numerically bad.
                self._h.clearSolver()
            h = self._fresh(extra, equality) if attempt == "fresh" else self._h
            status = run_highs(h)
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

    def chebyshev(self, extra: tuple[np.ndarray, float | np.ndarray] | None = None) -> LPResult:
        """Largest ball inside the current rows (and extra unit-normal rows, if given).

        Parameters
        ----------
        extra : (a, c), optional
            One row (``a`` of shape ``(n,)``, ``c`` a float) or several
            (``a`` of shape ``(k, n)``, ``c`` of shape ``(k,)``), ``a . t + c <= 0``,
            held only for this solve.

        Returns
        -------
        LPResult
            ``value`` is the radius, ``x`` the centre.
        """
        if extra is None:
            return self._solve("Chebyshev")
        rows, offsets = np.atleast_2d(extra[0]), np.atleast_1d(extra[1])
        for a, c in zip(rows, offsets):
            self._add(a, c)
        try:
            return self._solve("Chebyshev", extra=extra)
        finally:
            last = np.arange(self._h.getNumRow() - len(offsets), self._h.getNumRow(), dtype=np.int32)
            self._h.deleteRows(last.size, last)

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


def run_highs(h: _Highs) -> highspy.HighsModelStatus:
    """Solve ``h`` within the deadline (:mod:`shallowrelu.limits`) and stoppable by a signal; its status.

    Raises
    ------
    OutOfTime
        If the deadline passed before or during the solve.
    """
    check_time()
    left = time_left()
    # HiGHS's time limit counts the model's run time over all its solves.
    h.setOptionValue("time_limit", h.getRunTime() + left if math.isfinite(left) else INF)
    if h.getNumCol() * h.getNumRow() < _LONG_LP_ENTRIES:
        h.run()
    else:
        with stoppable() as caught:
            h.setCallback(solver_callback, caught)
            for kind in INTERRUPT_CALLBACKS:
                h.startCallback(kind)
            try:
                h.run()
            finally:
                h.setCallback(None, None)
    status = h.getModelStatus()
    if status in _STOPPED and time_left() <= 0:
        raise OutOfTime
    return status


def _run(h: _Highs) -> highspy.HighsModelStatus:
    """Solve; on numerical trouble at our tight tolerances (any status but optimal, infeasible or
    unbounded), once more with presolve and HiGHS's own looser defaults before giving up."""
    status = run_highs(h)
    if status not in (_OK, _INFEASIBLE, highspy.HighsModelStatus.kUnbounded,
                      highspy.HighsModelStatus.kUnboundedOrInfeasible):
        h.setOptionValue("presolve", "on")
        h.setOptionValue("primal_feasibility_tolerance", FALLBACK_LP_FEASIBILITY)
        h.setOptionValue("dual_feasibility_tolerance", FALLBACK_LP_FEASIBILITY)
        h.clearSolver()
        status = run_highs(h)
    return status


def _pass_model(h: _Highs, cost: np.ndarray, A_ub: np.ndarray, b_ub: np.ndarray,
                lower: np.ndarray, upper: np.ndarray) -> None:
    """Load the LP ``min cost . x, A_ub x <= b_ub, lower <= x <= upper`` into ``h``."""
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
    status = _run(h)
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
                  tol: Tolerances = DEFAULT_TOLERANCES, basis: np.ndarray | None = None) -> LPResult:
    """The point of ``{y : A_ub y <= b_ub}`` nearest to ``x`` in the l_inf (LP) or l_2 (QP) norm.

    Parameters
    ----------
    x : ndarray, shape (n,)
    A_ub, b_ub : ndarray
        The set, ``A_ub y <= b_ub``.
    norm : {"inf", "2"}
    tol : Tolerances
    basis : ndarray, shape (N, n), optional
        Orthonormal columns: distances are measured between ``basis @ y`` and
        ``basis @ x``, as for the coordinates of a flat domain whose inputs
        are ``x0 + basis @ y``. Only the l_inf distance depends on it.

    Returns
    -------
    LPResult
        ``value`` is the distance, ``x`` the nearest point; ``feasible`` False
        if the set is empty.
    """
    n = x.shape[0]
    M = np.eye(n) if basis is None else basis
    lower, upper = np.full(n, -INF), np.full(n, INF)
    result = _nearest(x, A_ub, b_ub, norm, tol, lower, upper, M)
    if result is None:
        # HiGHS's QP solver can fail on such a small problem with free variables (ACAS Xu regions):
        # from a feasible point the LP finds, a box that holds the answer, then our own active set.
        feasible = solve_lp(np.zeros(n), A_ub, b_ub, tol)
        if not feasible.feasible:
            return LPResult(False, np.inf, np.full(n, np.nan))
        # the answer y is no farther than the feasible point: |y - x|_2 <= sqrt(N) |M (y - x)|_inf
        reach = np.sqrt(M.shape[0]) * float(np.abs(M @ (feasible.x - x)).max()) + 1.0
        result = _nearest(x, A_ub, b_ub, norm, tol, x - reach, x + reach, M)
        if result is None and norm == "2":
            y = _projection(x, A_ub, b_ub, feasible.x)
            if _is_projection(x, y, A_ub, b_ub, tol):
                result = LPResult(True, float(np.linalg.norm(y - x)), y)
    if result is None:
        raise SolverError(f"nearest point ({norm} norm) failed", "no optimum on three attempts")
    return result


def _projection(x: np.ndarray, A: np.ndarray, b: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The point of ``{A y <= b}`` nearest to ``x`` (l_2) by a primal active-set method from the
    feasible ``y``; the caller checks the answer with :func:`_is_projection`."""
    scale = 1.0 + float(np.abs(b).max(initial=0.0))
    work: list[int] = []
    for _ in range(8 * (A.shape[0] + A.shape[1])):
        W = A[work]
        # the step towards x that keeps the working rows tight: x - y minus its part in their span
        lam = np.linalg.lstsq(W.T, x - y, rcond=None)[0] if work else np.zeros(0)
        step = (x - y) - W.T @ lam
        if np.linalg.norm(step) <= KKT_ZERO_STEP * scale:
            if lam.size == 0 or lam.min() >= -KKT_MULTIPLIER:
                return y
            work.pop(int(np.argmin(lam)))
            continue
        Ap = A @ step
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(Ap > KKT_ENTER, np.maximum(b - A @ y, 0.0) / Ap, np.inf)
        room[work] = np.inf
        k = int(np.argmin(room))
        if room[k] >= 1.0:
            y = y + step
        else:
            y = y + room[k] * step
            work.append(k)
    return y


def _nearest(x: np.ndarray, A_ub: np.ndarray, b_ub: np.ndarray, norm: str, tol: Tolerances,
             lower: np.ndarray, upper: np.ndarray, M: np.ndarray) -> LPResult | None:
    """One attempt of :func:`nearest_point` with bounds on ``y`` (distances between ``M y`` and ``M x``);
    None when HiGHS finds no optimum."""
    n = x.shape[0]
    h = _new_highs(tol)
    if norm == "inf":
        # variables (y, s): min s with -s <= (M (y - x))_i <= s
        ones = np.ones((M.shape[0], 1))
        A = np.vstack([np.hstack([A_ub, np.zeros((A_ub.shape[0], 1))]), np.hstack([M, -ones]),
                       np.hstack([-M, -ones])])
        b = np.concatenate([b_ub, M @ x, -(M @ x)])
        cost = np.append(np.zeros(n), 1.0)
        _pass_model(h, cost, A, b, np.append(lower, 0.0), np.append(upper, INF))
    elif norm == "2":
        # min |y|^2 - 2 x.y, i.e. |y - x|^2 - |x|^2
        _pass_model(h, -2.0 * x, A_ub, b_ub, lower, upper)
        hess = highspy.HighsHessian()
        hess.dim_ = n
        hess.format_ = highspy.HessianFormat.kTriangular
        hess.start_ = np.arange(n + 1, dtype=np.int32)
        hess.index_ = np.arange(n, dtype=np.int32)
        hess.value_ = np.full(n, 2.0)
        h.passHessian(hess)
    else:
        raise ValueError(f"norm must be 'inf' or '2', got {norm!r}")
    status = _run(h)
    if status == _INFEASIBLE:
        return LPResult(False, np.inf, np.full(n, np.nan))
    y = np.array(h.getSolution().col_value)[:n]
    if status != _OK and not (norm == "2" and _is_projection(x, y, A_ub, b_ub, tol)):
        return None
    return LPResult(True, float(np.linalg.norm(M @ (y - x), np.inf if norm == "inf" else 2)), y)


def _is_projection(x: np.ndarray, y: np.ndarray, A_ub: np.ndarray, b_ub: np.ndarray, tol: Tolerances) -> bool:
    """Whether ``y`` is the point of ``{A_ub y <= b_ub}`` nearest to ``x`` in the l_2 norm, checked from the
    optimality conditions alone: ``y`` feasible and ``x - y`` a non-negative combination of the rows
    tight at ``y`` (HiGHS's QP solver reports a solve error on some problems it has solved)."""
    from scipy.optimize import nnls

    if not np.all(np.isfinite(y)):
        return False
    scale = 1.0 + float(np.abs(b_ub).max(initial=0.0)) + float(np.abs(y).max(initial=0.0))
    slack = A_ub @ y - b_ub
    if slack.max(initial=-np.inf) > tol.lp_feasibility * scale * 10:
        return False
    tight = slack >= -KKT_PROOF * scale
    target = x - y
    if not tight.any():
        return bool(np.linalg.norm(target) <= ROUNDING_REL * scale)
    _, residual = nnls(A_ub[tight].T, target)
    return bool(residual <= KKT_PROOF * (1.0 + np.linalg.norm(target)))


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

