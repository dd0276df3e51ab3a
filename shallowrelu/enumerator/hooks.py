"""The interface through which other parts of the package steer the region search.

Owns :class:`SearchHooks` (prune a node, take a region in place of the
catalogue entry: what ``verify`` plugs in) and the progress callback's type.
Imports nothing of the search, so a caller can implement it without it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..polytope.hull import AffineHull

ProgressFn = Callable[[int, int], None]


class SearchHooks:
    """Callbacks that turn the region search into a branch-and-bound (used by ``verify``).

    ``prune`` is asked for every node of the tree, with the node's box, the
    layer's exact pre-activation map ``z = M t + v`` on the node, the
    signs already fixed for the layer's first neurons, where the search
    holds them (few dimensions) the node's vertices, and the note its
    parent's ``prune`` left. It returns whether to drop the node's whole
    subtree, and a note for the node's children (what was proven on the
    node holds on every part of it). The children of a split are asked
    together, by ``prune_many``, as they are made. ``leaf`` gets
    each region's rows ``G t + g <= 0`` and output map ``y = A t + d`` in
    place of the catalogue entry. ``hull`` is set before the search starts.
    """

    hull: AffineHull

    def prune(self, lo: np.ndarray, hi: np.ndarray, layer: int, M: np.ndarray, v: np.ndarray,
              signs: list[bool], vertices: np.ndarray | None = None, note: object = None) -> tuple[bool, object]:
        """Whether to drop the node's whole subtree (never, by default), and the children's note."""
        return False, note

    def prune_many(self, nodes: list[tuple]) -> list[tuple[bool, object]]:
        """:meth:`prune` for the children of one split at once, each tuple its arguments (override to batch)."""
        return [self.prune(*args) for args in nodes]

    def leaf(self, G: np.ndarray, g: np.ndarray, A: np.ndarray, d: np.ndarray) -> None:
        """Take a region found (nothing, by default)."""
        return None

    def tally(self) -> dict[str, int]:
        """Counts gathered since the last call, reset (a worker process sends them home per task)."""
        return {}

    def add_tally(self, counts: dict[str, int]) -> None:
        """Add a worker's counts to this (the parent's) hooks."""
