"""Evidence that a catalogue covers its domain (``docs/design.md`` section 1).

Every facet that is not a facet of the domain must have a catalogued region
on its other side; in up to three dimensions over a bounded domain the
region volumes must also add up to the domain's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..polytope.hull import AffineHull
from ..polytope.volume import volume, volumes_by_facets
from ..tolerances import TINY, VOLUME_REL
from .table import RegionTable

# Points located per forward pass of the network: bounds the memory of a
# certificate over millions of facets.
_LOCATE_BATCH = 65_536

# Past this dimension the volume check is skipped (said so in the certificate):
# the batch of :func:`volumes_by_facets` stops here, and qhull per region costs
# more than the search.
VOLUME_MAX_DIM = 3


@dataclass(frozen=True)
class Certificate:
    """Evidence that the catalogue covers the domain.

    ``complete`` holds when every facet that is not a domain facet has a
    catalogued region on its other side and, where checked, the region
    volumes add up to the domain's. The volumes are None where they were
    not checked (over all of R^n, or above three dimensions).

    Parameters
    ----------
    facets_checked : int
        Facets that are not facets of the domain.
    facets_without_neighbour : int
        Those with no catalogued region on their other side (0 when complete).
    volume_checked : bool
        Whether the volumes were compared.
    volume_sum, domain_volume : float or None
        The regions' total volume and the domain's.
    """

    facets_checked: int
    facets_without_neighbour: int
    volume_checked: bool
    volume_sum: float | None
    domain_volume: float | None

    @property
    def volume_ok(self) -> bool:
        """Volumes agree to ``VOLUME_REL`` (True when not checked)."""
        if not self.volume_checked:
            return True
        return abs(self.volume_sum - self.domain_volume) <= VOLUME_REL * max(self.domain_volume, TINY)

    @property
    def complete(self) -> bool:
        """The catalogue passed every check."""
        return self.facets_without_neighbour == 0 and self.volume_ok

    def as_dict(self) -> dict:
        """JSON-ready summary."""
        return {"complete": self.complete, "facets_checked": self.facets_checked,
                "facets_without_neighbour": self.facets_without_neighbour,
                "volume_checked": self.volume_checked, "volume_sum": self.volume_sum,
                "domain_volume": self.domain_volume}


def region_volumes(table: RegionTable, dim: int) -> np.ndarray:
    """Exact volume of every region (bounded domains): up to 3-D from its facets in one batch,
    above by qhull's vertices, ``nan`` where qhull fails."""
    if dim <= VOLUME_MAX_DIM:
        return volumes_by_facets(table.facet_G, table.facet_g, table.facet_ptr, table.interior)
    return np.array([volume(table.facet_G[table.facet_rows(i)], table.facet_g[table.facet_rows(i)],
                            table.interior[i]) for i in range(len(table))])


def neighbours(table: RegionTable, locate: Callable[[np.ndarray], np.ndarray], min_radius: float,
               base: int = 0) -> np.ndarray:
    """The region across each facet: ``-1`` for a domain facet or where none was found.

    A point on the facet (at distance ``margin`` from the region's other
    facets) is pushed a step ``min(margin / 4, min_radius)`` across, less
    than the half-width of any region, and located. Indexed like the
    facet arrays of ``table``, whose first region is region ``base`` of
    what ``locate`` finds.
    """
    out = np.full(table.facet_g.shape[0], -1, dtype=np.int64)
    inner = np.flatnonzero(table.facet_layer != 0)
    for start in range(0, inner.size, _LOCATE_BATCH):  # in batches: every point is a forward pass
        rows = inner[start:start + _LOCATE_BATCH]
        step = np.minimum(table.facet_margin[rows] / 4, min_radius)
        out[rows] = locate(table.facet_point[rows] + step[:, None] * table.facet_G[rows])
    out[out == table.facet_owner + base] = -1
    return out


def certify(chunks: Callable[[], Iterator[RegionTable]], hull: AffineHull, bounded: bool,
            locate: Callable[[np.ndarray], np.ndarray], min_radius: float) -> Certificate:
    """The certificate of the regions ``chunks()`` gives as consecutive tables, read one table at a
    time (``locate`` finds points among all of them), over ``hull``'s domain."""
    checked = missing = base = 0
    dim = hull.B.shape[1]
    check_volume = bounded and 1 <= dim <= VOLUME_MAX_DIM
    vol_sum, inside = 0.0, None
    for table in chunks():
        inner = table.facet_layer != 0
        checked += int(np.count_nonzero(inner))
        missing += int(np.count_nonzero(neighbours(table, locate, min_radius, base)[inner] < 0))
        if check_volume and len(table):
            vol_sum += float(region_volumes(table, dim).sum())
            inside = table.interior[0] if inside is None else inside
        base += len(table)
    if not check_volume or inside is None:
        return Certificate(checked, missing, False, None, None)
    D = hull.domain
    scale = np.where(np.linalg.norm(D.P, axis=1) > 0, np.linalg.norm(D.P, axis=1), 1.0)
    return Certificate(checked, missing, True, vol_sum, volume(D.P / scale[:, None], -D.p / scale, inside))
