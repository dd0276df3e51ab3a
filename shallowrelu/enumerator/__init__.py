"""Exact enumeration of the full-dimensional activation regions by tree search.

The rooms, in the order one call of :func:`enumerate_regions` goes through them:

- :mod:`.api`: the entry points; the domain's hull, resume, the certificate;
- :mod:`.plan`: the tree cut breadth-first into the first chunks (independent subtrees);
- :mod:`.run`: the chunks run, here or on workers, and the parts a large one hands on;
- :mod:`.workers`: a local process pool or Ray tasks; :mod:`.interrupts`:
  signals blocked while the pool forks;
- :mod:`.search`: the depth-first step, node by node, down to the regions;
  :mod:`.node`: the tree's nodes, the sides of a split, the work counted;
  :mod:`.groups`: max groups on a node (which member may win, where);
  :mod:`.exact`: the decisions floats cannot make;
- :mod:`.hooks`: how ``verify`` steers the search (prune, take the regions).

Geometry and LPs come from :mod:`shallowrelu.polytope`, the regions go to
:mod:`shallowrelu.catalogue`; nothing here builds or uses the shallow network.
"""

from .api import enumerate_regions, search_regions
from .hooks import ProgressFn, SearchHooks
from .workers import BACKENDS

__all__ = ["BACKENDS", "ProgressFn", "SearchHooks", "enumerate_regions", "search_regions"]
