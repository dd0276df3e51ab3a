"""Cheap sound bounds that settle neurons without an LP.

Interval arithmetic on the exact affine form of a pre-activation over a box
enclosing the current region, and one-constraint box tightening (FBBT) so the
box shrinks as the search adds inequalities. Sound by construction and LP-free:
the enumerator, the MILP (its big-M constants) and verify read them; this
module imports nothing but the network.
"""

from __future__ import annotations

import numpy as np

from .network import ReLUNetwork
from .tolerances import ROUNDING_REL, TINY


def affine_range(a: np.ndarray, c: float | np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple:
    """Sound ``(min, max)`` of ``a . t + c`` over the box ``[lo, hi]``.

    ``a`` may be one row (returns floats) or a matrix (returns arrays, one
    entry per row). Infinite box sides give infinite bounds where the
    coefficient is non-zero.
    """
    a = np.asarray(a, dtype=np.float64)
    # A zero coefficient contributes nothing even against an infinite side
    # (numpy would give 0 * inf = nan).
    with np.errstate(invalid="ignore"):
        at_lo = np.where(a == 0, 0.0, a * lo)
        at_hi = np.where(a == 0, 0.0, a * hi)
    low, high = np.minimum(at_lo, at_hi), np.maximum(at_lo, at_hi)
    return low.sum(axis=-1) + c, high.sum(axis=-1) + c


def tighten_box(lo: np.ndarray, hi: np.ndarray, a: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Shrink ``[lo, hi]`` using one constraint ``a . t + c <= 0`` (one FBBT pass).

    For each coordinate ``i``: ``a_i t_i <= -c - min(sum_{k != i} a_k t_k)``.
    The result still contains every point of the box that satisfies the
    constraint.
    """
    with np.errstate(invalid="ignore"):
        terms_min = np.where(a > 0, a * lo, np.where(a < 0, a * hi, 0.0))
    unbounded = ~np.isfinite(terms_min)
    if np.count_nonzero(unbounded) > 1:
        return lo, hi
    if unbounded.any():
        # Only the coordinate with the unbounded term can be tightened.
        rest = np.full(a.shape, -np.inf)
        rest[unbounded] = terms_min[~unbounded].sum()
    else:
        rest = terms_min.sum() - terms_min
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (-c - rest) / a
    # Rounding must never cut into the feasible set: widen by a relative hair.
    hair = ROUNDING_REL * (1.0 + np.abs(bound))
    lo, hi = lo.copy(), hi.copy()
    up, down = a > 0, a < 0
    hi[up] = np.minimum(hi[up], bound[up] + hair[up])
    lo[down] = np.maximum(lo[down], bound[down] - hair[down])
    return lo, hi


def interval_bounds(net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Interval bounds ``(zlo, zhi)`` on every hidden layer's pre-activations over a box.

    Parameters
    ----------
    net : ReLUNetwork
    lo, hi : ndarray, shape (n,)

    Returns
    -------
    list of (ndarray, ndarray)
        Sound lower and upper bounds, one pair per hidden layer.
    """
    out = []
    for W, b in net.layers[:-1]:
        zlo, zhi = affine_range(W, b, lo, hi)
        out.append((zlo, zhi))
        lo, hi = np.maximum(zlo, 0.0), np.maximum(zhi, 0.0)
    return out


def _relaxation(l: np.ndarray, u: np.ndarray):
    """Linear bounds of relu on [l, u]: h >= lo_slope z, h <= up_slope z + up_icpt (CROWN)."""
    active, dead = l >= 0, u <= 0
    unstable = ~active & ~dead
    width = np.where(unstable, u - l, 1.0)
    up_slope = np.where(active, 1.0, np.where(unstable, u / width, 0.0))
    up_icpt = np.where(unstable, -up_slope * l, 0.0)
    lo_slope = np.where(active, 1.0, np.where(unstable, (u > -l).astype(np.float64), 0.0))
    return lo_slope, up_slope, up_icpt


def _propagate(M: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               layers: list[tuple[np.ndarray, np.ndarray]], signs: list[bool]):
    """Pre-activation bounds of every hidden layer of a tail, and the backward bound on which they rest."""
    l0, u0 = affine_range(M, v, lo, hi)
    k = len(signs)
    if k:
        s = np.asarray(signs, dtype=bool)
        l0, u0 = l0.copy(), u0.copy()
        l0[:k] = np.where(s, np.maximum(l0[:k], 0.0), l0[:k])
        u0[:k] = np.where(s, u0[:k], np.minimum(u0[:k], 0.0))
    pre = [(l0, u0)]
    relax = [_relaxation(l0, u0)]

    def lower(Lam: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
        """Lower bound of ``Lam @ relu(z_k) + c``, back through the layers to the input box."""
        # lower bound of Lam @ relu(z_k) + c, rows independent
        while True:
            lo_s, up_s, up_i = relax[k]
            pos, neg = np.maximum(Lam, 0.0), np.minimum(Lam, 0.0)
            Lam_z = pos * lo_s + neg * up_s
            c = c + neg @ up_i
            if k == 0:
                return affine_range(Lam_z @ M, Lam_z @ v + c, lo, hi)[0]
            W, b = layers[k - 1]
            Lam, c, k = Lam_z @ W, c + Lam_z @ b, k - 1

    def intervals(W, b, k):
        """Interval bounds of ``W relu(z_k) + b`` from the bounds of ``z_k``."""
        lo_k, hi_k = pre[k]
        return affine_range(W, b, np.maximum(lo_k, 0.0), np.maximum(hi_k, 0.0))

    # Both the linear and the interval bounds are sound, and neither is always
    # the tighter: keep the better of the two at every layer. The lower and
    # upper bounds of a layer come from one backward pass over [W; -W].
    for k, (W, b) in enumerate(layers[:-1]):
        ilo, ihi = intervals(W, b, k)
        both = lower(np.vstack([W, -W]), np.concatenate([b, -b]), k)
        width = W.shape[0]
        pre.append((np.maximum(both[:width], ilo), np.minimum(-both[width:], ihi)))
        relax.append(_relaxation(*pre[-1]))
    return pre, lower, intervals


def linear_bounds(M: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  layers: list[tuple[np.ndarray, np.ndarray]], C: np.ndarray, e: np.ndarray,
                  signs: list[bool] = ()) -> np.ndarray:
    """Sound lower bounds of ``C y - e`` for a network tail, by backward linear relaxation (CROWN).

    The first pre-activation is exact and affine in the input, ``z_0 = M t + v``,
    with ``t`` in the box ``[lo, hi]``; ``layers`` are the remaining
    ``(W, b)``, the last one the output layer. Every relu between is relaxed
    by the two lines of :func:`_relaxation` from bounds computed the same
    way, layer by layer. ``signs`` fixes the first neurons of ``z_0``
    (active: ``z >= 0``, inactive: ``z <= 0`` on the node).

    Returns
    -------
    ndarray
        One lower bound per row of ``C``.
    """
    pre, lower, intervals = _propagate(M, v, lo, hi, layers, signs)
    W, b = layers[-1]
    y_lo, y_hi = intervals(W, b, len(layers) - 1)
    return np.maximum(lower(C @ W, C @ b - e, len(layers) - 1), affine_range(C, -e, y_lo, y_hi)[0])


def layer_bounds(net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sound bounds ``(zlo, zhi)`` on every hidden layer's pre-activations over a box.

    The better of interval and backward linear (CROWN) bounds at every
    layer, so never looser than :func:`interval_bounds`.
    """
    W, b = net.layers[0]
    pre, _, _ = _propagate(W, b, np.asarray(lo, float), np.asarray(hi, float), list(net.layers[1:]), [])
    return pre



def box_bounds(layers: tuple[tuple[np.ndarray, np.ndarray], ...], lo: np.ndarray, hi: np.ndarray,
               C: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sound lower bounds of ``C y - e`` over many input boxes at once (CROWN, batched).

    The bounds of :func:`linear_bounds` for a whole network, for ``B`` boxes
    in one set of matrix products: every hidden layer's pre-activations are
    bounded by a backward pass to the input through the relaxations of the
    layers below (the better of that and interval arithmetic), then the
    rows of ``C`` the same way.

    Parameters
    ----------
    layers : sequence of (W, b)
        The network, the last layer without relu.
    lo, hi : ndarray, shape (B, n)
        The boxes.
    C : ndarray, shape (k, m)
    e : ndarray, shape (k,)

    Returns
    -------
    low : ndarray, shape (B, k)
        Sound lower bounds of ``C y - e`` over each box (up to float rounding,
        which callers cover with a margin).
    coef, const : ndarray, shapes (B, k, n) and (B, k)
        The linear lower bound itself: ``C y - e >= coef . x + const`` on each
        box (``low`` is its minimum, or the interval bound where that is
        higher). How much each coordinate's width costs the bound; and,
        combined over the rows, what :func:`combined_lower` maximises.
    unstable : ndarray of int, shape (B,)
        Relus whose sign the bounds leave open on each box.
    """
    B = lo.shape[0]
    relax: list[tuple] = []
    unstable = np.zeros(B, dtype=np.int64)

    def backward(Lam: np.ndarray, c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Per box, the lower bound of ``Lam @ relu(z_k) + c``, back through the layers."""
        # Lam (B, r, width of layer k): lower bound of Lam @ relu(z_k) + c over each box
        r = Lam.shape[1]
        while True:
            lo_s, up_s, up_i = relax[k]
            neg = np.minimum(Lam, 0.0)
            Lam_z = np.maximum(Lam, 0.0) * lo_s[:, None, :] + neg * up_s[:, None, :]
            c = c + np.einsum("brj,bj->br", neg, up_i)
            W, b = layers[k]
            # one matrix product for every box: (B r, width) @ (width, width below)
            Lam, c, k = (Lam_z.reshape(-1, W.shape[0]) @ W).reshape(B, r, -1), c + Lam_z @ b, k - 1
            if k < 0:
                return np.where(Lam > 0, Lam * lo[:, None, :], Lam * hi[:, None, :]).sum(axis=2) + c, Lam, c

    Wp, Wn = np.maximum(layers[0][0], 0.0), np.minimum(layers[0][0], 0.0)
    ilo, ihi = lo @ Wp.T + hi @ Wn.T + layers[0][1], hi @ Wp.T + lo @ Wn.T + layers[0][1]
    lower, upper = ilo, ihi  # the first layer's bounds are exact
    for k in range(1, len(layers)):
        relax.append(_relaxation(lower, upper))  # elementwise: one row per box
        unstable += ((lower < 0) & (upper > 0)).sum(axis=1)
        W, b = layers[k]
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        hlo, hhi = np.maximum(lower, 0.0), np.maximum(upper, 0.0)
        ilo, ihi = hlo @ Wp.T + hhi @ Wn.T + b, hhi @ Wp.T + hlo @ Wn.T + b
        if k == len(layers) - 1:
            break
        # A backward pass only for the neurons interval arithmetic leaves open in some box.
        rows = np.flatnonzero(((ilo < 0) & (ihi > 0)).any(axis=0))
        lower, upper = ilo, ihi
        if rows.size:
            Wr, br = W[rows], b[rows]
            both, _, _ = backward(np.broadcast_to(np.vstack([Wr, -Wr]), (B, 2 * rows.size, W.shape[1])),
                                  np.broadcast_to(np.concatenate([br, -br]), (B, 2 * rows.size)), k - 1)
            lower, upper = ilo.copy(), ihi.copy()
            lower[:, rows] = np.maximum(both[:, :rows.size], ilo[:, rows])
            upper[:, rows] = np.minimum(-both[:, rows.size:], ihi[:, rows])
    W, b = layers[-1]
    low, coef, const = backward(np.broadcast_to(C @ W, (B,) + (C.shape[0], W.shape[1])),
                                np.broadcast_to(C @ b - e, (B, C.shape[0])), len(layers) - 2)
    Cp, Cn = np.maximum(C, 0.0), np.minimum(C, 0.0)
    return np.maximum(low, ilo @ Cp.T + ihi @ Cn.T - e), coef, const, unstable


def combined_lower(coef: np.ndarray, const: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   steps: int = 30) -> np.ndarray:
    """A lower bound of ``max_lambda min_x sum_i lambda_i (coef_i . x + const_i)`` over each box, lambda on the simplex.

    Where every ``coef_i . x + const_i`` bounds row ``i`` of ``C y - e``
    from below, a positive value proves that on no point of the box do all
    rows hold at once, although each row alone may: the rows are coupled
    through the same ``x`` (an output box in ``C y <= e``, which one row at a
    time never closes). The inner minimum is a box corner; lambda climbs by
    multiplicative weights on the rows' values there, and the best value met
    is returned, so any step count is sound.

    Parameters
    ----------
    coef, const : ndarray, shapes (B, k, n) and (B, k)
    lo, hi : ndarray, shape (B, n)

    Returns
    -------
    ndarray, shape (B,)
    """
    B, k, _ = coef.shape
    lam = np.full((B, k), 1.0 / k)
    best = np.full(B, -np.inf)
    scale = np.abs(coef).sum(axis=2).max(axis=1) * np.abs(hi - lo).max(axis=1) + np.abs(const).max(axis=1) + TINY
    for step in range(steps):
        s = np.einsum("bk,bkn->bn", lam, coef)
        corner = np.where(s > 0, lo, hi)
        vals = np.einsum("bkn,bn->bk", coef, corner) + const
        np.maximum(best, (lam * vals).sum(axis=1), out=best)
        # rows that are high at the current minimiser gain weight (a step of the size of the values' range)
        lam = lam * np.exp(np.clip(4.0 * vals / scale[:, None], -50, 50))
        lam /= lam.sum(axis=1, keepdims=True)
    return best
