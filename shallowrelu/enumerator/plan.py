"""The cut of the search tree into independent subtrees (the tasks), before any is run.

Owns the breadth-first expansion that turns the root into a fixed list of
leaves and open subtrees. The list depends only on the network, the domain
and the options, never on how many processes run it, which is why a
catalogue is the same for every ``jobs`` and backend. Running the tasks is
:mod:`.run`'s.
"""

from __future__ import annotations

import numpy as np

from .search import Node, Search

# The tree is cut into at least this many subtrees (tasks) before any is run.
# Fixed, not tied to the number of processes, so that the catalogue is the
# same for every ``jobs``; enough for load balance on a few dozen cores.
_TASKS = 64


def plan(search: Search) -> list:
    """Expand the tree breadth-first into independent subtrees.

    Returns the tree's leaves and open subtrees in depth-first order: each
    item is a :class:`RegionTable` (regions found while expanding) or an
    open :class:`Node` (a task for :meth:`Search.run_task`). The expansion
    depends only on the network, domain and options, never on how the
    tasks are run afterwards.
    """
    root = search.root()
    if root is None:
        return []
    if len(search.net.layers) == 1:  # no hidden layer: one affine map, one region
        search.leaf(root, np.zeros(0, dtype=bool), root.M, root.v)
        return [search.take()]
    items: list = [root]
    while 0 < sum(isinstance(it, Node) for it in items) < _TASKS:
        expanded = []
        for it in items:
            if not isinstance(it, Node):
                expanded.append(it)
                continue
            before = search.found()
            children = search.expand(it)
            if children is None:
                after = search.found()
                expanded.extend([slice(before, after)] if after > before else [])
            else:
                expanded.extend(children)
        items = expanded
    search.task_keys = len(search.src)
    found = search.take()  # the leaves met on the way, recorded together
    return [found.rows(it.start, it.stop) if isinstance(it, slice) else it for it in items]
