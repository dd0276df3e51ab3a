"""Exact rational decisions where float64 cannot decide.

Owns the network's weights taken as the exact binary numbers they are
(:class:`ExactNetwork`: integers over a power of two, so every quantity of a
forward pass is exact) and one small exact LP (:func:`max_margin`): the
largest ball-like margin of ``{t : A t + c < 0}`` in rational arithmetic.
The search calls it only for the rare side whose float inradius lies within
the tolerance (:mod:`shallowrelu.enumerator.search`); nothing here talks to
HiGHS. Python's integers and ``Fraction`` do the arithmetic: the decisions
are few and small (a handful of variables), so a dependency would not pay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import SolverError
from ..network import ReLUNetwork
from .lp import solve_lp
from ..tolerances import FACE_RANK_TOL

# Pivots before an exact LP gives up (Bland's rule cannot cycle; this is a guard).
_MAX_PIVOTS = 10_000


def dyadic(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Integers ``N`` (object array) and a power of two ``D`` with ``a == N / D`` exactly."""
    flat = np.asarray(a, dtype=np.float64).ravel()
    if not np.all(np.isfinite(flat)):
        raise ValueError("exact arithmetic needs finite numbers")
    ratios = [float(v).as_integer_ratio() for v in flat]
    D = max((den for _, den in ratios), default=1)
    N = np.array([num * (D // den) for num, den in ratios], dtype=object).reshape(np.shape(a))
    return N, D


@dataclass(frozen=True)
class Forms:
    """Affine functions ``(M t + v) / D`` with integer ``M`` (rows) and ``v`` (object arrays)."""

    M: np.ndarray
    v: np.ndarray
    D: int


class ExactNetwork:
    """A network whose float64 weights (and slopes) are taken as exact numbers.

    Parameters
    ----------
    net : ReLUNetwork
        In the coordinates the search works in (restricted to a flat
        domain's hull, when it is flat).
    """

    def __init__(self, net: ReLUNetwork) -> None:
        self.layers = [(dyadic(W), dyadic(b)) for W, b in net.layers]
        self.slopes = [None if k is None else dyadic(k.slope) for k in (net.kinks or [None] * (len(net.layers) - 1))]
        self.offsets = np.concatenate([[0], np.cumsum(net.hidden_sizes)]).astype(int)
        self._cache: tuple[bytes, list[Forms]] | None = None

    def forms(self, pattern: np.ndarray, layers: int) -> list[Forms]:
        """Pre-activations of hidden layers ``0 .. layers-1`` as exact affine functions of the input,
        on the set where the earlier layers have the signs ``pattern`` (at least ``offsets[layers-1]`` long)."""
        key = np.asarray(pattern[:self.offsets[layers - 1]], dtype=bool).tobytes() + bytes([layers])
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        (W, DW), (b, Db) = self.layers[0]
        D = max(DW, Db)
        out = [Forms(W * (D // DW), b * (D // Db), D)]
        for l in range(1, layers):
            prev = out[-1]
            s = np.asarray(pattern[self.offsets[l - 1]:self.offsets[l]], dtype=bool)
            (W, DW), (b, Db) = self.layers[l]
            if self.slopes[l - 1] is None:  # ReLU: the active units pass, the others give 0
                PD, PM, Pv = prev.D, prev.M[s], prev.v[s]
            else:  # each unit passes f * z: f = 1 where its bit is set, its slope where not
                (SN, SD) = self.slopes[l - 1]
                f = np.array([SD if bit else n for bit, n in zip(s, SN)], dtype=object)
                s = f != 0
                PD, PM, Pv = prev.D * SD, prev.M[s] * f[s][:, None], prev.v[s] * f[s]
            D = max(DW * PD, Db)
            M, v = W[:, s].dot(PM), W[:, s].dot(Pv)  # exact zeros when no unit passes anything
            k = D // (DW * PD)
            out.append(Forms(M * k, v * k + b * (D // Db), D))
        self._cache = (key, out)
        return out


def dot(row, x) -> Fraction:
    """``row . x`` in exact arithmetic (zero entries of ``x`` skipped)."""
    return sum((a * v for a, v in zip(row, x) if v), Fraction(0))


def rational(x: np.ndarray) -> list[Fraction]:
    """The exact values of float64 numbers."""
    return [Fraction(float(v)) for v in np.ravel(x)]


def _solve(A: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """``A x = rhs`` for a small non-singular ``A``, exactly (Gaussian elimination)."""
    d = len(rhs)
    M = [list(row) + [r] for row, r in zip(A, rhs)]
    for col in range(d):
        piv = next(r for r in range(col, d) if M[r][col] != 0)
        M[col], M[piv] = M[piv], M[col]
        inv = 1 / Fraction(M[col][col])
        for r in range(d):
            if r != col and M[r][col] != 0:
                f = M[r][col] * inv
                M[r] = [a - f * b for a, b in zip(M[r], M[col])]
    return [M[r][d] / M[r][r] for r in range(d)]


@dataclass(frozen=True)
class Margin:
    """The optimum of :func:`max_margin`: ``value`` > 0 iff the open set is non-empty, ``point`` attains it."""

    value: Fraction
    point: list[Fraction]


def max_margin(A: np.ndarray, c: np.ndarray, weights: list[Fraction], lo: list[Fraction], hi: list[Fraction],
               cap: Fraction) -> Margin:
    """Largest ``s <= cap`` with a point ``t`` in the box ``[lo, hi]`` where ``A t + c + w s <= 0``, exactly.

    ``A`` (rows) and ``c`` are integers or fractions (object arrays), ``w``
    positive weights (with ``w`` the rows' norms, ``s`` is the radius of the
    largest ball). The set ``{t : A t + c < 0}`` meets the box's interior iff
    the answer is positive. Primal simplex over the vertices of
    ``{(t, s)}``, Bland's rule, from the vertex of the float LP's optimum
    when it is feasible exactly (most often it is also optimal), else from
    a corner of the box.

    Raises
    ------
    SolverError
        If the pivot guard is reached (it should not be).
    """
    n = len(lo)
    rows: list[list[Fraction]] = []
    rhs: list[Fraction] = []
    for i in range(n):  # the box first: lower rows 0..n-1, upper n..2n-1
        rows.append([Fraction(-1 if j == i else 0) for j in range(n)] + [Fraction(0)])
        rhs.append(-lo[i])
    for i in range(n):
        rows.append([Fraction(1 if j == i else 0) for j in range(n)] + [Fraction(0)])
        rhs.append(hi[i])
    rows.append([Fraction(0)] * n + [Fraction(1)])
    rhs.append(cap)
    for a, ci, w in zip(A, c, weights):
        rows.append([Fraction(v) for v in a] + [w])
        rhs.append(-Fraction(ci))
    d = n + 1
    x, basis = _float_start(rows, rhs) or _corner(rows, rhs, lo)
    slack = [r - dot(row, x) for row, r in zip(rows, rhs)]
    objective = [Fraction(0)] * n + [Fraction(1)]
    for _ in range(_MAX_PIVOTS):
        AB = [rows[k] for k in basis]
        y = _solve([list(col) for col in zip(*AB)], objective)
        negative = [(basis[p], p) for p in range(d) if y[p] < 0]
        if not negative:
            return Margin(x[n], x[:n])
        _, p = min(negative)
        direction = _solve(AB, [Fraction(-1 if q == p else 0) for q in range(d)])
        rates = [dot(row, direction) for row in rows]
        in_basis = set(basis)
        steps = [(slack[k] / rates[k], k) for k in range(len(rows)) if rates[k] > 0 and k not in in_basis]
        if not steps:  # the cap and the box bound every direction
            raise SolverError("exact LP unbounded (cannot happen with a box)", "")
        step, enter = min(steps)
        x = [xi + step * di for xi, di in zip(x, direction)]
        slack = [sk - step * rk for sk, rk in zip(slack, rates)]
        basis[p] = enter
    raise SolverError(f"exact LP did not finish in {_MAX_PIVOTS} pivots", "")


def _corner(rows: list[list[Fraction]], rhs: list[Fraction], lo: list[Fraction]):
    """A vertex of :func:`max_margin`'s LP: the box's lower corner and the largest ``s`` there."""
    n = len(lo)
    x = list(lo) + [Fraction(0)]
    slack = [r - dot(row, x) for row, r in zip(rows, rhs)]
    s0, first = min((slack[k] / rows[k][n], k) for k in range(2 * n, len(rows)))
    x[n] = s0
    return x, list(range(n)) + [first]


def _float_start(rows: list[list[Fraction]], rhs: list[Fraction]):
    """The vertex of :func:`max_margin`'s LP at the float LP's optimum (its tightest independent rows),
    or None if exact arithmetic finds it infeasible or singular."""
    d = len(rows[0])
    scale = [max(max(abs(v) for v in row), abs(r)) or Fraction(1) for row, r in zip(rows, rhs)]
    A = np.array([[float(v / sc) for v in row] for row, sc in zip(rows, scale)])
    b = np.array([float(r / sc) for r, sc in zip(rhs, scale)])
    try:
        res = solve_lp(np.append(np.zeros(d - 1), -1.0), A, b)
    except SolverError:
        return None
    if not res.feasible or not np.all(np.isfinite(res.x)):
        return None
    basis: list[int] = []
    for k in np.argsort(b - A @ res.x, kind="stable"):
        if np.linalg.matrix_rank(A[basis + [int(k)]], tol=FACE_RANK_TOL) == len(basis) + 1:
            basis.append(int(k))
            if len(basis) == d:
                break
    try:
        x = _solve([rows[k] for k in basis], [rhs[k] for k in basis])
    except (StopIteration, ZeroDivisionError, IndexError):
        return None
    if any(dot(row, x) > r for row, r in zip(rows, rhs)):
        return None
    return x, basis


def norm_weight(a: np.ndarray) -> Fraction:
    """A positive exact weight near the Euclidean norm of an integer row (1 for a zero row)."""
    big = max((abs(int(v)) for v in a), default=0)
    if big == 0:
        return Fraction(1)
    value = math.sqrt(sum(float(Fraction(int(v), big)) ** 2 for v in a))
    return Fraction(value) * big
