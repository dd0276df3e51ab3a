"""Point location: which catalogued region holds a point (``t`` coordinates).

A point's activation pattern, from one forward pass, is looked up among the
catalogue's patterns, kept sorted as one array (a binary search per point;
a few bytes per region, where a hash of millions of patterns would take
gigabytes). A point whose pattern is not catalogued (on a boundary, or in a
sliver below float resolution) gets the closed region it violates least, if
within the locating slack.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from ..network import ReLUNetwork
from ..tolerances import LOCATE_SLACK
from .table import RegionTable


def _keys(packed: np.ndarray) -> np.ndarray:
    """One opaque key per row of bit-packed patterns, ordered as the bytes are."""
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    return packed.view(f"V{max(packed.shape[1], 1)}").ravel() if packed.shape[1] else np.zeros(len(packed), "V1")


class PointIndex:
    """Locates points in the regions of a catalogue (patterns of ``network``, in ``t`` coordinates).

    Parameters
    ----------
    patterns : ndarray
        Every region's bit-packed pattern, ``(R, ceil(N/8))`` uint8, in catalogue order.
    chunks : callable
        Gives the regions as consecutive tables (for the few points whose
        pattern is not catalogued).
    network : ReLUNetwork
        The network in the table's coordinates (the catalogue's ``work_network``).
    min_radius : float
        The catalogue's ``min_radius``: a point ``LOCATE_SLACK`` times this far
        outside a closed region (relative to its size) still belongs to it.
    """

    def __init__(self, patterns: np.ndarray, chunks: Callable[[], Iterator[RegionTable]], network: ReLUNetwork,
                 min_radius: float) -> None:
        self.chunks, self.network = chunks, network
        self.slack = LOCATE_SLACK * min_radius
        keys = _keys(patterns)
        self._order = np.argsort(keys, kind="stable")
        self._sorted = keys[self._order]

    def lookup(self, packed: np.ndarray) -> np.ndarray:
        """The region of each bit-packed pattern (-1 where none has it)."""
        if len(self._sorted) == 0:
            return np.full(len(packed), -1, dtype=np.int64)
        keys = _keys(packed)
        pos = np.minimum(np.searchsorted(self._sorted, keys), len(self._sorted) - 1)
        return np.where(self._sorted[pos] == keys, self._order[pos], -1).astype(np.int64)

    def locate(self, T: np.ndarray) -> np.ndarray:
        """Index of the region of each row of ``T`` (-1 where none holds it)."""
        found = self.lookup(np.packbits(self.network.patterns(T), axis=1))
        for k in np.flatnonzero(found < 0):
            found[k] = self.closest(T[k])
        return found

    def violation(self, t: np.ndarray) -> np.ndarray:
        """Per region, the largest ``G t + g`` over its facets: the signed distance by which ``t``
        lies outside the region's closed polytope (``-inf`` for a region without facets)."""
        parts = []
        for tab in self.chunks():
            viol = np.full(len(tab), -np.inf)
            np.maximum.at(viol, tab.facet_owner, tab.facet_G @ t + tab.facet_g)
            parts.append(viol)
        return np.concatenate(parts) if parts else np.zeros(0)

    def closest(self, t: np.ndarray) -> int:
        """The region whose closed polytope holds ``t`` best (least violation), if within the slack."""
        viol = self.violation(t)
        if len(viol) == 0:
            return -1
        best = int(np.argmin(viol))
        return best if viol[best] <= self.slack * (1 + np.abs(t).max()) else -1
