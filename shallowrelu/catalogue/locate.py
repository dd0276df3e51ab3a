"""Point location: which catalogued region holds a point (``t`` coordinates).

A point's activation pattern, from one forward pass, is looked up in a hash
of the catalogue's patterns. A point whose pattern is not catalogued (on a
boundary, or in a sliver below float resolution) gets the closed region it
violates least, if within the locating slack.
"""

from __future__ import annotations

import numpy as np

from ..network import ReLUNetwork
from ..tolerances import LOCATE_SLACK
from .table import RegionTable


class PointIndex:
    """Locates points in the regions of ``table`` (patterns of ``network``, in ``t`` coordinates).

    Parameters
    ----------
    table : RegionTable
    network : ReLUNetwork
        The network in the table's coordinates (the catalogue's ``work_network``).
    min_radius : float
        The catalogue's ``min_radius``: a point ``LOCATE_SLACK`` times this far
        outside a closed region (relative to its size) still belongs to it.
    """

    def __init__(self, table: RegionTable, network: ReLUNetwork, min_radius: float) -> None:
        self.table, self.network = table, network
        self.slack = LOCATE_SLACK * min_radius
        self._index = {bytes(row): i for i, row in enumerate(table.patterns)}

    def locate(self, T: np.ndarray) -> np.ndarray:
        """Index of the region of each row of ``T`` (-1 where none holds it)."""
        packed = np.packbits(self.network.patterns(T), axis=1)
        found = np.array([self._index.get(bytes(row), -1) for row in packed], dtype=np.int64)
        for k in np.flatnonzero(found < 0):
            found[k] = self.closest(T[k])
        return found

    def violation(self, t: np.ndarray) -> np.ndarray:
        """Per region, the largest ``G t + g`` over its facets: the signed distance by which ``t``
        lies outside the region's closed polytope (``-inf`` for a region without facets)."""
        tab = self.table
        viol = np.full(len(tab), -np.inf)
        np.maximum.at(viol, tab.facet_owner, tab.facet_G @ t + tab.facet_g)
        return viol

    def closest(self, t: np.ndarray) -> int:
        """The region whose closed polytope holds ``t`` best (least violation), if within the slack."""
        if len(self.table) == 0:
            return -1
        viol = self.violation(t)
        best = int(np.argmin(viol))
        return best if viol[best] <= self.slack * (1 + np.abs(t).max()) else -1
