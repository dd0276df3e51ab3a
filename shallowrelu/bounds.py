"""Cheap sound bounds that settle neurons without an LP.

Interval arithmetic on the exact affine form of a pre-activation over a box
enclosing the current region, and one-constraint box tightening (FBBT) so the
box shrinks as the search adds inequalities.
"""

from __future__ import annotations

import numpy as np

from .network import ReLUNetwork


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
    hair = 1e-12 * (1.0 + np.abs(bound))
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
