"""Branch-and-bound over input sub-boxes, with the exact region search as the last word.

Owns the split of a disjunct's input box: boxes are bounded many at a time
(batched CROWN, :func:`shallowrelu.bounds.box_bounds`); a box is closed when
the bound shows one output constraint, an average of constraints, or the
constraints together (:func:`shallowrelu.bounds.combined_lower`) cannot all
hold on it; on the others the point that minimises the bound and the box's
centre are tried as counterexamples; a box is then halved along the
coordinate whose width costs the rows' bounds most (their coefficients times
its width, ReluVal's "smear" summed over the rows).
A box on which few relus are left unstable, or that has become too thin to
split, goes to the exact region search (:mod:`.tree`), which decides it by
one LP per region. So the answer is never ``unsat`` unless every box was
closed by a sound bound or by the exact search.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field

import numpy as np

from ..bounds import box_bounds, combined_lower
from ..enumerator import search_regions
from ..errors import SolverError
from ..limits import OutOfTime
from ..network import ReLUNetwork
from ..polytope import Box
from ..tolerances import BOUND_MARGIN, MIN_SPLIT_WIDTH, TINY, Tolerances
from .falsify import descend
from .result import meets
from .tree import Found, TreeHooks
from .vnnlib import Term

# Boxes bounded in one batch: large enough that numpy's cost per call vanishes, small enough to stay in cache.
_BATCH = 512
# A box with at most this many unstable relus is cheaper to search exactly than to split further.
_EXACT_UNSTABLE = 6
# Seconds of the first turn of each kind of branching in :func:`decide_term`; each turn doubles.
_FIRST_SLICE = 1.0
# Seconds of input split between looks at the racing region search.
_POLL = 0.1
# Sign-gradient steps from each open box's bound minimiser, kept in the box.
_DESCENT_STEPS = 4


@dataclass
class SplitStats:
    """What the branch-and-bound did: boxes bounded, boxes sent to the region search, what that search did."""

    boxes: int = 0
    exact: int = 0
    regions: int = 0
    pruned: int = 0
    unconfirmed: int = 0
    # What decided each disjunct so far: "bound", "input split" or "region search".
    deciders: list[str] = field(default_factory=list)


def _with_averages(C: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``C y <= e`` and the averages of every pair and of all of them.

    The disjunct holds only where every row does, so a box on which any
    average of rows is positive everywhere is closed too; bounded as one row,
    an average can be positive where no single row's bound is (the rows'
    relaxations cancel), which halved the boxes of ACAS Xu prop 2 on net 1_1.
    """
    k = len(e)
    if k < 2:
        return C, e
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)] if k > 2 else []
    rows = [C] + [(C[[i, j]].mean(axis=0))[None] for i, j in pairs] + [C.mean(axis=0)[None]]
    rhs = [e] + [np.array([e[[i, j]].mean()]) for i, j in pairs] + [np.array([e.mean()])]
    return np.vstack(rows), np.concatenate(rhs)


class InputSplit:
    """The branch-and-bound over one disjunct's input box, run in slices of time.

    ``run`` works until a given time and can be called again: the open boxes
    are kept between calls.
    """

    def __init__(self, net: ReLUNetwork, term: Term, tol: Tolerances, stats: SplitStats) -> None:
        self.net, self.term, self.tol, self.stats = net, term, tol, stats
        self.C, self.e = _with_averages(term.C, term.e)
        self.margin = BOUND_MARGIN * (1.0 + np.abs(self.e))
        self.full = np.maximum(term.hi - term.lo, TINY)
        # The open boxes, each with the least violation the descent met in it (its parent's): the batch
        # bounded next is the boxes nearest to a counterexample. Whatever the order, unsat closes every box.
        self.open_lo, self.open_hi, self.near = term.lo[None], term.hi[None], np.zeros(1)

    @property
    def done(self) -> bool:
        """Every box is closed: no input of the disjunct's box meets it."""
        return len(self.open_lo) == 0

    def run(self, until: float, deadline: float) -> np.ndarray | None:
        """Bound, try and split boxes until ``until``; a confirmed counterexample, or None.

        Raises
        ------
        OutOfTime
            If a box's region search runs past ``deadline``.
        """
        net, term, stats = self.net, self.term, self.stats
        while len(self.open_lo) and time.time() < until:
            if len(self.open_lo) > _BATCH:
                take = np.zeros(len(self.open_lo), dtype=bool)
                take[np.argpartition(self.near, _BATCH)[:_BATCH]] = True
            else:
                take = np.ones(len(self.open_lo), dtype=bool)
            lo, hi = self.open_lo[take], self.open_hi[take]
            self.open_lo, self.open_hi, self.near = self.open_lo[~take], self.open_hi[~take], self.near[~take]
            stats.boxes += len(lo)
            low, coef, const, unstable = box_bounds(net.layers, lo, hi, self.C, self.e, net.kinks)
            open_ = ~np.any(low > self.margin, axis=1)
            if len(self.e) > 1 and open_.any():
                # the rows together: no point of the box meets them all
                joint = combined_lower(coef[open_], const[open_], lo[open_], hi[open_])
                open_[np.flatnonzero(open_)[joint > self.margin.max()]] = False
            lo, hi, low, coef, unstable = lo[open_], hi[open_], low[open_], coef[open_], unstable[open_]
            if not len(lo):
                continue
            # The row nearest to closing the box leads: its bound's minimiser and the centre are tried, then
            # a few descent steps from the minimiser.
            lead = np.argmax(low - self.margin, axis=1)
            c = coef[np.arange(len(lo)), lead]
            corner = np.where(c > 0, lo, hi)
            tries = np.vstack([corner, (lo + hi) / 2])
            hit = meets(net, term, tries)
            if hit.any():
                return tries[np.argmax(hit)]
            x, _, least = descend(net, term, corner, lo, hi, _DESCENT_STEPS)
            if x is not None:
                return x
            width = hi - lo
            exact = (unstable <= _EXACT_UNSTABLE) | np.all(width <= MIN_SPLIT_WIDTH * self.full, axis=1)
            for i in np.flatnonzero(exact):
                stats.exact += 1
                x = _exact(net, term, lo[i], hi[i], deadline, self.tol, stats)
                if x is not None:
                    return x
            rest = ~exact
            lo, hi, coef, width, least = lo[rest], hi[rest], coef[rest], width[rest], least[rest]
            if not len(lo):
                continue
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


def decide_term(net: ReLUNetwork, term: Term, deadline: float, tol: Tolerances, stats: SplitStats,
                jobs: int = 1) -> np.ndarray | None:
    """Decide one disjunct: a confirmed counterexample, or None when no input of its box meets it.

    Two kinds of branching race: the input split and the region search over
    the whole box, which branches on neurons and wins where the relus, not
    the box's width, keep the bounds open. The first to finish decides. With
    ``jobs >= 2`` they run side by side, the region search in a forked
    process; with one job they take turns in slices of doubling length (the
    input split kept between its slices, the region search started afresh in
    each, so at most about as much work again is lost as it needed).

    Raises
    ------
    OutOfTime
        Past ``deadline``.
    """
    split = InputSplit(net, term, tol, stats)
    boxes = stats.boxes

    def split_decided(x: np.ndarray | None) -> np.ndarray | None:
        """Record what decided the input split, and pass its answer on."""
        stats.deciders.append("bound" if stats.boxes == boxes + 1 else "input split")
        return x

    # The first slice of the input split decides most disjuncts before anything is forked.
    x = split.run(min(deadline, time.time() + _FIRST_SLICE), deadline)
    if x is not None or split.done:
        return split_decided(x)
    if jobs >= 2:
        with _RegionRace(net, term, deadline, tol) as race:
            while not race.finished():
                x = split.run(min(deadline, time.time() + _POLL), deadline)
                if x is not None or split.done:
                    return split_decided(x)
                if time.time() > deadline:
                    raise OutOfTime
            return race.result(stats)
    slice_ = _FIRST_SLICE
    while True:
        if time.time() > deadline:
            raise OutOfTime
        try:
            x = _exact(net, term, term.lo, term.hi, min(deadline, time.time() + slice_), tol, stats)
        except OutOfTime:
            if time.time() > deadline:
                raise
            slice_ *= 2
            x = split.run(min(deadline, time.time() + slice_), deadline)
            if x is not None or split.done:
                return split_decided(x)
            continue
        stats.deciders.append("region search")
        return x


class _RegionRace:
    """The region search over a disjunct's whole box in a forked process, racing the input split."""

    def __init__(self, net: ReLUNetwork, term: Term, deadline: float, tol: Tolerances) -> None:
        self.args = (net, term, deadline, tol)

    def __enter__(self) -> "_RegionRace":
        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        self.conn, child = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_race_worker, args=(child,) + self.args, daemon=True)
        self.proc.start()
        child.close()
        return self

    def finished(self) -> bool:
        """Whether the child process has answered."""
        return self.conn.poll()

    def result(self, stats: SplitStats) -> np.ndarray | None:
        """The region search's answer, its counts added to ``stats``.

        Raises
        ------
        OutOfTime
            If the search ran out of time.
        SolverError
            If one of its LPs failed on every attempt.
        """
        kind, x, counts = self.conn.recv()
        stats.regions += counts[0]
        stats.pruned += counts[1]
        stats.unconfirmed += counts[2]
        if kind == "timeout":
            raise OutOfTime
        if kind == "solver":
            raise SolverError(x)
        stats.deciders.append("region search")
        return x

    def __exit__(self, *exc) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()


def _race_worker(conn, net: ReLUNetwork, term: Term, deadline: float, tol: Tolerances) -> None:
    """The exact region search in a child process, its answer sent back on ``conn``."""
    stats = SplitStats()
    try:
        x = _exact(net, term, term.lo, term.hi, deadline, tol, stats)
        out = ("cex" if x is not None else "none", x)
    except OutOfTime:
        out = ("timeout", None)
    except SolverError as exc:
        out = ("solver", str(exc))
    conn.send(out + ((stats.regions, stats.pruned, stats.unconfirmed),))
    conn.close()


def _exact(net: ReLUNetwork, term: Term, lo: np.ndarray, hi: np.ndarray, deadline: float, tol: Tolerances,
           stats: SplitStats) -> np.ndarray | None:
    """The region search over one box: a confirmed counterexample, or None (every region ruled out)."""
    if np.all(hi == lo):  # a single point: the forward pass decides it
        return lo if meets(net, term, lo[None])[0] else None
    hooks = TreeHooks(net, Term(lo, hi, term.C, term.e), deadline, tol)
    try:
        outcome = search_regions(net, Box(lo, hi), hooks, tol=tol, jobs=1)
        hooks.unconfirmed += outcome["unresolved"]
    except Found as found:
        return found.x
    finally:
        stats.regions += hooks.regions
        stats.pruned += hooks.pruned
    stats.unconfirmed += hooks.unconfirmed
    return None
