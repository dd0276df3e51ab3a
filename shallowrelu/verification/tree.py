"""The region search as a verifier: branch-and-bound over the regions of a disjunct's input box.

Owns the hooks that the search of :mod:`shallowrelu.enumerator` calls: a node
is pruned when sound linear bounds (:mod:`shallowrelu.bounds`) show the
output constraints cannot hold on it; a region left is decided by one LP on
its affine map, and a point found is confirmed by the forward pass before it
ends the search as a counterexample. The search is exact: it branches on
neurons in order and decides every side of every split in floats with a
margin or in exact arithmetic (``docs/design.md`` section 4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..bounds import points_min, tail_bounds
from ..enumerator import SearchHooks, search_regions
from ..errors import SolverError
from ..limits import OutOfTime
from ..network import ReLUNetwork
from ..polytope import Box
from ..polytope.lp import solve_lp
from ..tolerances import BOUND_MARGIN, Tolerances
from .result import Decider, Verdict, Work, meets
from .strategy import Outcome, Strategy
from .vnnlib import Disjunct


class Found(Exception):
    """A confirmed counterexample, raised to end the search."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x


@dataclass(frozen=True)
class _Note:
    """What a node's bound rests on, handed to its children: its layer, its linear lower bound of the rows
    ``coef . t + const`` and its bounds of the tail's layers (:class:`~shallowrelu.bounds.TailBound`)."""

    layer: int
    coef: np.ndarray
    const: np.ndarray
    pre: list


class TreeHooks(SearchHooks):
    """Prune by sound bounds, decide each region left by one LP; counts of both for the report."""

    def __init__(self, net: ReLUNetwork, term: Disjunct, deadline: float, tol: Tolerances) -> None:
        self.net, self.term, self.deadline, self.tol = net, term, deadline, tol
        self.regions = self.pruned = self.unconfirmed = 0

    @cached_property
    def work(self) -> ReLUNetwork:
        """The network in the box's hull coordinates (the search sets ``hull`` before it starts)."""
        h = self.hull
        return self.net.restrict(h.x0, h.B) if h.flat else self.net

    def tally(self) -> dict[str, int]:
        """Counts since the last call, reset."""
        counts = {"regions": self.regions, "pruned": self.pruned, "unconfirmed": self.unconfirmed}
        self.regions = self.pruned = self.unconfirmed = 0
        return counts

    def add_tally(self, counts: dict[str, int]) -> None:
        """Add a worker's counts."""
        self.regions += counts["regions"]
        self.pruned += counts["pruned"]
        self.unconfirmed += counts["unconfirmed"]

    def _tick(self) -> None:
        """Raise :class:`OutOfTime` past the deadline."""
        if time.time() > self.deadline:  # wall clock: the hooks may run on another machine (Ray)
            raise OutOfTime

    def prune(self, lo, hi, layer, M, v, signs, vertices=None, note=None) -> tuple[bool, _Note | None]:
        """Drop a node on which a bound shows the disjunct cannot hold; the note is what the bound rests on."""
        return self.prune_many([(lo, hi, layer, M, v, signs, vertices, note)])[0]

    def prune_many(self, nodes: list[tuple]) -> list[tuple[bool, _Note | None]]:
        """:meth:`prune` for the children of one split, bounded in one batch.

        A bound proven on the parent holds on each child: its linear lower
        bound is tried first over the child's own vertices (no pass at all),
        and its layer bounds tighten the children's and spare the backward
        passes of the units they show stable.
        """
        self._tick()
        lo, hi, layer, M, v, _, vertices, note = nodes[0]
        # A constraint row whose lower bound over the node is positive cannot
        # hold anywhere in it, so neither can the conjunction.
        margin = BOUND_MARGIN * (1.0 + np.abs(self.term.e))
        answers: list = [None] * len(nodes)
        if note is not None and vertices is not None:
            for i, node in enumerate(nodes):
                if np.any(points_min(note.coef[None], note.const[None], node[6][None])[0] > margin):
                    answers[i] = (True, note)
        todo = [i for i, a in enumerate(answers) if a is None]
        if todo:
            pick = [nodes[i] for i in todo]
            kinks = list(self.work.kinks or [None] * (len(self.work.layers) - 1))[layer:]
            bound = tail_bounds(M, v, np.stack([n[0] for n in pick]), np.stack([n[1] for n in pick]),
                                list(self.work.layers[layer + 1:]), self.term.C, self.term.e,
                                np.array([n[5] for n in pick], dtype=bool), kinks,
                                None if vertices is None else [n[6] for n in pick],
                                None if note is None else note.pre[layer - note.layer:])
            for j, i in enumerate(todo):
                if np.any(bound.low[j] > margin):
                    answers[i] = (True, note)
                else:
                    answers[i] = (False, _Note(layer, bound.coef[j], bound.const[j],
                                               [(l[j], u[j]) for l, u in bound.pre]))
        self.pruned += sum(a[0] for a in answers)
        return answers

    def leaf(self, G, g, A, d) -> None:
        """Look for a counterexample in a region by one LP, confirmed by a forward pass."""
        self._tick()
        self.regions += 1
        C, e = self.term.C, self.term.e
        try:
            res = solve_lp(np.zeros(G.shape[1]), np.vstack([G, C @ A]), np.concatenate([-g, e - C @ d]), self.tol)
        except SolverError:
            self.unconfirmed += 1  # undecided: the answer can no longer be unsat
            return
        if not res.feasible:
            return
        x = self.hull.to_x(res.x)
        if meets(self.net, self.term, x)[0]:
            raise Found(x[0])
        self.unconfirmed += 1


def region_search(net: ReLUNetwork, disjunct: Disjunct, tol: Tolerances, work: Work, *, deadline: float = np.inf,
                  jobs: int | None = 1, backend: str = "local") -> np.ndarray | None:
    """The region search over a disjunct's box: a confirmed counterexample, or None.

    None means every region was ruled out, unless ``work.unconfirmed`` grew
    (an LP failed on every attempt, or found a point the forward pass did
    not confirm). ``jobs`` and ``backend`` are :func:`~shallowrelu.enumerate_regions`'s:
    the search's subtrees run in that many local processes, or on Ray.

    Raises
    ------
    OutOfTime
        Past ``deadline`` or the global deadline.
    """
    lo, hi = disjunct.lo, disjunct.hi
    if np.all(hi == lo):  # a single point: the forward pass decides it
        return lo if meets(net, disjunct, lo[None])[0] else None
    hooks = TreeHooks(net, disjunct, deadline, tol)
    try:
        outcome = search_regions(net, Box(lo, hi), hooks, tol=tol, jobs=jobs, backend=backend)
        hooks.unconfirmed += outcome["unresolved"]
    except Found as found:
        return found.x
    except SolverError:  # an LP of the set-up failed on every attempt: the box stays undecided
        hooks.unconfirmed += 1
    finally:
        work.regions += hooks.regions
        work.pruned += hooks.pruned
        work.unconfirmed += hooks.unconfirmed
    return None


class RegionSearch(Strategy):
    """The region search over the disjunct's whole box; started afresh in each call of :meth:`run`.

    Parameters
    ----------
    net, disjunct, tol
        As for :class:`~.strategy.Strategy`.
    jobs, backend
        Where the search's subtrees run (as for :func:`region_search`).
    """

    resumable = False

    def __init__(self, net: ReLUNetwork, disjunct: Disjunct, tol: Tolerances, jobs: int | None = 1,
                 backend: str = "local") -> None:
        super().__init__(net, disjunct, tol)
        self.jobs, self.backend = jobs, backend

    def run(self, until: float) -> Outcome | None:
        """Search until ``until``; an unfinished search answers None (the next call starts again)."""
        unconfirmed = self.work.unconfirmed
        try:
            x = region_search(self.net, self.disjunct, self.tol, self.work, deadline=until, jobs=self.jobs,
                              backend=self.backend)
        except OutOfTime:
            if time.time() < until:
                raise
            return None
        if x is not None:
            return Outcome(Verdict.SAT, Decider.REGION_SEARCH, x)
        if self.work.unconfirmed > unconfirmed:
            return Outcome(Verdict.UNKNOWN, Decider.REGION_SEARCH,
                           note=f"{self.work.unconfirmed - unconfirmed} regions or subtrees undecided (LP failed, "
                                "or its point not confirmed by the forward pass)")
        return Outcome(Verdict.UNSAT, Decider.REGION_SEARCH)
