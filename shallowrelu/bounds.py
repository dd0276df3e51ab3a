"""Cheap sound bounds that settle neurons without an LP.

Interval arithmetic on the exact affine form of a pre-activation over a box
enclosing the current region, and one-constraint box tightening (FBBT) so the
box shrinks as the search adds inequalities. Sound by construction and LP-free:
the enumerator, the MILP (its big-M constants) and verify read them; this
module imports nothing but the network.
"""

from __future__ import annotations

import numpy as np

from .network import Kinks, ReLUNetwork
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
    for l, (W, b) in enumerate(net.layers[:-1]):
        zlo, zhi = affine_range(W, b, lo, hi)
        out.append((zlo, zhi))
        lo, hi = output_range(zlo, zhi, net.kinks_of(l))
    return out


def output_range(l: np.ndarray, u: np.ndarray, kinks: Kinks | None = None,
                 fixed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sound bounds of a hidden layer's outputs, unit by unit, from bounds ``[l, u]`` of its pre-activations.

    ``kinks`` None is a ReLU layer. A member of a max group outputs 0 or its
    own ``z``; ``fixed`` (1: passes ``z``, 0: outputs 0, -1: free) settles
    the members of groups already decided.
    """
    if kinks is None:
        return np.maximum(l, 0.0), np.maximum(u, 0.0)
    a = kinks.slope
    at_l, at_u = np.where(l > 0, l, a * l), np.where(u > 0, u, a * u)
    zero = np.where((l < 0) & (u > 0), 0.0, at_l)
    lo, hi = np.minimum(np.minimum(at_l, at_u), zero), np.maximum(np.maximum(at_l, at_u), zero)
    state = _member_state(l, u, kinks, fixed)
    lo = np.where(state == 0, np.minimum(l, 0.0), lo)
    hi = np.where(state == 0, np.maximum(u, 0.0), hi)
    lo, hi = np.where(state == 1, l, lo), np.where(state == 1, u, hi)
    return np.where(state == 2, 0.0, lo), np.where(state == 2, 0.0, hi)


def _member_state(l: np.ndarray, u: np.ndarray, kinks: Kinks, fixed: np.ndarray | None) -> np.ndarray:
    """Per unit (trailing axis): -1 elementwise, 0 a group member that may or may not win, 1 one that wins
    everywhere, 2 one that never wins (another member's lower bound is above its upper bound)."""
    state = np.where(kinks.group >= 0, 0, -1) + np.zeros(np.shape(l), dtype=np.int64)
    for members in kinks.groups:
        lm, um = l[..., members], u[..., members]
        if members.size == 1:
            state[..., members] = 1
            continue
        top = lm.max(axis=-1, keepdims=True)
        others_top = np.stack([np.delete(um, i, axis=-1).max(axis=-1) for i in range(members.size)], axis=-1)
        state[..., members] = np.where(um < top, 2, np.where(lm > others_top, 1, 0))
    if fixed is not None:
        state = np.where(fixed == 1, 1, np.where(fixed == 0, 2, state))
    return state


def _relaxation(l: np.ndarray, u: np.ndarray, kinks: Kinks | None = None, fixed: np.ndarray | None = None):
    """Linear bounds of a hidden layer's outputs on ``[l, u]``, unit by unit (CROWN):
    ``lo_slope z + lo_icpt <= h <= up_slope z + up_icpt``.

    Returns ``(lo_slope, up_slope, up_icpt, lo_icpt)``; ``lo_icpt`` is None
    for a ReLU layer, whose lower lines pass through the origin. A leaky
    unit's function is convex (slope ``a <= 1``) or concave: its chord bounds
    it on one side and a line through the origin on the other. A member of a
    max group outputs 0 or its own ``z``, so it lies between ``min(0, z)``
    and ``max(0, z)``, unless its bounds (or ``fixed``) settle it.
    """
    active, dead = l >= 0, u <= 0
    unstable = ~active & ~dead
    width = np.where(unstable, u - l, 1.0)
    if kinks is None:
        up_slope = np.where(active, 1.0, np.where(unstable, u / width, 0.0))
        up_icpt = np.where(unstable, -up_slope * l, 0.0)
        lo_slope = np.where(active, 1.0, np.where(unstable, (u > -l).astype(np.float64), 0.0))
        return lo_slope, up_slope, up_icpt, None
    a = kinks.slope
    at_l = np.where(l > 0, l, a * l)
    chord = np.where(unstable, (np.where(u > 0, u, a * u) - at_l) / width, 0.0)
    chord_icpt = np.where(unstable, at_l - chord * l, 0.0)
    tangent = np.where(u > -l, 1.0, a)
    convex = a <= 1.0
    up_slope = np.where(active, 1.0, np.where(dead, a, np.where(convex, chord, tangent)))
    up_icpt = np.where(unstable & convex, chord_icpt, 0.0)
    lo_slope = np.where(active, 1.0, np.where(dead, a, np.where(convex, tangent, chord)))
    lo_icpt = np.where(unstable & ~convex, chord_icpt, 0.0)
    state = _member_state(l, u, kinks, fixed)
    # a member that may win: max(0, z) above (the ReLU chord), min(0, z) below (its chord)
    relu_up = np.where(active, 1.0, np.where(unstable, u / width, 0.0))
    min_lo = np.where(active, 0.0, np.where(unstable, -l / width, 1.0))
    member = state == 0
    up_slope, up_icpt = np.where(member, relu_up, up_slope), np.where(member & unstable, -relu_up * l, up_icpt)
    lo_slope, lo_icpt = np.where(member, min_lo, lo_slope), np.where(member & unstable, -min_lo * u, lo_icpt)
    for value, st in ((1.0, 1), (0.0, 2)):
        settled = state == st
        up_slope, lo_slope = np.where(settled, value, up_slope), np.where(settled, value, lo_slope)
        up_icpt, lo_icpt = np.where(settled, 0.0, up_icpt), np.where(settled, 0.0, lo_icpt)
    return lo_slope, up_slope, up_icpt, lo_icpt


def _propagate(M: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               layers: list[tuple[np.ndarray, np.ndarray]], signs: list[bool], kinks: list[Kinks | None]):
    """Pre-activation bounds of every hidden layer of a tail, and the backward bound on which they rest.

    ``kinks[k]`` are the kinks of the tail's hidden layer ``k`` (the one of
    ``z_0 = M t + v`` first); ``signs`` the bits already decided for the first
    units of ``z_0``.
    """
    l0, u0 = affine_range(M, v, lo, hi)
    k = len(signs)
    fixed = None
    if k:
        s = np.asarray(signs, dtype=bool)
        l0, u0 = l0.copy(), u0.copy()
        member = np.zeros(k, dtype=bool) if kinks[0] is None else kinks[0].group[:k] >= 0
        l0[:k] = np.where(s & ~member, np.maximum(l0[:k], 0.0), l0[:k])
        u0[:k] = np.where(s | member, u0[:k], np.minimum(u0[:k], 0.0))
        if member.any():
            fixed = np.full(l0.shape, -1)
            fixed[:k] = np.where(member, s.astype(int), -1)
    pre = [(l0, u0)]
    relax = [_relaxation(l0, u0, kinks[0], fixed)]
    fixes = [fixed]

    def lower(Lam: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
        """Lower bound of ``Lam @ act(z_k) + c``, back through the layers to the input box."""
        while True:
            lo_s, up_s, up_i, lo_i = relax[k]
            pos, neg = np.maximum(Lam, 0.0), np.minimum(Lam, 0.0)
            Lam_z = pos * lo_s + neg * up_s
            c = c + neg @ up_i
            if lo_i is not None:
                c = c + pos @ lo_i
            if k == 0:
                return affine_range(Lam_z @ M, Lam_z @ v + c, lo, hi)[0]
            W, b = layers[k - 1]
            Lam, c, k = Lam_z @ W, c + Lam_z @ b, k - 1

    def intervals(W, b, k):
        """Interval bounds of ``W act(z_k) + b`` from the bounds of ``z_k``."""
        return affine_range(W, b, *output_range(*pre[k], kinks[k], fixes[k]))

    # Both the linear and the interval bounds are sound, and neither is always
    # the tighter: keep the better of the two at every layer. The lower and
    # upper bounds of a layer come from one backward pass over [W; -W].
    for k, (W, b) in enumerate(layers[:-1]):
        ilo, ihi = intervals(W, b, k)
        both = lower(np.vstack([W, -W]), np.concatenate([b, -b]), k)
        width = W.shape[0]
        pre.append((np.maximum(both[:width], ilo), np.minimum(-both[width:], ihi)))
        relax.append(_relaxation(*pre[-1], kinks[k + 1]))
        fixes.append(None)
    return pre, lower, intervals


def linear_bounds(M: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  layers: list[tuple[np.ndarray, np.ndarray]], C: np.ndarray, e: np.ndarray,
                  signs: list[bool] = (), kinks: list[Kinks | None] | None = None) -> np.ndarray:
    """Sound lower bounds of ``C y - e`` for a network tail, by backward linear relaxation (CROWN).

    The first pre-activation is exact and affine in the input, ``z_0 = M t + v``,
    with ``t`` in the box ``[lo, hi]``; ``layers`` are the remaining
    ``(W, b)``, the last one the output layer. Every hidden layer between is
    relaxed by the lines of :func:`_relaxation` from bounds computed the same
    way, layer by layer. ``signs`` fixes the first units of ``z_0``
    (active: ``z >= 0``, inactive: ``z <= 0`` on the node; for a max group,
    which member wins). ``kinks`` gives the kinks of the hidden layers from
    ``z_0`` on (None: all ReLU).

    Returns
    -------
    ndarray
        One lower bound per row of ``C``.
    """
    kinks = list(kinks) if kinks is not None else [None] * len(layers)
    pre, lower, intervals = _propagate(M, v, lo, hi, layers, signs, kinks)
    W, b = layers[-1]
    y_lo, y_hi = intervals(W, b, len(layers) - 1)
    return np.maximum(lower(C @ W, C @ b - e, len(layers) - 1), affine_range(C, -e, y_lo, y_hi)[0])


def layer_bounds(net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sound bounds ``(zlo, zhi)`` on every hidden layer's pre-activations over a box.

    The better of interval and backward linear (CROWN) bounds at every
    layer, so never looser than :func:`interval_bounds`.
    """
    W, b = net.layers[0]
    kinks = list(net.kinks or [None] * (len(net.layers) - 1))
    pre, _, _ = _propagate(W, b, np.asarray(lo, float), np.asarray(hi, float), list(net.layers[1:]), [], kinks)
    return pre


def box_bounds(layers: tuple[tuple[np.ndarray, np.ndarray], ...], lo: np.ndarray, hi: np.ndarray,
               C: np.ndarray, e: np.ndarray,
               kinks: tuple[Kinks | None, ...] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    kinks : sequence of Kinks or None, optional
        The kinks of the hidden layers (None: all ReLU).

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
    kinks = tuple(kinks) if kinks is not None else (None,) * (len(layers) - 1)
    relax: list[tuple] = []
    unstable = np.zeros(B, dtype=np.int64)

    def backward(Lam: np.ndarray, c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Per box, the lower bound of ``Lam @ relu(z_k) + c``, back through the layers."""
        # Lam (B, r, width of layer k): lower bound of Lam @ relu(z_k) + c over each box
        r = Lam.shape[1]
        while True:
            lo_s, up_s, up_i, lo_i = relax[k]
            neg, pos = np.minimum(Lam, 0.0), np.maximum(Lam, 0.0)
            Lam_z = pos * lo_s[:, None, :] + neg * up_s[:, None, :]
            c = c + np.einsum("brj,bj->br", neg, up_i)
            if lo_i is not None:
                c = c + np.einsum("brj,bj->br", pos, lo_i)
            W, b = layers[k]
            # one matrix product for every box: (B r, width) @ (width, width below)
            Lam, c, k = (Lam_z.reshape(-1, W.shape[0]) @ W).reshape(B, r, -1), c + Lam_z @ b, k - 1
            if k < 0:
                return np.where(Lam > 0, Lam * lo[:, None, :], Lam * hi[:, None, :]).sum(axis=2) + c, Lam, c

    Wp, Wn = np.maximum(layers[0][0], 0.0), np.minimum(layers[0][0], 0.0)
    ilo, ihi = lo @ Wp.T + hi @ Wn.T + layers[0][1], hi @ Wp.T + lo @ Wn.T + layers[0][1]
    lower, upper = ilo, ihi  # the first layer's bounds are exact
    for k in range(1, len(layers)):
        relax.append(_relaxation(lower, upper, kinks[k - 1]))  # unit by unit: one row per box
        unstable += ((lower < 0) & (upper > 0)).sum(axis=1)
        W, b = layers[k]
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        hlo, hhi = output_range(lower, upper, kinks[k - 1])
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
    for _ in range(steps):
        s = np.einsum("bk,bkn->bn", lam, coef)
        corner = np.where(s > 0, lo, hi)
        vals = np.einsum("bkn,bn->bk", coef, corner) + const
        np.maximum(best, (lam * vals).sum(axis=1), out=best)
        # rows that are high at the current minimiser gain weight (a step of the size of the values' range)
        lam = lam * np.exp(np.clip(4.0 * vals / scale[:, None], -50, 50))
        lam /= lam.sum(axis=1, keepdims=True)
    return best
