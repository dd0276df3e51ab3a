"""Interval arithmetic: the range of an affine function over a box, a box tightened by one row, and the
range of a layer's outputs from the range of its pre-activations.

Sound by construction and LP-free; the enumerator settles neurons with it,
and the linear bounds of :mod:`.backward` keep the better of theirs and these.
"""

from __future__ import annotations

import numpy as np

from ..network import Kinks, ReLUNetwork
from ..tolerances import ROUNDING_REL


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


def boxes_range(W: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(min, max)`` of ``W h + b`` over many finite boxes at once: ``lo, hi`` of shape ``(B, n)``, results
    ``(B, out)``."""
    Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
    return lo @ Wp.T + hi @ Wn.T + b, hi @ Wp.T + lo @ Wn.T + b


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
    state = member_state(l, u, kinks, fixed)
    lo = np.where(state == 0, np.minimum(l, 0.0), lo)
    hi = np.where(state == 0, np.maximum(u, 0.0), hi)
    lo, hi = np.where(state == 1, l, lo), np.where(state == 1, u, hi)
    return np.where(state == 2, 0.0, lo), np.where(state == 2, 0.0, hi)


def member_state(l: np.ndarray, u: np.ndarray, kinks: Kinks, fixed: np.ndarray | None) -> np.ndarray:
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
