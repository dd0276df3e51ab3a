"""The one way in: :func:`verify` decides a VNN-LIB property on a network.

Owns the order of the work (falsification on every disjunct first: random
points, then with ``bab`` the gradient attack and the region walk; then the
chosen exact method disjunct by disjunct) and how the disjuncts' answers
combine into one verdict.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..choices import VERIFY_METHODS
from ..enumerator import search_regions
from ..errors import ShallowReLUError, SolverError
from ..limits import OutOfTime, deadline as deadline_scope
from ..network import ReLUNetwork, as_network
from ..polytope import Box
from ..tolerances import DEFAULT_TOLERANCES, Tolerances
from .bab import SplitStats, decide_term
from .falsify import attack, region_walk
from .milp_method import milp_term
from .result import Verdict, VerifyResult, meets
from .tree import Found, TreeHooks
from .vnnlib import Property

METHODS = VERIFY_METHODS
# Region walks per disjunct, from the attack's best points (each a few LPs).
_WALKS = 8


def verify(net: ReLUNetwork, prop: Property, timeout: float | None = None, samples: int = 2000, seed: int = 0,
           tol: Tolerances = DEFAULT_TOLERANCES, method: str = "bab", jobs: int | None = 1,
           backend: str = "local") -> VerifyResult:
    """Decide a VNN-LIB property on a network.

    Parameters
    ----------
    net : ReLUNetwork
    prop : Property
    timeout : float, optional
        Seconds; past it the answer is ``timeout``.
    samples : int
        Random points per disjunct tried first as counterexamples.
    seed : int
        Seed of those points and of the gradient attack's starts.
    method : {"bab", "tree", "milp"}
        ``bab`` (the default): a gradient attack and a walk over regions
        look for a counterexample, then branch-and-bound over input
        sub-boxes with batched CROWN bounds, boxes with few unstable relus
        decided by the exact region search. ``tree``: branch-and-bound over
        the regions of the whole box, one LP per region left. ``milp``: one
        big-M MILP per disjunct minimising the constraint violation (PuLP
        with HiGHS), the independent second method.
    jobs : int or None
        Workers for the tree method's independent subtrees (None: all cores).
    backend : {"local", "ray"}
        Where they run, as in :func:`enumerate_regions`.
    tol : Tolerances
        The numerical knobs (``docs/design.md`` section 4).

    Returns
    -------
    VerifyResult
        ``sat`` with a confirmed counterexample, ``unsat``, ``timeout``, or
        ``unknown`` (an LP found a point that the forward pass did not confirm).

    Examples
    --------
    >>> import numpy as np, shallowrelu as sr
    >>> net = sr.ReLUNetwork([(np.array([[1.0], [-1.0]]), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))])
    >>> prop = sr.parse_vnnlib("(declare-const X_0 Real) (declare-const Y_0 Real) "
    ...                        "(assert (>= X_0 -1)) (assert (<= X_0 1)) (assert (<= Y_0 -0.5))")
    >>> sr.verify(net, prop).verdict.value   # |x| is never below -0.5
    'unsat'
    """
    net = as_network(net, "verify")
    if (prop.n_inputs, prop.n_outputs) != (net.n_inputs, net.n_outputs):
        raise ShallowReLUError(f"{prop.source}: the property has {prop.n_inputs} inputs and {prop.n_outputs} "
                               f"outputs, the network {net.n_inputs} and {net.n_outputs}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    start = time.monotonic()
    rng = np.random.default_rng(seed)

    def sat(x: np.ndarray, how: str, note: str, **counts) -> VerifyResult:
        """A ``sat`` result for the counterexample ``x``."""
        return VerifyResult(Verdict.SAT, time.monotonic() - start, x, net(x[None])[0], note=note, decided_by=how,
                            **counts)

    deadline = time.time() + (timeout if timeout is not None else np.inf)
    # Every solve and every loop of the work below ends by the deadline (OutOfTime).
    with deadline_scope(deadline):
        try:
            for term in prop.terms:  # cheap falsification first, on every disjunct
                X = np.vstack([(term.lo + term.hi) / 2,
                               term.lo + (term.hi - term.lo) * rng.random((samples, term.lo.size))])
                hit = np.flatnonzero(meets(net, term, X))
                if hit.size:
                    return sat(X[hit[0]], "falsified", "random sample")
            if method == "bab":
                return _bab(net, prop, deadline, tol, rng, start, sat,
                            (os.cpu_count() or 1) if jobs is None else jobs)
            if method == "milp":
                return _milp(net, prop, deadline, start, sat)
            return _tree(net, prop, deadline, tol, start, sat, jobs, backend)
        except OutOfTime:
            return VerifyResult(Verdict.TIMEOUT, time.monotonic() - start)


def _milp(net: ReLUNetwork, prop: Property, deadline: float, start: float, sat) -> VerifyResult:
    """The ``milp`` method after the random points: one MILP per disjunct."""
    undecided = 0
    for term in prop.terms:
        verdict, x = milp_term(net, term, deadline)
        if verdict is Verdict.SAT:
            return sat(x, "MILP", "MILP")
        if verdict is Verdict.TIMEOUT:
            return VerifyResult(Verdict.TIMEOUT, time.monotonic() - start, note="MILP")
        undecided += verdict is Verdict.UNKNOWN
    return VerifyResult(Verdict.UNKNOWN if undecided else Verdict.UNSAT, time.monotonic() - start,
                        note=f"MILP; {undecided} disjuncts with minimum violation near 0 and no confirmed point"
                        if undecided else "MILP", decided_by="MILP")


def _tree(net: ReLUNetwork, prop: Property, deadline: float, tol: Tolerances, start: float, sat,
          jobs: int | None, backend: str) -> VerifyResult:
    """The ``tree`` method after the random points: the region search over each disjunct's box."""
    regions = pruned = unconfirmed = 0
    for term in prop.terms:
        hooks = TreeHooks(net, term, deadline, tol)
        try:
            outcome = search_regions(net, Box(term.lo, term.hi), hooks, tol=tol, jobs=jobs, backend=backend)
            hooks.unconfirmed += outcome["unresolved"]
        except Found as found:
            return sat(found.x, "region search", "region LP", regions=regions + hooks.regions,
                       pruned=pruned + hooks.pruned)
        except OutOfTime:
            return VerifyResult(Verdict.TIMEOUT, time.monotonic() - start, regions=regions + hooks.regions,
                                pruned=pruned + hooks.pruned)
        except SolverError:  # an LP of the disjunct's set-up failed on every attempt: it stays undecided
            hooks.unconfirmed += 1
        regions, pruned, unconfirmed = regions + hooks.regions, pruned + hooks.pruned, unconfirmed + hooks.unconfirmed
    verdict = Verdict.UNKNOWN if unconfirmed else Verdict.UNSAT
    return VerifyResult(verdict, time.monotonic() - start, regions=regions, pruned=pruned,
                        note=f"{unconfirmed} regions or subtrees undecided (LP failed, or its point not confirmed "
                             "by the forward pass)" if unconfirmed else "", decided_by="region search")


def _bab(net: ReLUNetwork, prop: Property, deadline: float, tol: Tolerances, rng: np.random.Generator,
         start: float, sat, jobs: int) -> VerifyResult:
    """The ``bab`` method after the random points: the attack on every disjunct, then the walks from its best
    points (each walk's LPs cost far more than an attack in high dimension), then the input split."""
    starts = []
    for term in prop.terms:
        x, best = attack(net, term, rng)
        if x is not None:
            return sat(x, "falsified", "gradient attack")
        starts.append(best[:_WALKS])
    for term, best in zip(prop.terms, starts):
        for origin in best:
            x = region_walk(net, term, origin, deadline)
            if x is not None:
                return sat(x, "falsified", "region walk")
    stats = SplitStats()

    def counts() -> dict:
        """The search's counts for the result."""
        return {"regions": stats.regions, "pruned": stats.pruned, "boxes": stats.boxes, "exact_boxes": stats.exact}

    for term in prop.terms:
        try:
            x = decide_term(net, term, deadline, tol, stats, jobs=jobs)
        except OutOfTime:
            return VerifyResult(Verdict.TIMEOUT, time.monotonic() - start, **counts())
        except SolverError:  # an LP of a box's region search failed on every attempt: it stays undecided
            stats.unconfirmed += 1
            continue
        if x is not None:
            return sat(x, stats.deciders[-1], stats.deciders[-1], **counts())
    how = ", ".join(dict.fromkeys(stats.deciders))
    if stats.unconfirmed:
        return VerifyResult(Verdict.UNKNOWN, time.monotonic() - start, decided_by=how,
                            note=f"{stats.unconfirmed} regions undecided (LP failed, or its point not confirmed by "
                                 "the forward pass)", **counts())
    return VerifyResult(Verdict.UNSAT, time.monotonic() - start, decided_by=how, **counts())
