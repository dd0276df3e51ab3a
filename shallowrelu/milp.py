"""The big-M mixed-integer model of a ReLU network over a bounded domain (PuLP with HiGHS).

The independent second exact method: pattern counting by repeated solves
with no-good cuts (Serra et al. 2018), exact output extrema. Big-M constants
come only from the sound (interval and CROWN) bounds of :mod:`shallowrelu.bounds`; a
neuron they prove stable gets no binary. This is the only module that
imports PuLP.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import pulp

from .bounds import apply_split, layer_bounds
from .errors import DomainError, SolverError
from .limits import OutOfTime, check_time, solver_callback, stoppable, time_left
from .network import ReLUNetwork, as_network
from .polytope import Domain, normalise_rows
from .polytope.hull import affine_hull
from .polytope.lp import INTERRUPT_CALLBACKS, bounding_box
from .tolerances import DEFAULT_TOLERANCES, MILP_COUNT_MARGIN, MILP_LABEL_MARGIN, Tolerances

# Interior margin cap (activation units) of the counting model.
_RHO_MAX = 1.0


@contextlib.contextmanager
def _quiet():
    """Silence HiGHS's start-up banner, which it prints on stdout from C++."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@dataclass(frozen=True)
class NetworkMILP:
    """The MILP of a network over a domain: variables, the ReLU constraints, and the bounds used.

    Attributes
    ----------
    problem : pulp.LpProblem
    x : list of pulp.LpVariable
        Inputs (in the domain's hull coordinates).
    z : list of list
        Pre-activation expressions per hidden layer.
    active : list of list
        Per neuron: a binary variable, or True/False where the bounds settle it.
    y : list
        Output expressions.
    bounds : list of (ndarray, ndarray)
        The sound bounds (interval and CROWN) that gave every big-M.
    margin : pulp.LpVariable or None
        The interior margin ``rho`` of the counting model.
    """

    problem: pulp.LpProblem
    x: list
    z: list
    active: list
    y: list
    bounds: list
    margin: pulp.LpVariable | None


def _hull_and_box(net: ReLUNetwork, domain: Domain, tol: Tolerances):
    """The domain's hull, the network in its coordinates, and its bounding box (refused if unbounded)."""
    if domain is None:
        raise DomainError("the MILP needs a bounded domain: give a box or a polytope")
    hull = affine_hull(domain, net.n_inputs, tol)
    lo, hi = bounding_box(hull.domain, tol)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise DomainError("the MILP needs a bounded domain; this polytope is unbounded")
    work = net.restrict(hull.x0, hull.B) if hull.flat else net
    return hull, work, lo, hi


def build_milp(net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, P: np.ndarray, p: np.ndarray,
               sense: int = pulp.LpMinimize, with_margin: bool = False, bounds: list | None = None,
               split: list | None = None) -> NetworkMILP:
    """The big-M model of ``net`` over ``{x : P x <= p}`` inside the box ``[lo, hi]``.

    ``with_margin`` adds a variable ``rho``: every unstable neuron keeps its
    pre-activation at least ``rho`` from zero on its chosen side and every
    domain row holds with slack ``rho`` (unit normals), so a solution with
    ``rho > 0`` is an interior point of a full-dimensional region.
    ``bounds`` (per hidden layer ``(L, U)``, sound over the box) replace
    the CROWN bounds computed here, and ``split`` (per hidden layer None or
    one int per unit: 1 ``z >= 0``, -1 ``z <= 0``) restricts the model to
    a part of the box where some elementwise units have a fixed side.
    """
    prob = pulp.LpProblem("relu", sense)
    n = len(lo)
    x = [prob.add_variable(f"x{i}", float(lo[i]), float(hi[i])) for i in range(n)]
    margin = prob.add_variable("rho", 0.0, _RHO_MAX) if with_margin else None
    Pn, pn = normalise_rows(P, -p) if P.shape[0] else (P, p)
    for k in range(P.shape[0]):
        expr = pulp.lpSum(float(Pn[k, i]) * x[i] for i in range(n) if Pn[k, i] != 0) + float(pn[k])
        prob += (expr + margin <= 0) if margin is not None else (expr <= 0), f"domain{k}"
    bounds = layer_bounds(net, lo, hi) if bounds is None else bounds
    h = x
    zs, acts = [], []
    for l, ((W, b), (L, U)) in enumerate(zip(net.layers[:-1], bounds)):
        zl = [pulp.lpSum(float(W[i, k]) * h[k] for k in range(len(h)) if W[i, k] != 0) + float(b[i])
              for i in range(W.shape[0])]
        fixed = None if split is None else split[l]
        if fixed is not None and np.any(fixed):
            L, U = apply_split(L, U, fixed)
            for i in np.flatnonzero(fixed):
                prob += (zl[i] >= 0 if fixed[i] > 0 else zl[i] <= 0), f"split{l}_{i}"
        kinks = net.kinks_of(l)
        al, hl = [], []
        for i in range(W.shape[0]):
            if kinks is not None and kinks.group[i] >= 0:
                if i == 0 or kinks.group[i - 1] != kinks.group[i]:  # a group is modelled at its first member
                    members = np.flatnonzero(kinks.group == kinks.group[i])
                    bits, outs = _max_group(prob, f"{l}_{i}", [zl[j] for j in members], L[members], U[members],
                                            margin)
                    al += bits
                    hl += outs
                continue
            slope = 0.0 if kinks is None else float(kinks.slope[i])
            bit, out = _unit(prob, f"{l}_{i}", zl[i], float(L[i]), float(U[i]), slope, margin)
            al.append(bit)
            hl.append(out)
        zs.append(zl)
        acts.append(al)
        h = hl
    W, b = net.layers[-1]
    y = [pulp.lpSum(float(W[j, k]) * h[k] for k in range(len(h)) if not isinstance(h[k], int) and W[j, k] != 0)
         + float(b[j]) for j in range(W.shape[0])]
    return NetworkMILP(prob, x, zs, acts, y, bounds, margin)


def _unit(prob: pulp.LpProblem, name: str, z, L: float, U: float, slope: float, margin):
    """One elementwise unit (``slope`` 0: ReLU; 1: no kink): its pattern bit (a binary, or True/False
    where the bounds settle it) and its output expression."""
    if slope == 1.0:
        return True, z
    if U <= 0:
        return False, (0 if slope == 0.0 else slope * z)
    if L > 0 or (L >= 0 and margin is None):
        return True, z
    if L >= 0:
        # z >= 0 everywhere, so the unit passes z; but the pattern bit is
        # z > 0, and z can vanish on a whole region (a unit that copies a
        # dead one). An interior point with z = 0 has z = 0 on a ball (an
        # affine z >= 0 with an interior minimum), so the inactive side needs
        # no margin.
        a = prob.add_variable(f"a{name}", 0, 1, cat="Binary")
        prob += z >= margin - (1 - a) * _RHO_MAX
        prob += z <= a * U
        return a, z
    a = prob.add_variable(f"a{name}", 0, 1, cat="Binary")
    r = prob.add_variable(f"h{name}", 0, U)  # relu(z); a leaky unit outputs slope z + (1 - slope) relu(z)
    prob += r >= z
    prob += r <= z - L * (1 - a)
    prob += r <= U * a
    if margin is not None:
        prob += z >= margin - (1 - a) * (_RHO_MAX - L)
        prob += z <= -margin + a * (_RHO_MAX + U)
    return a, (r if slope == 0.0 else slope * z + (1.0 - slope) * r)


def _max_group(prob: pulp.LpProblem, name: str, z: list, L: np.ndarray, U: np.ndarray, margin):
    """A max group: one binary per member that can win (exactly one is 1), the winner at least every other
    member (by ``margin`` in the counting model); each member outputs its ``z`` if it wins, else 0."""
    can = U >= L.max()
    if can.sum() == 1:
        return [bool(c) for c in can], [zi if c else 0 for zi, c in zip(z, can)]
    bits, outs = [], []
    for i, zi in enumerate(z):
        if not can[i]:
            bits.append(False)
            outs.append(0)
            continue
        d = prob.add_variable(f"m{name}_{i}", 0, 1, cat="Binary")
        h = prob.add_variable(f"g{name}_{i}", min(0.0, float(L[i])), max(0.0, float(U[i])))
        prob += h - zi <= -float(L[i]) * (1 - d)
        prob += h - zi >= -float(U[i]) * (1 - d)
        prob += h <= max(0.0, float(U[i])) * d
        prob += h >= min(0.0, float(L[i])) * d
        for j, zj in enumerate(z):
            if j != i:
                big = float(U[j] - L[i]) + (_RHO_MAX if margin is not None else 0.0)
                prob += zi - zj >= (margin if margin is not None else 0) - big * (1 - d)
        bits.append(d)
        outs.append(h)
    prob += pulp.lpSum(d for d in bits if isinstance(d, pulp.LpVariable)) == 1
    return bits, outs


def _solve(prob: pulp.LpProblem, time_limit: float | None) -> str:
    """Solve with HiGHS (quietly, within the time limit and the deadline, stoppable by a signal) and
    return PuLP's status word.

    Raises
    ------
    OutOfTime
        If the deadline (:mod:`shallowrelu.limits`) passed before or during the solve.
    """
    check_time()
    left = time_left()
    limit = min(time_limit or np.inf, left)
    with _quiet(), stoppable() as caught:
        status = prob.solve(pulp.HiGHS(msg=False, timeLimit=None if np.isinf(limit) else limit,
                                       callbackTuple=(solver_callback, caught),
                                       callbacksToActivate=list(INTERRUPT_CALLBACKS)))
    if pulp.LpStatus[status] != "Optimal" and time_left() <= 0:
        raise OutOfTime
    return pulp.LpStatus[status]


@dataclass(frozen=True)
class PatternCount:
    """Result of :func:`count_patterns`.

    Parameters
    ----------
    count : int
        Patterns found.
    patterns : ndarray of bool, shape (count, N)
        One row per pattern, in the order found.
    points : ndarray, shape (count, n)
        An interior point of each.
    solves : int
        MILPs solved.
    seconds : float
    status : str
        ``"complete"``, or ``"timeout"`` when the time limit stopped the
        search (then ``patterns`` is a lower bound, never a guess).
    """

    count: int
    patterns: np.ndarray
    points: np.ndarray
    solves: int
    seconds: float
    status: str


def count_patterns(net: ReLUNetwork, domain: Domain, method: str = "milp", *,
                   min_margin: float = MILP_COUNT_MARGIN, time_limit: float | None = None,
                   tol: Tolerances = DEFAULT_TOLERANCES) -> PatternCount:
    """Count the full-dimensional activation regions by MILP with no-good cuts.

    Each solve maximises the margin ``rho`` of an interior point over the
    patterns not yet found; a pattern counts when ``rho > min_margin``
    (activation units). The search stops when the best margin left is not
    positive.

    Known limit: a neuron whose bounds allow both signs but whose
    pre-activation vanishes identically on a whole region (``z = h_a - h_b``
    with both inputs dead there) gets no margin on its inactive side, so
    such a region is missed; neurons that are never negative (copies of
    other neurons) are handled.

    Parameters
    ----------
    net : ReLUNetwork
    domain : Box or Polytope
        Bounded.
    method : {"milp"}
        The only method (the name leaves room for others).
    min_margin : float
        A pattern counts when an interior point clears every one of its
        neurons' sides by more than this (activation units).
    time_limit : float, optional
        Seconds for the whole count.
    tol : Tolerances
        The numerical knobs (``docs/design.md`` section 4).

    Returns
    -------
    PatternCount
        Patterns (bool, one row each, in the order found) and interior points.
    """
    net = as_network(net, "count_patterns")
    if method != "milp":
        raise ValueError(f"unknown method {method!r}")
    start = time.perf_counter()
    hull, work, lo, hi = _hull_and_box(net, domain, tol)
    model = build_milp(work, lo, hi, hull.domain.P, hull.domain.p, pulp.LpMaximize, with_margin=True)
    rho = model.margin
    model.problem.setObjective(rho)
    binaries = [a for layer in model.active for a in layer if isinstance(a, pulp.LpVariable)]
    patterns, points, solves, status = [], [], 0, "complete"
    while True:
        left = None if time_limit is None else time_limit - (time.perf_counter() - start)
        if left is not None and left <= 0:
            status = "timeout"
            break
        result = _solve(model.problem, left)
        solves += 1
        if result == "Infeasible":
            break
        if result != "Optimal":
            status = "timeout"
            break
        if (rho.value() or 0.0) <= min_margin:
            break
        pattern = np.array([bool(round(a.value())) if isinstance(a, pulp.LpVariable) else bool(a)
                            for layer in model.active for a in layer], dtype=bool)
        patterns.append(pattern)
        points.append(hull.to_x(np.array([v.value() for v in model.x]))[0])
        chosen = [a for a in binaries if round(a.value()) == 1]
        others = [a for a in binaries if round(a.value()) == 0]
        if not binaries:
            break
        model.problem.addConstraint(pulp.lpSum(1 - a for a in chosen) + pulp.lpSum(others) >= 1,
                                    f"nogood{len(patterns)}")
    N = net.n_neurons
    return PatternCount(len(patterns), np.array(patterns, dtype=bool).reshape(-1, N),
                        np.array(points).reshape(-1, net.n_inputs), solves, time.perf_counter() - start, status)


@dataclass(frozen=True)
class OutputBounds:
    """Exact range of one output over the domain, with the points that attain it.

    Parameters
    ----------
    output : int
        The output's index.
    min, max : float or None
        Its exact minimum and maximum (None on a timeout).
    argmin, argmax : ndarray or None
        Inputs that attain them.
    status : str
        ``"optimal"``, or ``"timeout"`` (then the values are None).
    seconds : float
        Wall time of the two MILPs.
    """

    output: int
    min: float | None
    max: float | None
    argmin: np.ndarray | None
    argmax: np.ndarray | None
    status: str
    seconds: float

    def as_dict(self) -> dict:
        """JSON-ready."""
        return {"output": self.output, "min": self.min, "max": self.max,
                "argmin": None if self.argmin is None else self.argmin.tolist(),
                "argmax": None if self.argmax is None else self.argmax.tolist(),
                "status": self.status, "seconds": self.seconds}


def output_bounds(net: ReLUNetwork, domain: Domain, j: int, *, time_limit: float | None = None,
                  tol: Tolerances = DEFAULT_TOLERANCES) -> OutputBounds:
    """Exact minimum and maximum of output ``j`` over a bounded domain (two MILPs).

    Parameters
    ----------
    net : ReLUNetwork
    domain : Box or Polytope
        Bounded.
    j : int
        The output.
    time_limit : float, optional
        Seconds for each MILP; past it the answer is ``timeout``.
    tol : Tolerances
        The numerical knobs (``docs/design.md`` section 4).

    Raises
    ------
    DomainError
        If the domain is unbounded or empty.
    """
    net = as_network(net, "output_bounds")
    if not 0 <= j < net.n_outputs:
        raise ValueError(f"output {j} out of range for {net.n_outputs} outputs")
    start = time.perf_counter()
    hull, work, lo, hi = _hull_and_box(net, domain, tol)
    found = []
    for sense in (pulp.LpMinimize, pulp.LpMaximize):
        model = build_milp(work, lo, hi, hull.domain.P, hull.domain.p, sense)
        model.problem.setObjective(model.y[j])
        result = _solve(model.problem, time_limit)
        if result != "Optimal":
            return OutputBounds(j, None, None, None, None, "timeout", time.perf_counter() - start)
        point = hull.to_x(np.array([v.value() for v in model.x]))[0]
        found.append((float(net(point[None])[0, j]), point))
    (vmin, pmin), (vmax, pmax) = found
    return OutputBounds(j, vmin, vmax, pmin, pmax, "optimal", time.perf_counter() - start)


@dataclass(frozen=True)
class Violation:
    """Result of :func:`least_violation`: the least violation over a box.

    ``status`` is ``"optimal"`` (then ``value`` and the input ``x`` that
    attains it are set) or ``"timeout"``.
    """

    value: float | None
    x: np.ndarray | None
    status: str


def least_violation(net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray]], *,
                    cutoff: float, time_limit: float | None = None, bounds: list | None = None,
                    split: list | None = None) -> Violation:
    """Minimise over the box ``[lo, hi]``, up to ``cutoff``, the least of the parts' violations.

    A part ``(C, e)`` is violated by ``max_k (C N(x) - e)_k``: it holds
    where that is at most 0. With several parts (the disjuncts of one
    box), a binary picks the part whose violation the objective ``t``
    bounds: ``t >= (C N(x) - e)_k - M (1 - pick)`` for each of its rows, ``M``
    from the sound bounds on the outputs, so one model decides the whole
    disjunction, its branch-and-bound shared by every part.

    ``t`` is constrained to be at most ``cutoff``, so branches that
    cannot get below it are pruned by their LP bound and an infeasible model
    proves the minimum is above ``cutoff``: then ``value`` is ``inf``.
    Otherwise ``value`` is the best violation found, with its input ``x``.
    ``bounds`` and ``split`` are :func:`build_milp`'s: tighter sound bounds,
    and units fixed to a side (the part of the box where they are).
    """
    from .bounds.interval import boxes_range, output_range

    model = build_milp(net, np.asarray(lo, float), np.asarray(hi, float), np.zeros((0, len(lo))), np.zeros(0),
                       bounds=bounds, split=split)
    prob = model.problem
    t = prob.add_variable("t", None, float(cutoff))
    C = np.vstack([rows for rows, _ in parts])
    e = np.concatenate([rhs for _, rhs in parts])
    owner = np.repeat(np.arange(len(parts)), [len(rhs) for _, rhs in parts])  # each row's part
    rows = [pulp.lpSum(float(c) * model.y[j] for j, c in enumerate(C[k]) if c != 0) - float(e[k])
            for k in range(len(e))]
    if len(parts) == 1:
        for k, row in enumerate(rows):
            prob.addConstraint(row <= t, f"violation{k}")
    else:
        L, U = model.bounds[-1]
        ylo, yhi = boxes_range(*net.layers[-1], *output_range(L[None], U[None], net.kinks_of(len(net.layers) - 2)))
        low, top = boxes_range(C, -e, ylo, yhi)  # each row's range over the box
        least = float(low.min())
        pick = [prob.add_variable(f"pick{i}", 0, 1, cat=pulp.LpBinary) for i in range(len(parts))]
        prob.addConstraint(pulp.lpSum(pick) == 1, "one_part")
        prob.addConstraint(t >= least, "least")
        for k, (row, i, M) in enumerate(zip(rows, owner, top[0])):
            # where the part is not picked the row is at most M above t's least value: no constraint on t
            prob.addConstraint(row - max(float(M) - least, 0.0) * (1 - pick[i]) <= t, f"violation{k}")
    prob.setObjective(t)
    status = _solve(prob, time_limit)
    if status == "Infeasible":
        return Violation(np.inf, None, "optimal")
    if status != "Optimal":
        return Violation(None, None, "timeout")
    return Violation(float(t.value()), np.array([v.value() for v in model.x]), "optimal")


def nearest_label_change(net: ReLUNetwork, domain: Domain, x: np.ndarray, label: int, *,
                         margin: float = MILP_LABEL_MARGIN,
                         time_limit: float | None = None,
                         tol: Tolerances = DEFAULT_TOLERANCES) -> tuple[np.ndarray, int] | None:
    """The nearest input (l_inf) of a full-dimensional bounded domain whose argmax label is not ``label``.

    One MILP per other label ``k``: minimise ``s`` with ``|x' - x|_inf <= s``
    and ``y_k >= y_j + margin`` for every ``j != k``. The margin is kept
    above HiGHS's feasibility tolerance (1e-6) so that the point found
    really has the new label; the distance is exact up to that margin.

    Returns
    -------
    (point, new_label) or None
        None when no input of the domain has another label.

    Raises
    ------
    DomainError
        If the domain is flat (distances are measured in input space) or unbounded.
    SolverError
        If a MILP hits the time limit (no guess is made).
    """
    hull, work, lo, hi = _hull_and_box(net, domain, tol)
    if hull.flat:
        raise DomainError("the MILP counterfactual needs a full-dimensional domain")
    x = np.asarray(x, dtype=np.float64).ravel()
    best = None
    for k in range(net.n_outputs):
        if k == label:
            continue
        model = build_milp(work, lo, hi, hull.domain.P, hull.domain.p)
        prob = model.problem
        s = prob.add_variable("s", 0.0)
        for i, xi in enumerate(model.x):
            prob.addConstraint(xi - float(x[i]) <= s, f"up{i}")
            prob.addConstraint(float(x[i]) - xi <= s, f"down{i}")
        for j in range(net.n_outputs):
            if j != k:
                prob.addConstraint(model.y[k] - model.y[j] >= margin, f"beats{j}")
        prob.setObjective(s)
        status = _solve(prob, time_limit)
        if status == "Infeasible":
            continue
        if status != "Optimal":
            raise SolverError(f"MILP for label {k}: {status}")
        point = hull.to_x(np.array([v.value() for v in model.x]))[0]
        if best is None or s.value() < best[0]:
            best = (float(s.value()), point, k)
    return None if best is None else (best[1], best[2])
