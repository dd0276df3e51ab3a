"""Branch-and-bound on neurons (beta-CROWN) for one disjunct: the method for many inputs.

The disjunct's input box is bounded by alpha-CROWN at the root: every
hidden layer's bounds tightened by optimised lower slopes (computed once per
box and shared by its disjuncts), then the disjunct's rows. A *domain* fixes
some unstable ReLUs to one side and carries its own bounds on every hidden
layer. Its bound on the rows is the backward pass with the fixed units exact
and their constraints entering with multipliers (beta), slopes and
multipliers optimised for some steps, each child starting from its parent's.

Where no step improved on a domain's start, its children step with a
smaller rate: deep in the tree the parent's slopes and multipliers are near
the best, and full steps overshoot. A domain is *stuck* when its split and
its steps gained less than a thousandth of its bound's distance to zero
over what it inherited. A stuck domain's children have their layer bounds
tightened from the first layer split since they last were: each unit the
root's bounds left unstable is bounded again by a
backward pass with the slopes that gave its root bound, through the child's
own relaxation, where the split unit is exact. Units that become stable are
never split, and the rows' bound rests on tighter relaxations. Other
children keep their parent's layer bounds: tightening every child cost
three quarters of the time, and the multipliers make up most of it.

A child's domain lies in its parent's, so it keeps the parent's bound where
its own is worse; the multipliers of a new split start where they reproduce
the parent's bound (:func:`_split_beta`). A domain is closed when a row's
bound clears zero by the rounding margin, or when its bounds show it empty.
Its relaxed minimiser is tried as a counterexample by the forward pass, and
a tenth of the time goes to rounds of the gradient attack (:mod:`.falsify`).

Domains are taken in batches, the least bound first, from a pool held in
flat arrays whose size is checked against the memory budget. Branching is
filtered smart branching: the units whose upper line costs the bound most
(BaBSR's intercept score) are candidates, each candidate's two children are
bounded once with the parent's slopes, and the candidate whose worse child
is best is split. A domain with no unstable ReLU left to split is decided
exactly: every unit's side is then fixed, so the network is one affine map
on the domain and one LP decides it (the MILP where a max group is open).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, fields

import numpy as np

from ..bounds import Relaxation, apply_split, backward, relax
from ..bounds.backward import output_rows, tightened, unit_rows
from ..bounds.interval import member_state
from ..bounds.optimise import LayerBounds, optimise_rows, optimised_hidden
from ..errors import SolverError
from ..limits import check_memory, check_time
from ..network import ReLUNetwork
from ..polytope.lp import solve_lp
from ..tolerances import Tolerances
from .falsify import attack
from .milp_method import milp_cutoff
from .result import Decider, Verdict, meets
from .strategy import Outcome, Strategy, bound_rows, proof_margin
from .vnnlib import Disjunct

# Domains bounded per step; candidates each domain's branching rule bounds.
_BATCH = 64
_CANDIDATES = 6
# Gradient steps on the disjunct's rows at the root, and for each new domain.
_ROOT_ITERS = 50
_ITERS = 20
# A domain whose steps did not improve on their start hands its children steps this much smaller (down to
# _RATE_MIN): deep in the tree the parent's slopes and multipliers are near the best, and full steps overshoot.
_RATE_CUT, _RATE_MIN = 0.3, 0.01
# A domain is stuck when no row's bound gained this share of its distance to zero over what it inherited.
_GAIN = 1e-3
# The pool may take this share of the memory budget.
_POOL_SHARE = 0.5
# Share of its time the neuron split spends on rounds of the gradient attack between batches.
_ATTACK_SHARE = 0.1


@dataclass
class _Domains:
    """A batch of domains: per hidden layer their splits (1 ``z >= 0``, -1 ``z <= 0``, 0 free), bounds,
    lower slopes (as alpha) and split multipliers; per row the best bound known; per domain its step rate,
    whether it is stuck, and the first layer split since its layer bounds were last tightened (the number
    of hidden layers if none)."""

    split: list
    lower: list
    upper: list
    alpha: list
    beta: list
    low: np.ndarray
    rate: np.ndarray
    stuck: np.ndarray
    since: np.ndarray

    def __len__(self) -> int:
        return len(self.low)

    def _each(self, f) -> "_Domains":
        """``f`` applied to every array (per layer, or per domain)."""
        return _Domains(*([f(a) for a in v] if isinstance(v, list) else f(v)
                          for v in (getattr(self, field.name) for field in fields(self))))

    def take(self, idx: np.ndarray) -> "_Domains":
        """The domains ``idx``."""
        return self._each(lambda a: a[idx])

    def twice(self) -> "_Domains":
        """Every domain twice (the children of a split, before the split is made)."""
        return self._each(lambda a: np.concatenate([a, a]))


class _Pool:
    """The open domains in flat arrays (slopes and multipliers in float32), and a heap of (bound, slot)."""

    _DTYPES = {"split": np.int8, "lower": np.float64, "upper": np.float64, "alpha": np.float32, "beta": np.float32}
    # per domain, in :class:`_Domains`'s order (``low`` has a column per row)
    _PER_DOMAIN = {"low": np.float64, "rate": np.float64, "stuck": np.bool_, "since": np.int64}

    def __init__(self, widths: list[int], rows: int) -> None:
        self.widths, self.rows = widths, rows
        for name, dtype in self._DTYPES.items():
            shape = (lambda w: (0, rows, w)) if name in ("alpha", "beta") else (lambda w: (0, w))
            setattr(self, name, [np.zeros(shape(w), dtype) for w in widths])
        for name, dtype in self._PER_DOMAIN.items():
            setattr(self, name, np.zeros((0, rows) if name == "low" else 0, dtype))
        self.heap: list[tuple[float, int]] = []
        self.free: list[int] = []

    def __len__(self) -> int:
        return len(self.heap)

    def _grow(self, need: int) -> None:
        """Room for ``need`` more domains, doubling, within the pool's share of the memory budget."""
        cap = len(self.low)
        grow = max(cap, need, 256)
        per = sum(w * (1 + 16 + 8 * self.rows) for w in self.widths) + sum(
            np.dtype(dtype).itemsize * (self.rows if name == "low" else 1) for name, dtype in self._PER_DOMAIN.items())
        check_memory(grow * per / _POOL_SHARE, f"the neuron split's pool of {cap + grow} domains")
        for name in self._DTYPES:
            setattr(self, name, [_padded(a, grow) for a in getattr(self, name)])
        for name in self._PER_DOMAIN:
            setattr(self, name, _padded(getattr(self, name), grow))
        self.free += list(range(cap + grow - 1, cap - 1, -1))

    def push(self, domains: _Domains) -> None:
        """Add domains; the best row's bound orders the heap."""
        if len(self.free) < len(domains):
            self._grow(len(domains) - len(self.free))
        slots = [self.free.pop() for _ in range(len(domains))]
        for name in self._DTYPES:
            for mine, theirs in zip(getattr(self, name), getattr(domains, name)):
                mine[slots] = theirs
        for name in self._PER_DOMAIN:
            getattr(self, name)[slots] = getattr(domains, name)
        for v, s in zip(domains.low.max(axis=1).tolist(), slots):
            heapq.heappush(self.heap, (v, s))

    def pop(self, n: int) -> _Domains:
        """The ``n`` domains of least bound, taken out (slopes and multipliers as float64)."""
        slots = [heapq.heappop(self.heap)[1] for _ in range(min(n, len(self.heap)))]
        self.free += slots
        return _Domains(*([a[slots].astype(np.float64 if name in ("alpha", "beta") else a.dtype)
                           for a in getattr(self, name)] for name in self._DTYPES),
                        *(getattr(self, name)[slots] for name in self._PER_DOMAIN))


class NeuronSplit(Strategy):
    """Branch-and-bound on unstable ReLUs over one disjunct's box (module docstring).

    Parameters
    ----------
    net : ReLUNetwork
    disjunct : Disjunct
    tol : Tolerances
    root : LayerBounds, optional
        alpha-CROWN's layer bounds over the disjunct's box
        (:func:`shallowrelu.bounds.optimise.optimised_hidden`), when already computed.
    """

    def __init__(self, net: ReLUNetwork, disjunct: Disjunct, tol: Tolerances, root: LayerBounds | None = None) -> None:
        super().__init__(net, disjunct, tol)
        self.layers = list(net.layers)
        self.hidden = self.layers[:-1]
        self.kinks = list(net.kinks or [None] * len(self.hidden))
        self.lo, self.hi = disjunct.lo[None], disjunct.hi[None]
        self.C, self.e = bound_rows(disjunct)
        self.A, self.c = output_rows(self.layers, self.C, self.e, 1)
        self.root = root
        self.pool: _Pool | None = None
        self.rng = np.random.default_rng(0)
        self.busy = self.attacking = 0.0  # seconds of work, and of it of the attack

    def run(self, until: float) -> Outcome | None:
        """Bound and split domains until ``until`` (see :class:`~.strategy.Strategy`)."""
        if self.pool is None:
            outcome = self._start()
            if outcome is not None:
                return outcome
        while time.time() < until:
            began = time.time()
            if self.attacking < _ATTACK_SHARE * self.busy:  # a round of restarts, output-diversified
                x, _ = attack(self.net, self.disjunct, self.rng, work=self.work, first=False)
                self.attacking += time.time() - began
                if x is not None:
                    return Outcome(Verdict.SAT, Decider.FALSIFIED, x, "gradient attack")
            if not len(self.pool):
                if self.work.unconfirmed:
                    return Outcome(Verdict.UNKNOWN, Decider.NEURON_SPLIT,
                                   note=f"{self.work.unconfirmed} domains undecided (their LP or MILP failed, or "
                                        "found a point the forward pass did not confirm)")
                return Outcome(Verdict.UNSAT, Decider.NEURON_SPLIT)
            x = self._step()
            self.busy += time.time() - began
            if x is not None:
                return Outcome(Verdict.SAT, Decider.NEURON_SPLIT, x)
        return None

    def _start(self) -> Outcome | None:
        """The root: alpha-CROWN on the disjunct's rows; the pool holds the root domain if it stays open."""
        if self.root is None:
            self.root = optimised_hidden(self.layers, self.lo, self.hi, self.kinks)
        pre = self.root.pre
        opt = optimise_rows(self.A, self.c, self.hidden, self.root.relaxations, self.lo, self.hi,
                            iters=_ROOT_ITERS, done=self._closed)
        self.work.domains += 1
        if self._closed(opt.low, opt.coef, opt.const)[0]:
            return Outcome(Verdict.UNSAT, Decider.BOUND)
        x = self._try(opt.coef)
        if x is not None:
            return Outcome(Verdict.SAT, Decider.NEURON_SPLIT, x)
        self.branchable = []
        for (l, u), k in zip(pre, self.kinks):
            ok = (l[0] < 0) & (u[0] > 0)
            if k is not None:
                ok &= (k.group < 0) & (k.slope != 1.0)
            self.branchable.append(ok)
        widths = [W.shape[0] for W, _ in self.hidden]
        self.pool = _Pool(widths, len(self.e))
        self.pool.push(_Domains([np.zeros((1, w), np.int8) for w in widths], [l for l, _ in pre], [u for _, u in pre],
                                opt.alpha, [np.zeros((1, len(self.e), w)) for w in widths], opt.low, np.ones(1),
                                np.ones(1, dtype=bool), np.full(1, len(self.hidden))))
        return None

    def _closed(self, low: np.ndarray, coef: np.ndarray, const: np.ndarray) -> np.ndarray:
        """Per domain: some row's bound clears zero by the rounding margin."""
        return np.any(low > proof_margin(coef, const, self.disjunct.lo, self.disjunct.hi, self.e), axis=1)

    def _try(self, coef: np.ndarray) -> np.ndarray | None:
        """The relaxed minimisers of the rows (box corners) as counterexamples; one the forward pass confirms."""
        x = np.where(coef > 0, self.lo[:, None, :], self.hi[:, None, :]).reshape(-1, self.lo.shape[1])
        hit = meets(self.net, self.disjunct, x)
        return x[np.argmax(hit)] if hit.any() else None

    def _box(self, B: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The rows and the input box, for ``B`` domains."""
        return (np.broadcast_to(self.A, (B,) + self.A.shape[1:]), np.broadcast_to(self.c, (B, self.c.shape[1])),
                np.broadcast_to(self.lo, (B, self.lo.shape[1])), np.broadcast_to(self.hi, (B, self.hi.shape[1])))

    def _step(self) -> np.ndarray | None:
        """One batch: pick, branch, bound the children, keep the open ones; a counterexample or None."""
        check_time()
        batch = self.pool.pop(_BATCH)
        A, c, lo, hi = self._box(len(batch))
        rel = [relax(l, u, k).with_alpha(a) for l, u, k, a in zip(batch.lower, batch.upper, self.kinks, batch.alpha)]
        betas = [-b * s[:, None, :] for b, s in zip(batch.beta, batch.split)]
        parent = backward(A, c, self.hidden, rel, lo, hi, betas=betas, keep=True)
        layer, unit = self._branch(parent, rel, batch.split, betas)
        exact = layer < 0
        for i in np.flatnonzero(exact):
            x = self._exact([s[i] for s in batch.split])
            if x is not None:
                return x
        keep = np.flatnonzero(~exact)
        if not keep.size:
            return None
        B = keep.size
        layer, unit = layer[keep], unit[keep]
        kids = batch.take(keep).twice()
        kids.low = np.maximum(kids.low, np.tile(parent.low[keep], (2, 1)))  # the parent's bound holds in a child
        rows = np.arange(B)
        for j in range(len(kids.split)):
            mine = layer == j
            r, u = rows[mine], unit[mine]
            kids.split[j][r, u], kids.split[j][B + r, u] = 1, -1
            kids.beta[j][r, :, u], kids.beta[j][B + r, :, u] = _split_beta(parent, rel, j, keep[mine], u)
            kids.lower[j], kids.upper[j] = apply_split(kids.lower[j], kids.upper[j], kids.split[j])
        kids.since = np.minimum(kids.since, np.tile(layer, 2))
        tight = np.flatnonzero(kids.stuck)
        if tight.size:
            sub = kids.take(tight)
            self._tighten(sub, int(kids.since[tight].min()) + 1)
            for k in range(len(kids.lower)):
                kids.lower[k][tight], kids.upper[k][tight] = sub.lower[k], sub.upper[k]
            kids.since[tight] = len(self.hidden)
        rel = [relax(l, u, k).with_alpha(a) for l, u, k, a in zip(kids.lower, kids.upper, self.kinks, kids.alpha)]
        empty = np.zeros(2 * B, dtype=bool)
        for l, u in zip(kids.lower, kids.upper):
            empty |= np.any(l > u, axis=1)
        A, c, lo, hi = self._box(2 * B)
        opt = optimise_rows(A, c, self.hidden, rel, lo, hi, split=kids.split, alpha=kids.alpha, beta=kids.beta,
                            iters=_ITERS, rate=kids.rate,
                            done=lambda low, coef, const: self._closed(low, coef, const) | empty)
        self.work.domains += 2 * B
        open_ = np.flatnonzero(~(self._closed(opt.low, opt.coef, opt.const) | empty))
        if not open_.size:
            return None
        x = self._try(opt.coef[open_])
        if x is not None:
            return x
        kids.stuck = ~(opt.low - kids.low > _GAIN * np.abs(kids.low)).any(axis=1)
        kids.alpha, kids.low = opt.alpha, np.maximum(kids.low, opt.low)
        kids.rate = np.where(opt.moved.any(axis=1), kids.rate, np.maximum(kids.rate * _RATE_CUT, _RATE_MIN))
        kids.beta = [mine if theirs is None else theirs for mine, theirs in zip(kids.beta, opt.beta)]
        self.pool.push(kids.take(open_))
        return None

    def _tighten(self, kids: _Domains, start: int) -> None:
        """Bound again the units of layers ``start`` on that the root left unstable (the domains' bounds are
        replaced)."""
        B = len(kids)
        _, _, lo, hi = self._box(B)
        rel = []
        for k, (W, b) in enumerate(self.hidden):
            l, u = kids.lower[k], kids.upper[k]
            rows = self.root.rows[k]
            if k >= start and rows.size:
                open_ = ((l[:, rows] < 0) & (u[:, rows] > 0)).any(axis=0)
                if open_.any():
                    pick = rows[open_]
                    A, c = unit_rows(W, b, pick)
                    both = np.concatenate([open_, open_])
                    slopes = [R.with_alpha(np.broadcast_to(a[:, both], (B, A.shape[0], a.shape[2])))
                              for R, a in zip(rel, self.root.alphas[k])]
                    low = backward(np.broadcast_to(A, (B,) + A.shape), np.broadcast_to(c, (B, c.size)),
                                   self.hidden[:k], slopes, lo, hi).low
                    kids.lower[k], kids.upper[k] = apply_split(*tightened(l, u, pick, low), kids.split[k])
            rel.append(relax(kids.lower[k], kids.upper[k], self.kinks[k]).with_alpha(kids.alpha[k]))

    def _branch(self, parent, rel: list[Relaxation], split: list, betas: list) -> tuple[np.ndarray, np.ndarray]:
        """Per domain, the layer and unit to split (filtered smart branching); layer -1 where none is left."""
        B = split[0].shape[0]
        scores = []
        for j, (R, s) in enumerate(zip(rel, split)):
            # what the upper line's intercept costs the bound: the gap a split closes
            cost = (np.maximum(-parent.lams[j], 0.0) * R.up_icpt).sum(axis=1)
            unstable = R.free[:, 0] | (R.up_icpt[:, 0] > 0)
            scores.append(np.where(self.branchable[j] & (s == 0) & unstable, cost, -np.inf))
        flat = np.concatenate(scores, axis=1)
        offsets = np.cumsum([0] + [s.shape[1] for s in scores])
        k = min(_CANDIDATES, flat.shape[1])
        cand = np.argpartition(-flat, k - 1, axis=1)[:, :k]
        valid = np.isfinite(np.take_along_axis(flat, cand, axis=1))
        layer_of = (np.searchsorted(offsets, cand, side="right") - 1).ravel()
        unit_of = cand.ravel() - offsets[layer_of]
        # both children of every candidate, bounded once with the parent's slopes and multipliers
        owner = np.repeat(np.arange(B), k)
        n = B * k
        sp = [np.zeros((2 * n, s.shape[1]), np.int8) for s in split]
        bt = [np.tile(b[owner], (2, 1, 1)) for b in betas]
        for j in range(len(sp)):
            mine = np.flatnonzero(layer_of == j)
            u = unit_of[mine]
            sp[j][mine, u], sp[j][n + mine, u] = 1, -1
            on, off = _split_beta(parent, rel, j, owner[mine], u)
            bt[j][mine, :, u], bt[j][n + mine, :, u] = -on, off
        both = np.tile(owner, 2)
        rel_c = [_take(R, both).fix(s) for R, s in zip(rel, sp)]
        A, c, lo, hi = self._box(2 * n)
        low = backward(A, c, self.hidden, rel_c, lo, hi, betas=bt).low.max(axis=1)
        worse = np.where(valid, np.minimum(low[:n], low[n:]).reshape(B, k), -np.inf)
        pick = np.argmax(worse, axis=1)
        rows = np.arange(B)
        none_left = ~valid.any(axis=1)
        return np.where(none_left, -1, layer_of.reshape(B, k)[rows, pick]), unit_of.reshape(B, k)[rows, pick]

    def _exact(self, split: list) -> np.ndarray | None:
        """A domain with no ReLU left to split, decided exactly: one LP where every unit's side is then fixed
        (the network is one affine map on the domain), else (a max group still open) the MILP."""
        bits, settled = [], True
        for (l, u), s, k in zip(self.root.pre, split, self.kinks):
            b = np.where(s != 0, s > 0, l[0] >= 0)
            if k is not None and k.groups:
                state = member_state(l[0], u[0], k, None)
                settled &= not np.any(state == 0)
                b = np.where(k.group >= 0, state == 1, b)
            bits.append(b)
        if not settled:
            return self._milp(split)
        M, v, A, d = self.net.pattern_maps(np.concatenate(bits))
        signs = np.concatenate(split).astype(np.float64)
        fixed = np.flatnonzero(signs)
        n = self.lo.shape[1]
        term = self.disjunct
        A_ub = np.vstack([-signs[fixed, None] * M[fixed], term.C @ A, np.eye(n), -np.eye(n)])
        b_ub = np.concatenate([signs[fixed] * v[fixed], term.e - term.C @ d, term.hi, -term.lo])
        self.work.lps += 1
        try:
            res = solve_lp(np.zeros(n), A_ub, b_ub, self.tol)
        except SolverError:
            self.work.unconfirmed += 1
            return None
        return self._confirm(res.x) if res.feasible else None

    def _milp(self, split: list) -> np.ndarray | None:
        """A domain decided by the MILP on its part of the box."""
        from ..milp import least_violation

        margin = milp_cutoff(self.disjunct)
        self.work.milps += 1
        try:
            res = least_violation(self.net, self.disjunct.lo, self.disjunct.hi, [(self.disjunct.C, self.disjunct.e)],
                                  cutoff=margin, bounds=[(l[0], u[0]) for l, u in self.root.pre], split=split)
        except SolverError:
            self.work.unconfirmed += 1
            return None
        if res.status != "optimal":
            self.work.unconfirmed += 1
            return None
        return None if res.value > margin else self._confirm(res.x)

    def _confirm(self, x: np.ndarray) -> np.ndarray | None:
        """``x`` (clipped to the box) if the forward pass confirms it; else None, counted as unconfirmed."""
        x = np.clip(x, self.disjunct.lo, self.disjunct.hi)
        if meets(self.net, self.disjunct, x[None])[0]:
            return x
        self.work.unconfirmed += 1
        return None


def _padded(a: np.ndarray, grow: int) -> np.ndarray:
    """``a`` with ``grow`` rows of zeros after it."""
    return np.concatenate([a, np.zeros((grow,) + a.shape[1:], a.dtype)])


def _take(R: Relaxation, idx: np.ndarray) -> Relaxation:
    """The relaxation of the domains ``idx``."""
    return Relaxation(R.lo_slope[idx], R.up_slope[idx], R.up_icpt[idx], R.lo_icpt[idx], R.free[idx], R.floor)


def _split_beta(parent, rel: list[Relaxation], j: int, domains: np.ndarray,
                units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The multipliers that start a new split where its parent's bound is, for both children.

    Where the parent's bound puts a positive coefficient ``lam`` on a unit's
    output it uses the unit's lower line ``a z``; fixed to ``z >= 0`` the unit
    is ``z``, fixed to ``z <= 0`` it is ``floor z``. The multipliers
    ``lam (1 - a)`` and ``lam (a - floor)`` turn those back into ``lam a z``,
    so each child starts from its parent's bound (and does better where
    ``lam < 0``, whose upper line the split makes exact). Returns the
    multipliers ``(active, inactive)``, each ``(len(domains), r)``.
    """
    lam = np.maximum(parent.lams[j][domains, :, units], 0.0)
    slope = rel[j].lo_slope[domains, :, units]
    floor = rel[j].floor[units][:, None]
    return lam * (1.0 - slope), lam * (slope - floor)
