"""Branch-and-bound over input sub-boxes, with the exact region search as the last word: the method for few inputs.

Owns the split of a disjunct's input box: boxes are bounded many at a time
(batched CROWN, :func:`shallowrelu.bounds.box_bounds`); a box is closed when
the bound shows one output constraint, an average of constraints, or the
constraints together (:func:`shallowrelu.bounds.combined_lower`) cannot all
hold on it, by the rounding margin; on the others the point that minimises
the bound and the box's centre are tried as counterexamples, then a few
descent steps; a box is then halved along the coordinate whose width costs
the rows' bounds most (their coefficients times its width, ReluVal's
"smear" summed over the rows). Boxes nearest to a counterexample (least
violation met in them) are bounded first.
A box on which few relus are left unstable, or that has become too thin to
split, goes to the exact region search (:mod:`.tree`), which decides it by
one LP per region. So the answer is never ``unsat`` unless every box was
closed by a sound bound or by the exact search.
"""

from __future__ import annotations

import time

import numpy as np

from ..bounds import box_bounds, combined_lower
from ..network import ReLUNetwork
from ..tolerances import MIN_SPLIT_WIDTH, TINY, Tolerances
from .falsify import descend
from .result import Decider, Verdict, meets
from .strategy import Outcome, Strategy, bound_rows, proof_margin
from .tree import region_search
from .vnnlib import Disjunct

# Boxes bounded in one batch: large enough that numpy's cost per call vanishes, small enough to stay in cache.
_BATCH = 512
# A box with at most this many unstable relus is cheaper to search exactly than to split further.
_EXACT_UNSTABLE = 6
# Sign-gradient steps from each open box's bound minimiser, kept in the box.
_DESCENT_STEPS = 4


class InputSplit(Strategy):
    """The branch-and-bound over one disjunct's input box (module docstring); the open boxes are kept
    between calls of :meth:`run`."""

    def __init__(self, net: ReLUNetwork, disjunct: Disjunct, tol: Tolerances) -> None:
        super().__init__(net, disjunct, tol)
        self.C, self.e = bound_rows(disjunct)
        self.full = np.maximum(disjunct.hi - disjunct.lo, TINY)
        # The open boxes, each with the least violation the descent met in it (its parent's): the batch
        # bounded next is the boxes nearest to a counterexample. Whatever the order, unsat closes every box.
        self.open_lo, self.open_hi, self.near = disjunct.lo[None], disjunct.hi[None], np.zeros(1)

    def run(self, until: float) -> Outcome | None:
        """Bound, try and split boxes until ``until`` (see :class:`~.strategy.Strategy`)."""
        while len(self.open_lo) and time.time() < until:
            x = self._batch()
            if x is not None:
                return Outcome(Verdict.SAT, Decider.INPUT_SPLIT, x)
        if len(self.open_lo):
            return None
        if self.work.unconfirmed:
            return Outcome(Verdict.UNKNOWN, Decider.INPUT_SPLIT,
                           note=f"{self.work.unconfirmed} regions undecided (LP failed, or its point not confirmed "
                                "by the forward pass)")
        return Outcome(Verdict.UNSAT, Decider.BOUND if self.work.boxes == 1 else Decider.INPUT_SPLIT)

    def _batch(self) -> np.ndarray | None:
        """Bound the boxes nearest to a counterexample, try points in the open ones, split them."""
        net, term = self.net, self.disjunct
        if len(self.open_lo) > _BATCH:
            take = np.zeros(len(self.open_lo), dtype=bool)
            take[np.argpartition(self.near, _BATCH)[:_BATCH]] = True
        else:
            take = np.ones(len(self.open_lo), dtype=bool)
        lo, hi = self.open_lo[take], self.open_hi[take]
        self.open_lo, self.open_hi, self.near = self.open_lo[~take], self.open_hi[~take], self.near[~take]
        self.work.boxes += len(lo)
        low, coef, const, unstable = box_bounds(net.layers, lo, hi, self.C, self.e, net.kinks)
        margin = proof_margin(coef, const, lo, hi, self.e)
        open_ = ~np.any(low > margin, axis=1)
        if len(self.e) > 1 and open_.any():
            # the rows together: no point of the box meets them all
            joint = combined_lower(coef[open_], const[open_], lo[open_], hi[open_])
            open_[np.flatnonzero(open_)[joint > margin[open_].max(axis=1)]] = False
        lo, hi, low, coef, unstable = lo[open_], hi[open_], low[open_], coef[open_], unstable[open_]
        if not len(lo):
            return None
        # The row nearest to closing the box leads: its bound's minimiser and the centre are tried, then
        # a few descent steps from the minimiser.
        lead = np.argmax(low - margin[open_], axis=1)
        c = coef[np.arange(len(lo)), lead]
        corner = np.where(c > 0, lo, hi)
        tries = np.vstack([corner, (lo + hi) / 2])
        hit = meets(net, term, tries)
        if hit.any():
            return tries[np.argmax(hit)]
        x, _, least = descend(net, term, corner, lo, hi, _DESCENT_STEPS)
        self.work.points += len(corner) * (_DESCENT_STEPS + 1)
        if x is not None:
            return x
        width = hi - lo
        exact = (unstable <= _EXACT_UNSTABLE) | np.all(width <= MIN_SPLIT_WIDTH * self.full, axis=1)
        for i in np.flatnonzero(exact):
            self.work.exact_boxes += 1
            x = region_search(net, Disjunct(lo[i], hi[i], term.C, term.e), self.tol, self.work)
            if x is not None:
                return x
        rest = ~exact
        lo, hi, coef, width, least = lo[rest], hi[rest], coef[rest], width[rest], least[rest]
        if not len(lo):
            return None
        # What a coordinate's width costs the bounds of all rows together: a box in output space
        # (reach_prob_density's robot) needs different rows in different parts of the input box.
        score = np.abs(coef).sum(axis=1) * width
        dim = np.where(score.max(axis=1) > 0, score.argmax(axis=1), width.argmax(axis=1))
        rows = np.arange(len(lo))
        mid = lo[rows, dim] + width[rows, dim] / 2
        left_hi, right_lo = hi.copy(), lo.copy()
        left_hi[rows, dim] = mid
        right_lo[rows, dim] = mid
        self.open_lo = np.concatenate([self.open_lo, lo, right_lo])
        self.open_hi = np.concatenate([self.open_hi, left_hi, hi])
        self.near = np.concatenate([self.near, least, least])
        return None
