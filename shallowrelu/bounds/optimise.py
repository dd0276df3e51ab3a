"""Lower slopes and split multipliers chosen by gradient ascent on the bound (alpha- and beta-CROWN).

Every lower slope of a free unit in its range and every multiplier
``>= 0`` gives a sound bound (:mod:`.backward`), so the search may stop at
any step: each row keeps the best bound it met, with the slopes and
multipliers that gave it. The gradient is :func:`.backward.adjoint`'s one
forward pass; the steps are Adam's, projected back into the ranges.

:func:`optimise_rows` tightens given rows over many domains with their
pre-activation bounds fixed (the final rows of a branch-and-bound, each
domain with its own splits); :func:`optimised_hidden` tightens every hidden
layer's bounds over one box, layer by layer, each unit's lower and upper
bound with slopes of its own (alpha-CROWN at the root).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..limits import check_time
from ..network import Kinks
from .backward import Layers, adjoint, backward, hidden_bounds, tightened, unit_rows
from .relax import Relaxation, relax

# Adam's step sizes: slopes live in [0, 1], multipliers on the scale of the pre-activations they multiply.
_LR_ALPHA, _LR_BETA = 0.1, 0.5
_ADAM_B1, _ADAM_B2, _ADAM_EPS = 0.9, 0.999, 1e-8
# Each step's size shrinks by this factor (the schedule alpha-CROWN uses).
_LR_DECAY = 0.98


class _Adam:
    """Adam ascent on a list of arrays (None entries are skipped)."""

    def __init__(self, params: list, lr: float) -> None:
        self.lr, self.t = lr, 0
        self.m = [None if p is None else np.zeros_like(p) for p in params]
        self.v = [None if p is None else np.zeros_like(p) for p in params]

    def step(self, params: list, grads: list) -> None:
        """Move every parameter up its gradient, in place."""
        self.t += 1
        lr = self.lr * _LR_DECAY ** self.t * np.sqrt(1 - _ADAM_B2 ** self.t) / (1 - _ADAM_B1 ** self.t)
        for p, g, m, v in zip(params, grads, self.m, self.v):
            if p is None:
                continue
            m *= _ADAM_B1
            m += (1 - _ADAM_B1) * g
            v *= _ADAM_B2
            v += (1 - _ADAM_B2) * g * g
            p += lr * m / (np.sqrt(v) + _ADAM_EPS)


@dataclass
class Optimised:
    """The best bound of each row met by :func:`optimise_rows`, with what gave it.

    Attributes
    ----------
    low : ndarray, shape (B, r)
    alpha : list of ndarray
        Per layer, the lower slopes ``(B, r, w)`` (as alpha, in [0, 1]).
    beta : list
        Per layer None or the split multipliers ``(B, r, w)``.
    lams : list of ndarray
        Per layer, the coefficients of the best bound on the layer's outputs (for branching scores).
    coef, const : ndarray
        The best bound as a linear function of the input.
    moved : ndarray, shape (B, r)
        Rows whose best bound came from a step (not the starting point).
    """

    low: np.ndarray
    alpha: list
    beta: list
    lams: list
    coef: np.ndarray
    const: np.ndarray
    moved: np.ndarray


def _signed(beta: list, split: list | None) -> list | None:
    """The split terms ``-beta s`` that :func:`.backward.backward` adds to each layer's coefficients."""
    if split is None:
        return None
    return [None if b is None else -b * s[:, None, :] for b, s in zip(beta, split)]


def optimise_rows(A: np.ndarray, c: np.ndarray, layers: Layers, relaxations: list[Relaxation], lo: np.ndarray,
                  hi: np.ndarray, *, split: list | None = None, alpha: list | None = None,
                  beta: list | None = None, iters: int = 20, rate: np.ndarray | None = None,
                  done=None) -> Optimised:
    """Tighten the lower bounds of ``A h + c`` over ``B`` domains by moving slopes and multipliers.

    Parameters
    ----------
    A, c, layers, relaxations, lo, hi
        As for :func:`.backward.backward`; the relaxations carry the domains' pre-activation bounds.
    split : list, optional
        Per layer None or ``(B, w)`` int (1 active, -1 inactive, 0 free): the split neurons, whose
        constraints enter with multipliers.
    alpha, beta : list, optional
        Starting slopes ``(B, r, w)`` and multipliers; None: CROWN's slopes, multipliers 0.
    iters : int
        Gradient steps (0: the bound at the starting point).
    rate : ndarray, shape (B,), optional
        Per domain, a factor on the step sizes (default 1).
    done : callable, optional
        ``done(low, coef, const) -> bool`` array ``(B,)`` of domains that need no more work (the best
        bounds so far); the steps stop when every domain is done.

    Returns
    -------
    Optimised
    """
    B, r = c.shape
    if alpha is None:
        alpha = [np.array(np.broadcast_to(_slope_as_alpha(R), (B, r, R.free.shape[2])))
                 for R in relaxations]
    else:
        alpha = [np.array(a, dtype=np.float64) for a in alpha]
    if split is not None:
        beta = [None if s is None or not s.any() else
                (np.zeros((B, r, s.shape[1])) if beta is None or beta[j] is None else np.array(beta[j], float))
                for j, s in enumerate(split)]
    else:
        beta = [None] * len(layers)
    free = [R.free for R in relaxations]
    best: Optimised | None = None
    scale = 1.0 if rate is None else np.asarray(rate, dtype=np.float64)[:, None, None]
    opt_a, opt_b = _Adam(alpha, _LR_ALPHA * scale), _Adam(beta, _LR_BETA * scale)
    for step in range(iters + 1):
        check_time()
        rel = [R.with_alpha(a) for R, a in zip(relaxations, alpha)]
        bw = backward(A, c, layers, rel, lo, hi, betas=_signed(beta, split), keep=True)
        if best is None:
            best = Optimised(bw.low.copy(), [a.copy() for a in alpha], [None if b is None else b.copy() for b in beta],
                             list(bw.lams), bw.coef.copy(), bw.const.copy(), np.zeros_like(bw.low, dtype=bool))
        else:
            better = bw.low > best.low
            best.moved |= better
            best.low = np.where(better, bw.low, best.low)
            for j in range(len(layers)):
                best.alpha[j][better] = alpha[j][better]
                if beta[j] is not None:
                    best.beta[j][better] = beta[j][better]
                best.lams[j] = np.where(better[:, :, None], bw.lams[j], best.lams[j])
            best.coef = np.where(better[:, :, None], bw.coef, best.coef)
            best.const = np.where(better, bw.const, best.const)
        if step == iters or (done is not None and np.all(done(best.low, best.coef, best.const))):
            break
        zs = adjoint(bw, layers, rel, lo, hi)
        ga = [np.where(f, np.maximum(lam, 0.0) * z * (1.0 - R.floor), 0.0)
              for f, lam, z, R in zip(free, bw.lams, zs, relaxations)]
        gb = [None if b is None else -split[j][:, None, :] * z for j, (b, z) in enumerate(zip(beta, zs))]
        opt_a.step(alpha, ga)
        opt_b.step(beta, gb)
        for a in alpha:
            np.clip(a, 0.0, 1.0, out=a)
        for j, b in enumerate(beta):
            if b is not None:
                np.maximum(b, 0.0, out=b)
                b *= split[j][:, None, :] != 0
    return best


def _slope_as_alpha(R: Relaxation) -> np.ndarray:
    """The relaxation's own lower slopes of its free units, as alpha in [0, 1] (0 elsewhere)."""
    span = np.where(R.floor < 1.0, 1.0 - R.floor, 1.0)
    return np.where(R.free, (R.lo_slope[:, :1] - R.floor) / span, 0.0)


@dataclass
class LayerBounds:
    """Every hidden layer's pre-activation bounds over one box, as alpha-CROWN left them.

    Attributes
    ----------
    pre : list of (l, u)
        Per hidden layer, shapes ``(1, w)``.
    relaxations : list of Relaxation
        The layers relaxed on them (CROWN's lower slopes).
    rows : list of ndarray
        Per hidden layer, the units whose bounds were optimised (unstable after CROWN).
    alphas : list of list
        Per hidden layer ``k``, the slopes that gave those bounds: per layer ``j < k``
        an array ``(1, 2 len(rows[k]), w_j)`` (the lower bounds' rows, then the upper bounds').
    """

    pre: list
    relaxations: list
    rows: list
    alphas: list

    @property
    def unstable(self) -> int:
        """Units the bounds leave unstable."""
        return int(sum(((l < 0) & (u > 0)).sum() for l, u in self.pre))


def optimised_hidden(layers: Layers, lo: np.ndarray, hi: np.ndarray, kinks: list[Kinks | None],
                     iters: int = 20) -> LayerBounds:
    """Every hidden layer's pre-activation bounds over one box (``lo, hi`` of shape ``(1, n)``), alpha-CROWN.

    Starts from CROWN's bounds; then, layer by layer from the second, the
    bounds of the units still unstable are tightened, each lower and each
    upper bound by slopes of its own, before the next layer is relaxed on them.
    """
    pre, relaxations = hidden_bounds(layers, lo, hi, kinks)
    all_rows, all_alphas = [np.zeros(0, dtype=np.int64)], [[]]
    for k in range(1, len(layers) - 1):
        l, u = pre[k]
        rows = np.flatnonzero((l[0] < 0) & (u[0] > 0))
        all_rows.append(rows)
        if not rows.size:
            all_alphas.append([np.zeros((1, 0, W.shape[0])) for W, _ in layers[:k]])
            continue
        W, b = layers[k]
        A, c = unit_rows(W, b, rows)
        opt = optimise_rows(A[None], c[None], layers[:k], relaxations[:k], lo, hi, iters=iters)
        all_alphas.append(opt.alpha)
        l, u = tightened(l, u, rows, opt.low)
        pre[k] = (l, u)
        relaxations[k] = relax(l, u, kinks[k])
    return LayerBounds(pre, relaxations, all_rows, all_alphas)
