"""The MILP method: one big-M model per input box minimising the least violation of its disjuncts.

The independent second answer beside the region search (``--method
milp``), and a racer of the neuron split on small networks. The disjuncts
that share a box (a classifier's "some other label wins", one disjunct per
label) are decided by one model, whose branch-and-bound serves them all:
on MNIST 256x4 prop 11 at eps 0.05 one model took 119 s where the nine
single models took about 50 s each. Owns only the
reading of the MILP's answer as an outcome; the model is
:mod:`shallowrelu.milp`'s. Its big-M constants come from the tightest
bounds at hand: alpha-CROWN's over the disjunct's box where the caller
has them, else the MILP's own CROWN bounds.
"""

from __future__ import annotations

import time

import numpy as np

from ..limits import OutOfTime
from ..network import ReLUNetwork
from ..tolerances import MILP_PROOF_MARGIN, Tolerances
from .result import Decider, Verdict, meets
from .strategy import Outcome, Strategy
from .vnnlib import Disjunct


class Milp(Strategy):
    """One MILP over disjuncts that share a box; started afresh in each call of :meth:`run` (a solve cannot
    pause). Its outcome holds for every one of them.

    Parameters
    ----------
    net, tol
        As for :class:`~.strategy.Strategy`.
    disjuncts : list of Disjunct
        One disjunct, or several with the same input box.
    root : LayerBounds, optional
        alpha-CROWN's layer bounds over the box
        (:func:`shallowrelu.bounds.optimise.optimised_hidden`) for the big-M constants.
    """

    resumable = False

    def __init__(self, net: ReLUNetwork, disjuncts: list[Disjunct], tol: Tolerances, root=None) -> None:
        super().__init__(net, disjuncts[0], tol)
        self.disjuncts = list(disjuncts)
        self.bounds = None if root is None else [(l[0], u[0]) for l, u in root.pre]

    def run(self, until: float) -> Outcome | None:
        """Solve within ``until``: an infeasible model below the cutoff proves ``unsat``; a minimiser is
        ``sat`` once the forward pass confirms it, ``unknown`` where it does not."""
        from ..milp import least_violation  # PuLP only for this method

        box = self.disjunct
        left = until - time.time()
        if left <= 0:
            return None
        margin = max(milp_cutoff(t) for t in self.disjuncts)
        self.work.milps += 1
        try:
            res = least_violation(self.net, box.lo, box.hi, [(t.C, t.e) for t in self.disjuncts], cutoff=margin,
                                  time_limit=None if np.isinf(left) else left, bounds=self.bounds)
        except OutOfTime:
            if time.time() < until:
                raise
            return None
        if res.status != "optimal":
            return None
        if res.value > margin:
            return Outcome(Verdict.UNSAT, Decider.MILP)
        x = np.clip(res.x, box.lo, box.hi)
        if any(meets(self.net, t, x[None])[0] for t in self.disjuncts):
            return Outcome(Verdict.SAT, Decider.MILP, x)
        return Outcome(Verdict.UNKNOWN, Decider.MILP,
                       note="the MILP's minimum violation is near 0 and its point is not confirmed")


def milp_cutoff(disjunct: Disjunct) -> float:
    """The largest violation the MILP is asked to reach: a model infeasible below it proves ``unsat``, with a
    margin well above HiGHS's feasibility tolerance, relative to the disjunct's thresholds."""
    return MILP_PROOF_MARGIN * (1.0 + float(np.max(np.abs(disjunct.e), initial=0.0)))
