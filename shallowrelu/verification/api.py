"""The one way in: :func:`verify` decides a VNN-LIB property on a network.

Owns the order of the work and the choice of methods by the network's
shape: random points on every disjunct, then (for the branch-and-bound
methods) the gradient attack on every box and the region walk from its best
points, then the exact methods on each disjunct left, through
:mod:`.scheduler`; and how the disjuncts' answers combine into one verdict.
"""

from __future__ import annotations

import os
import time
from typing import Callable

import numpy as np

from ..choices import VERIFY_METHODS
from ..errors import ShallowReLUError
from ..limits import OutOfTime, deadline as deadline_scope
from ..network import ReLUNetwork, as_network
from ..tolerances import DEFAULT_TOLERANCES, Tolerances
from .falsify import MANY_INPUTS, attack, region_walk
from .input_split import InputSplit
from .milp_method import Milp
from .neuron_split import NeuronSplit
from .result import Decider, Verdict, VerifyResult, Work, meets, runtime_confirms
from .scheduler import Decisions, Unit, decide
from .strategy import Outcome, Strategy
from .tree import RegionSearch
from .vnnlib import Disjunct, Property

METHODS = VERIFY_METHODS
# Rounds of the gradient attack before the exact methods, with few inputs and with many (where a later round's
# output-diversified starts find what the first missed); the neuron split goes on attacking as it works.
_ROUNDS_FEW, _ROUNDS_MANY = 1, 2
# Region walks per disjunct, from the attack's best points (few inputs only: in many, each LP is large).
_WALKS = 8
# The MILP races the neuron split where alpha-CROWN leaves at most this many ReLUs unstable on the box.
_MILP_UNSTABLE = 400
# Seconds of the input split on each disjunct in this process before any race is forked.
_INPUT_FIRST = 0.2
# Seconds the input split runs as an equal of the region search; then only on a core the others leave idle.
_INPUT_YIELD = 2.0
# Seconds a disjunct's neuron split holds a core before it lets the next disjunct's start.
_NEURON_YIELD = 10.0
# The same where disjuncts outnumber the cores and run side by side: the region search then waits its turn.
_SIDE_BY_SIDE_YIELD = 5.0


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
    method : {"bab", "input", "neuron", "tree", "milp"}
        ``bab`` (the default): a gradient attack and a walk over regions
        look for a counterexample, then each disjunct is decided by the
        methods that suit the network: with fewer than 32 inputs the input
        split raced against the region search, with more the neuron split,
        raced against the MILP where alpha-CROWN leaves few ReLUs unstable.
        ``input``: the attack, then branch-and-bound over input sub-boxes
        (batched CROWN bounds; boxes with few unstable ReLUs decided by the
        region search). ``neuron``: the attack, then branch-and-bound over
        ReLUs fixed to a side (alpha- and beta-CROWN bounds). ``tree``: the
        exact search over the regions of each disjunct's box, one LP per
        region left. ``milp``: one big-M MILP per input box minimising the
        least violation of the disjuncts on it (PuLP with HiGHS).
    jobs : int or None
        Processes (and cores) to use, None: all cores. ``tree`` runs the
        region search's subtrees in them; the other methods run
        disjuncts, or the methods racing on one disjunct, side by side,
        each with one BLAS thread.
    backend : {"local", "ray"}
        Where ``tree`` runs its subtrees, as in :func:`enumerate_regions`;
        the other methods run on this machine.
    tol : Tolerances
        The numerical knobs (``docs/design.md`` section 4).

    Returns
    -------
    VerifyResult
        ``sat`` with a counterexample the float64 forward pass confirms (and
        onnxruntime, for an ONNX network where it is installed), ``unsat``,
        ``timeout``, or ``unknown`` (a piece of the input stayed undecided:
        an LP failed, or found a point the forward pass did not confirm).

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
    from threadpoolctl import threadpool_limits

    start = time.monotonic()
    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    deadline = time.time() + (timeout if timeout is not None else np.inf)
    run = _Run(net, prop, tol, method, jobs, backend, deadline, start)
    # Every solve and every loop of the work below ends by the deadline (OutOfTime); BLAS gets the cores given.
    with deadline_scope(deadline), threadpool_limits(jobs):
        try:
            return run.falsify(samples, seed) or run.decide()
        except OutOfTime:
            return VerifyResult(Verdict.TIMEOUT, time.monotonic() - start, work=run.work)


class _Run:
    """One call of :func:`verify`: its settings, the work so far, and the answers it builds."""

    def __init__(self, net: ReLUNetwork, prop: Property, tol: Tolerances, method: str, jobs: int, backend: str,
                 deadline: float, start: float) -> None:
        self.net, self.prop, self.tol, self.method = net, prop, tol, method
        self.jobs, self.backend, self.deadline, self.start = jobs, backend, deadline, start
        self.work = Work()
        self.many = net.n_inputs >= MANY_INPUTS
        # disjuncts grouped by their input box: the attack and alpha-CROWN's layer bounds are per box
        groups: dict[bytes, list[int]] = {}
        for i, t in enumerate(prop.terms):
            groups.setdefault(t.lo.tobytes() + t.hi.tobytes(), []).append(i)
        self.groups = list(groups.values())

    def sat(self, x: np.ndarray, how: Decider, note: str) -> VerifyResult:
        """A ``sat`` result for ``x``, or ``unknown`` where onnxruntime refutes what float64 confirmed."""
        term = next(t for t in self.prop.terms if meets(self.net, t, x[None])[0])
        checked = runtime_confirms(self.net, term, x)
        seconds = time.monotonic() - self.start
        if checked is False:
            return VerifyResult(Verdict.UNKNOWN, seconds, work=self.work, decided_by=how.value,
                                note=f"{note}: a counterexample in float64 that onnxruntime, in the model's "
                                     f"precision, does not confirm: x = {x.tolist()}")
        return VerifyResult(Verdict.SAT, seconds, x, self.net(x[None])[0], note=note, decided_by=how.value,
                            work=self.work, runtime_checked=bool(checked))

    def falsify(self, samples: int, seed: int) -> VerifyResult | None:
        """Random points on every disjunct; for the branch-and-bound methods the attack and the region walk."""
        rng = np.random.default_rng(seed)
        for term in self.prop.terms:
            X = np.vstack([(term.lo + term.hi) / 2,
                           term.lo + (term.hi - term.lo) * rng.random((samples, term.lo.size))])
            self.work.points += len(X)
            hit = np.flatnonzero(meets(self.net, term, X))
            if hit.size:
                return self.sat(X[hit[0]], Decider.FALSIFIED, "random sample")
        if self.method in ("tree", "milp"):
            return None
        starts = []
        for group in self.groups:
            terms = [self.prop.terms[i] for i in group]
            x, best = attack(self.net, terms, rng, work=self.work, rounds=_ROUNDS_MANY if self.many else _ROUNDS_FEW)
            if x is not None:
                return self.sat(x, Decider.FALSIFIED, "gradient attack")
            starts.append(best[:_WALKS])
        if self.many:
            return None
        for group, best in zip(self.groups, starts):
            for i in group:
                for origin in best:
                    x = region_walk(self.net, self.prop.terms[i], origin, self.deadline, work=self.work)
                    if x is not None:
                        return self.sat(x, Decider.FALSIFIED, "region walk")
        return None

    def decide(self) -> VerifyResult:
        """The exact methods on every disjunct, combined into one verdict."""
        units, done = self._units()
        jobs = 1 if self.method == "tree" else self.jobs
        found = decide(units, jobs, self.deadline) if units else Decisions()
        self.work.add(found.work)
        found.outcomes = outcomes = done | found.outcomes
        hit = found.sat
        if hit is not None:
            return self.sat(hit.x, hit.decided_by, hit.note or hit.decided_by.value)
        how = ", ".join(dict.fromkeys(outcomes[i].decided_by.value for i in sorted(outcomes)))
        unknown = [o.note for o in outcomes.values() if o.verdict is Verdict.UNKNOWN]
        seconds = time.monotonic() - self.start
        if unknown:
            return VerifyResult(Verdict.UNKNOWN, seconds, decided_by=how, work=self.work, note="; ".join(unknown))
        return VerifyResult(Verdict.UNSAT, seconds, decided_by=how, work=self.work)

    def _units(self) -> tuple[list[Unit], dict[int, Outcome]]:
        """The units to schedule, in order, and the disjuncts already decided on the way (in this process)."""
        net, tol, method = self.net, self.tol, self.method
        terms = self.prop.terms
        if method == "tree":
            return [Unit((i,), lambda t=t: RegionSearch(net, t, tol, self.jobs, self.backend))
                    for i, t in enumerate(terms)], {}
        if method == "input" or (method == "bab" and not self.many):
            # most boxes close in the input split's first batches: no process is forked for them
            done, started = self._start(lambda i, t: InputSplit(net, t, tol), _INPUT_FIRST)
            if method != "bab":
                return [Unit((i,), lambda s=split: s) for i, split in started.items()], done
            side_by_side = len(started) > 2 * self.jobs
            yields = None if self.jobs < 2 else _SIDE_BY_SIDE_YIELD if side_by_side else _INPUT_YIELD
            splits = [Unit((i,), lambda s=split: s, yields_after=yields) for i, split in started.items()]
            if side_by_side:
                # Disjuncts outnumber the cores: they run side by side, the input split first; a disjunct it
                # has not decided in its first seconds gets the region search when a core frees up.
                return splits + [Unit((i,), lambda t=terms[i]: RegionSearch(net, t, tol)) for i in started], done
            # Each disjunct's input split races its region search, which runs a pool of every core: the
            # split yields them once its first seconds have not decided.
            searches = [Unit((i,), lambda t=terms[i]: RegionSearch(net, t, tol, self.jobs)) for i in started]
            return [u for pair in zip(splits, searches) for u in pair], done
        roots = {i: root for group in self.groups if self.many for root in [self._root(group)] for i in group}
        if method == "milp":
            return [self._milp(group, roots) for group in self.groups], {}
        # the neuron split's root bounds, in this process: most disjuncts close there
        done, started = self._start(lambda i, t: NeuronSplit(net, t, tol, roots.get(i)), 0.0)
        splits = [Unit((i,), lambda s=split: s, yields_after=_NEURON_YIELD if self.jobs >= 2 else None)
                  for i, split in started.items()]
        open_groups = [[i for i in group if i in started] for group in self.groups]
        milps = [self._milp(group, roots) for group in open_groups
                 if method == "bab" and group and roots[group[0]].unstable <= _MILP_UNSTABLE]
        # Each box's MILP decides all of its disjuncts at once: it holds a core from the start, while the
        # neuron splits of the disjuncts take the others, each yielding its place after its first seconds.
        return milps + splits, done

    def _milp(self, group: list[int], roots: dict) -> Unit:
        """One MILP over the disjuncts ``group``, which share a box."""
        terms = [self.prop.terms[i] for i in group]
        return Unit(tuple(group), lambda: Milp(self.net, terms, self.tol, roots.get(group[0])))

    def _start(self, make: Callable[[int, Disjunct], Strategy],
               seconds: float) -> tuple[dict[int, Outcome], dict[int, Strategy]]:
        """Each disjunct's strategy (``make(i, disjunct)``) run here for ``seconds`` (its first step at least):
        the outcomes of the disjuncts it decided, and the strategies left to schedule (until a counterexample
        ends it)."""
        done, started = {}, {}
        for i, t in enumerate(self.prop.terms):
            strategy = make(i, t)
            outcome = strategy.run(time.time() + seconds)
            self.work.add(strategy.work)
            strategy.work = Work()
            if outcome is None:
                started[i] = strategy
                continue
            done[i] = outcome
            if outcome.verdict is Verdict.SAT:
                return done, {}
        return done, started

    def _root(self, group: list[int]):
        """alpha-CROWN's layer bounds over the group's box, computed once for its disjuncts."""
        from ..bounds.optimise import optimised_hidden

        t = self.prop.terms[group[0]]
        kinks = list(self.net.kinks or [None] * (len(self.net.layers) - 1))
        return optimised_hidden(list(self.net.layers), t.lo[None], t.hi[None], kinks)

