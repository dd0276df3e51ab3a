"""The one way in: :func:`verify` decides a VNN-LIB property on a network.

Owns the order of the work (cheap random falsification on every disjunct
first, then the chosen exact method disjunct by disjunct) and how the
disjuncts' answers combine into one verdict.
"""

from __future__ import annotations

import time

import numpy as np

from ..enumerator import search_regions
from ..errors import ShallowReLUError, SolverError
from ..network import ReLUNetwork
from ..polytope import Box
from ..tolerances import DEFAULT_TOLERANCES, Tolerances
from .milp_method import milp_term
from .result import Verdict, VerifyResult, meets
from .tree import Found, OutOfTime, TreeHooks
from .vnnlib import Property

METHODS = ("tree", "milp")


def verify(net: ReLUNetwork, prop: Property, timeout: float | None = None, samples: int = 2000, seed: int = 0,
           tol: Tolerances = DEFAULT_TOLERANCES, method: str = "tree", jobs: int | None = 1,
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
    method : {"tree", "milp"}
        ``tree``: branch-and-bound over the regions, one LP per region left
        (the default). ``milp``: one big-M MILP per disjunct minimising the
        constraint violation (PuLP with HiGHS), the independent second method.
    jobs : int or None
        Workers for the tree method's independent subtrees (None: all cores).
    backend : {"local", "ray"}
        Where they run, as in :func:`enumerate_regions`.

    Returns
    -------
    VerifyResult
        ``sat`` with a confirmed counterexample, ``unsat``, ``timeout``, or
        ``unknown`` (an LP found a point that the forward pass did not confirm).
    """
    if (prop.n_inputs, prop.n_outputs) != (net.n_inputs, net.n_outputs):
        raise ShallowReLUError(f"{prop.source}: the property has {prop.n_inputs} inputs and {prop.n_outputs} "
                               f"outputs, the network {net.n_inputs} and {net.n_outputs}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    start = time.monotonic()
    deadline = time.time() + (timeout if timeout is not None else np.inf)
    rng = np.random.default_rng(seed)
    for term in prop.terms:  # cheap falsification first, on every disjunct
        X = np.vstack([(term.lo + term.hi) / 2, term.lo + (term.hi - term.lo) * rng.random((samples, term.lo.size))])
        hit = np.flatnonzero(meets(net, term, X))
        if hit.size:
            x = X[hit[0]]
            return VerifyResult(Verdict.SAT, time.monotonic() - start, x, net(x[None])[0], note="random sample")
    if method == "milp":
        undecided = 0
        for term in prop.terms:
            verdict, x = milp_term(net, term, deadline)
            if verdict is Verdict.SAT:
                return VerifyResult(Verdict.SAT, time.monotonic() - start, x, net(x[None])[0], note="MILP")
            if verdict is Verdict.TIMEOUT:
                return VerifyResult(Verdict.TIMEOUT, time.monotonic() - start, note="MILP")
            undecided += verdict is Verdict.UNKNOWN
        return VerifyResult(Verdict.UNKNOWN if undecided else Verdict.UNSAT, time.monotonic() - start,
                            note=f"MILP; {undecided} disjuncts with minimum violation near 0 and no confirmed point"
                            if undecided else "MILP")
    regions = pruned = unconfirmed = 0
    for term in prop.terms:
        hooks = TreeHooks(net, term, deadline, tol)
        try:
            outcome = search_regions(net, Box(term.lo, term.hi), hooks, tol=tol, jobs=jobs, backend=backend)
            hooks.unconfirmed += outcome["unresolved"]
        except Found as found:
            x = found.x
            return VerifyResult(Verdict.SAT, time.monotonic() - start, x, net(x[None])[0],
                                regions + hooks.regions, pruned + hooks.pruned, "region LP")
        except OutOfTime:
            return VerifyResult(Verdict.TIMEOUT, time.monotonic() - start, regions=regions + hooks.regions,
                                pruned=pruned + hooks.pruned)
        except SolverError:  # an LP of the disjunct's set-up failed on every attempt: it stays undecided
            hooks.unconfirmed += 1
        regions, pruned, unconfirmed = regions + hooks.regions, pruned + hooks.pruned, unconfirmed + hooks.unconfirmed
    verdict = Verdict.UNKNOWN if unconfirmed else Verdict.UNSAT
    return VerifyResult(verdict, time.monotonic() - start, regions=regions, pruned=pruned,
                        note=f"{unconfirmed} regions or subtrees undecided (LP failed, or its point not confirmed "
                             "by the forward pass)" if unconfirmed else "")
