"""The region-search method: branch-and-bound over the regions of a disjunct's input box.

Owns the hooks that the search of :mod:`shallowrelu.enumerator` calls: a node
is pruned when sound linear bounds (:mod:`shallowrelu.bounds`) show the
output constraints cannot hold on it; a region left is decided by one LP on
its affine map, and a point found is confirmed by the forward pass before it
ends the search as a counterexample.
"""

from __future__ import annotations

import time
from functools import cached_property

import numpy as np

from ..bounds import linear_bounds
from ..enumerator import SearchHooks
from ..errors import SolverError
from ..limits import OutOfTime
from ..network import ReLUNetwork
from ..polytope.lp import solve_lp
from ..tolerances import BOUND_MARGIN, Tolerances
from .result import meets
from .vnnlib import Term


class Found(Exception):
    """A confirmed counterexample, raised to end the search."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x


class TreeHooks(SearchHooks):
    """Prune by sound bounds, decide each region left by one LP; counts of both for the report."""

    def __init__(self, net: ReLUNetwork, term: Term, deadline: float, tol: Tolerances) -> None:
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

    def prune(self, lo, hi, layer, M, v, signs) -> bool:
        """Drop a node on which a bound shows the disjunct cannot hold."""
        self._tick()
        # A constraint row whose lower bound over the node is positive cannot
        # hold anywhere in it, so neither can the conjunction.
        kinks = list(self.work.kinks or [None] * (len(self.work.layers) - 1))[layer:]
        low = linear_bounds(M, v, lo, hi, list(self.work.layers[layer + 1:]), self.term.C, self.term.e, signs, kinks)
        if np.any(low > BOUND_MARGIN * (1.0 + np.abs(self.term.e))):
            self.pruned += 1
            return True
        return False

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
