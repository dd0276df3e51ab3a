"""The cut of the search tree into chunks (independent subtrees), before any is run.

Owns the breadth-first expansion that turns the root into the first list of
chunks. The list depends only on the network, the domain and the options,
never on how many processes run it, and so do the parts a chunk hands on
when it grows large (:meth:`.Search.run_chunk`), which is why a catalogue is
the same for every ``jobs`` and backend. Running the chunks is :mod:`.run`'s.
"""

from __future__ import annotations

import numpy as np

from ..catalogue import RegionTable
from .node import Node, Subtree
from .search import Search

# The tree is cut into at least this many chunks before any is run. Fixed,
# not tied to the number of processes, so that the catalogue is the same for
# every ``jobs``; enough for load balance on a few dozen cores.
_CHUNKS = 64

Chunk = RegionTable | Subtree
"""A chunk of the plan: regions met while cutting the tree (finished), or an open :class:`Subtree`."""


def plan(search: Search) -> list[Chunk]:
    """Expand the tree breadth-first into chunks, in depth-first order.

    Each chunk is a :class:`RegionTable` (regions found while expanding)
    or an open :class:`Subtree` of one node (for :meth:`Search.run_chunk`,
    which hands on what is left of a chunk too large as new chunks). The expansion
    depends only on the network, domain and options, never on how the
    chunks are run afterwards.
    """
    root = search.root()
    if root is None:
        return []
    if len(search.net.layers) == 1:  # no hidden layer: one affine map, one region
        search.leaf(root, np.zeros(0, dtype=bool), root.pre_A, root.pre_c)
        return [search.take()]
    chunks: list = [root]
    while 0 < sum(isinstance(c, Node) for c in chunks) < _CHUNKS:
        expanded = []
        for chunk in chunks:
            if not isinstance(chunk, Node):
                expanded.append(chunk)
                continue
            before = search.found()
            children = search.expand(chunk)
            if children is None:
                after = search.found()
                expanded.extend([slice(before, after)] if after > before else [])
            else:
                expanded.extend(children)
        chunks = expanded
    search.plan_sources = len(search.sources)
    found = search.take()  # the leaves met on the way, recorded together
    return [found.rows(c.start, c.stop) if isinstance(c, slice) else Subtree((c,)) for c in chunks]
