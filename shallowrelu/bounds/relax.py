"""Linear relaxations of a hidden layer, unit by unit: the lines CROWN bounds each unit's output by.

On pre-activation bounds ``[l, u]`` every unit's output ``h`` lies between
two lines in its pre-activation ``z``: ``lo_slope z + lo_icpt <= h <=
up_slope z + up_icpt``. A stable unit is its own line. An unstable unit of a
convex kink (ReLU, a leaky unit with slope ``a <= 1``) lies under its chord
and above every line through the origin of slope between ``a`` and 1: that
slope is the free parameter alpha-CROWN optimises (``alpha`` in [0, 1]). A
concave leaky unit (``a > 1``) is the mirror image, with its lines fixed.

A max group is relaxed as a whole (DeepPoly's max-pool): the next layer
reads the sum of its members' outputs, which is the members' maximum, so
the member with the greatest lower bound carries the lower line
``max >= z_lead`` and the upper bound is the constant ``max_i u_i``, unless
one member wins on all of the box, when the group is that member exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import Kinks
from .interval import member_state


@dataclass(frozen=True)
class Relaxation:
    """The lines of one hidden layer for ``B`` domains.

    Attributes
    ----------
    lo_slope : ndarray, shape (B, r, w)
        ``r`` is 1 when every bounded row shares the lines, else one set per row (alpha per row).
    up_slope, up_icpt, lo_icpt : ndarray, shape (B, 1, w)
    free : ndarray of bool, shape (B, 1, w)
        Units whose lower slope is a free choice, ``floor + alpha (1 - floor)``.
    floor : ndarray, shape (w,)
        The least lower slope of a free unit (its kink's slope).
    """

    lo_slope: np.ndarray
    up_slope: np.ndarray
    up_icpt: np.ndarray
    lo_icpt: np.ndarray
    free: np.ndarray
    floor: np.ndarray

    def fix(self, split: np.ndarray) -> "Relaxation":
        """The lines of ``B`` domains that fix some elementwise units of this (one-domain) relaxation to a side.

        ``split`` ``(B, w)``: 1 where ``z >= 0`` (the unit is its identity),
        -1 where ``z <= 0`` (its slope), 0 where it stays as it is.
        """
        s = split[:, None, :]
        on, off = s > 0, s < 0
        fixed = on | off
        side = np.where(on, 1.0, self.floor)
        return Relaxation(np.where(fixed, side, self.lo_slope), np.where(fixed, side, self.up_slope),
                          np.where(fixed, 0.0, self.up_icpt), np.where(fixed, 0.0, self.lo_icpt),
                          self.free & ~fixed, self.floor)

    def with_alpha(self, alpha: np.ndarray) -> "Relaxation":
        """The same lines with the free units' lower slopes set by ``alpha`` (shape ``(B, r, w)``, in [0, 1])."""
        lo = np.where(self.free, self.floor + alpha * (1.0 - self.floor), self.lo_slope[:, :1])
        return Relaxation(lo, self.up_slope, self.up_icpt, self.lo_icpt, self.free, self.floor)


def crown_alpha(l: np.ndarray, u: np.ndarray) -> np.ndarray:
    """CROWN's choice of lower slope for a free unit, as alpha: 1 where ``u > -l``, else 0."""
    return (u > -l).astype(np.float64)


def relax(l: np.ndarray, u: np.ndarray, kinks: Kinks | None = None, fixed: np.ndarray | None = None,
          alpha: np.ndarray | None = None) -> Relaxation:
    """The relaxation of a hidden layer on pre-activation bounds ``l, u`` of shape ``(B, w)``.

    Parameters
    ----------
    l, u : ndarray, shape (B, w)
    kinks : Kinks or None
        None: a ReLU layer.
    fixed : ndarray of int, shape (w,) or (B, w), optional
        Max-group members already decided (1 wins, 0 loses, -1 open).
    alpha : ndarray, shape (B, r, w) or (B, 1, w), optional
        Lower slopes of the free units, in [0, 1]; None: CROWN's choice.

    Returns
    -------
    Relaxation
    """
    B, w = l.shape
    slope = np.zeros(w) if kinks is None else kinks.slope
    active, dead = l >= 0, u <= 0
    unstable = ~active & ~dead
    width = np.where(unstable, u - l, 1.0)
    at_l, at_u = np.where(l > 0, l, slope * l), np.where(u > 0, u, slope * u)
    chord = np.where(unstable, (at_u - at_l) / width, 0.0)
    chord_icpt = np.where(unstable, at_l - chord * l, 0.0)
    convex = slope <= 1.0
    stable_slope = np.where(active, 1.0, slope)
    free = unstable & convex & (slope != 1.0)
    if kinks is not None:
        free &= kinks.group < 0
    if alpha is None:
        alpha = crown_alpha(l, u)[:, None, :]
    lo_free = slope + alpha * (1.0 - slope)
    tangent = np.where(u > -l, 1.0, slope)
    up_slope = np.where(unstable, np.where(convex, chord, tangent), stable_slope)
    up_icpt = np.where(unstable & convex, chord_icpt, 0.0)
    lo_fixed = np.where(unstable, np.where(convex, tangent, chord), stable_slope)
    lo_icpt = np.where(unstable & ~convex, chord_icpt, 0.0)
    if kinks is not None and kinks.groups:
        _relax_groups(l, u, kinks, fixed, lo_fixed, up_slope, up_icpt, lo_icpt)
    lo_slope = np.where(free[:, None, :], lo_free, lo_fixed[:, None, :])
    return Relaxation(lo_slope, up_slope[:, None, :], up_icpt[:, None, :], lo_icpt[:, None, :],
                      free[:, None, :], slope)


def _relax_groups(l, u, kinks: Kinks, fixed, lo_slope, up_slope, up_icpt, lo_icpt) -> None:
    """Overwrite, in place, the lines of max-group members by the group's relaxation (module docstring)."""
    state = member_state(l, u, kinks, fixed)
    rows = np.arange(l.shape[0])
    for members in kinks.groups:
        st = state[:, members]
        lm, um = l[:, members], u[:, members]
        can = st <= 1  # may win
        lead = np.argmax(np.where(can, lm, -np.inf), axis=1)
        exact = (st == 1).any(axis=1) | (can.sum(axis=1) == 1)
        lead = np.where((st == 1).any(axis=1), np.argmax(st == 1, axis=1), lead)
        one = np.zeros(st.shape)
        one[rows, lead] = 1.0
        top = np.where(can, um, -np.inf).max(axis=1)
        const = np.zeros(st.shape)
        const[:, 0] = np.where(exact, 0.0, top)
        lo_slope[:, members] = one
        up_slope[:, members] = np.where(exact[:, None], one, 0.0)
        up_icpt[:, members] = const
        lo_icpt[:, members] = 0.0
