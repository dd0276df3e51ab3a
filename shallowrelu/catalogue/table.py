"""The regions as flat arrays: :class:`RegionTable`, and :class:`RegionArrays` that gathers one.

Every region lives in the coordinates ``t`` of the domain's affine hull
(``x = x0 + B t``; ``t == x`` unless the domain is flat). Facets are ragged:
region ``i`` owns the facet rows ``facet_ptr[i]:facet_ptr[i + 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class RegionTable:
    """All regions as flat arrays (``t`` coordinates); facets are ragged via ``facet_ptr``."""

    patterns: np.ndarray      # (R, ceil(N/8)) uint8, bit-packed
    A: np.ndarray             # (R, m, n)
    d: np.ndarray             # (R, m)
    facet_ptr: np.ndarray     # (R + 1,) int64
    facet_G: np.ndarray       # (F, n)
    facet_g: np.ndarray       # (F,)
    facet_layer: np.ndarray   # (F,) int32, 0 for a domain facet
    facet_index: np.ndarray   # (F,) int32, neuron index or domain row
    facet_point: np.ndarray   # (F, n) a point on the facet
    facet_margin: np.ndarray  # (F,) that point's distance to the region's other facets
    interior: np.ndarray      # (R, n)
    inradius: np.ndarray      # (R,)

    def __len__(self) -> int:
        return self.patterns.shape[0]

    def rows(self, start: int, stop: int) -> "RegionTable":
        """Regions ``start:stop`` as a table of their own."""
        f0, f1 = self.facet_ptr[start], self.facet_ptr[stop]
        fields_ = {f.name: getattr(self, f.name) for f in fields(self)}
        out = {k: (v[f0:f1] if k.startswith("facet_") else v[start:stop]) for k, v in fields_.items()}
        out["facet_ptr"] = self.facet_ptr[start:stop + 1] - f0
        return RegionTable(**out)

    @staticmethod
    def concat(tables: list["RegionTable"]) -> "RegionTable":
        """The regions of ``tables`` (at least one) in order, as one table."""
        ptrs = [tables[0].facet_ptr[:1]]
        base = 0
        for t in tables:
            ptrs.append(t.facet_ptr[1:] + base)
            base += int(t.facet_ptr[-1])
        out = {f.name: np.concatenate([getattr(t, f.name) for t in tables]) for f in fields(RegionTable)
               if f.name != "facet_ptr"}
        return RegionTable(facet_ptr=np.concatenate(ptrs), **out)

    @property
    def facet_owner(self) -> np.ndarray:
        """The region of every row of the facet arrays."""
        return np.repeat(np.arange(len(self)), np.diff(self.facet_ptr))

    def facet_rows(self, i: int) -> slice:
        """Slice of the facet arrays that belongs to region ``i``."""
        return slice(int(self.facet_ptr[i]), int(self.facet_ptr[i + 1]))


# Regions gathered as per-region arrays before they are packed into one flat table: the per-region
# arrays take several times the memory (numpy's overhead per array), so a chunk of a million regions
# is held in flat tables but for the last few thousand.
_PACK_EVERY = 4096


class RegionArrays:
    """Accumulates regions as the search finds them; ``freeze`` gives a :class:`RegionTable`.

    Each region is appended as one tuple, and every ``_PACK_EVERY`` regions
    the tuples are packed into a flat table in one assignment, so an
    interrupt between two statements can never leave the regions
    half-updated.
    """

    def __init__(self, n: int, m: int, n_neurons: int) -> None:
        self.n, self.m, self.N = n, m, n_neurons
        self._state: tuple[tuple[RegionTable, ...], int, list[tuple]] = ((), 0, [])  # packed, their count, loose

    def __len__(self) -> int:
        _, count, loose = self._state
        return count + len(loose)

    def append(self, pattern, A, d, G, g, sources, points, margins, interior, inradius) -> None:
        """Add one region: its pattern, map ``y = A t + d``, facets ``G t + g <= 0`` with their
        sources ``(layer, index)``, points and margins, and its ball."""
        layer = np.array([s[0] for s in sources], dtype=np.int32)
        index = np.array([s[1] for s in sources], dtype=np.int32)
        packed, count, loose = self._state
        loose.append((np.packbits(pattern), A, d, G, g, layer, index, points, margins, interior, inradius))
        if len(loose) >= _PACK_EVERY:
            self._state = (packed + (self._table(loose),), count + len(loose), [])

    def freeze(self) -> RegionTable:
        """The regions gathered so far as one flat table."""
        packed, _, loose = self._state
        if not packed:
            return self._table(loose)
        return RegionTable.concat(list(packed) + ([self._table(loose)] if loose else []))

    def _table(self, regions: list[tuple]) -> RegionTable:
        """Per-region tuples as one flat table."""
        n, m, R = self.n, self.m, len(regions)
        cols = list(zip(*regions)) if R else [[] for _ in range(11)]

        def stack(col, shape, dtype=np.float64):
            """One array per region, stacked (empty with the right shape when there are none)."""
            return np.array(col, dtype=dtype).reshape(shape) if R else np.zeros(shape, dtype)

        def cat(col, shape, dtype=np.float64):
            """Ragged per-region arrays joined (empty with the right shape when there are none)."""
            return np.concatenate(col).astype(dtype).reshape(shape) if R else np.zeros((0,) + shape[1:], dtype)

        counts = [len(x) for x in cols[4]]
        return RegionTable(
            patterns=stack(cols[0], (R, (self.N + 7) // 8), np.uint8),
            A=stack(cols[1], (R, m, n)), d=stack(cols[2], (R, m)),
            facet_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            facet_G=cat(cols[3], (-1, n)), facet_g=cat(cols[4], (-1,)),
            facet_layer=cat(cols[5], (-1,), np.int32), facet_index=cat(cols[6], (-1,), np.int32),
            facet_point=cat(cols[7], (-1, n)), facet_margin=cat(cols[8], (-1,)),
            interior=stack(cols[9], (R, n)), inradius=stack(cols[10], (R,)))
