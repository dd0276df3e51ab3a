"""The search tree's data: its nodes, the sides of a split, and the work counted.

A node is a polytope on which every neuron before the next one has a sign
(docs/design.md section 3); :mod:`.search` decides and splits nodes,
:mod:`.plan` cuts the tree into chunks, :mod:`.run` and :mod:`.workers` run
them, and :class:`Stats` adds up their work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

import numpy as np

Source = tuple[int, int]
"""Where a row of a node comes from: ``(0, i)`` domain row ``i``, ``(l, j)`` neuron ``j`` of hidden layer ``l``."""


@dataclass
class Node:
    """A node of the search tree: a polytope on which every neuron before the next one has a sign.

    All maps are in the domain's hull coordinates ``t``.

    Attributes
    ----------
    layer : int
        The hidden layer being decided (0-based).
    signs : list of bool
        The signs decided so far for that layer's neurons, in order.
    earlier : ndarray of bool
        The pattern of the layers before it.
    pre_A, pre_c : ndarray
        The layer's pre-activations on the node, ``z = pre_A t + pre_c``.
    row_keys : tuple of int
        The node's rows as keys into the search's :attr:`Search.sources` (and
        the LP model, which keeps a row under its key).
    normals, offsets : ndarray
        The node's rows ``normals . t + offsets <= 0`` (unit normals).
    box_lo, box_hi : ndarray
        A box around the node; a node with vertices keeps the domain's, its
        own tight box is the vertices' (:meth:`Search.box_of`).
    points : ndarray
        Interior points carried down from the parent (and found by LPs).
    point_z : ndarray
        The layer's pre-activations at those points.
    row_scale : ndarray
        Norms of the rows of ``pre_A`` (1 for zero rows): ``pre_A / row_scale``
        are unit normals, so ``point_z / row_scale`` are signed distances,
        what the inradius tolerance measures.
    vertices : ndarray or None
        The node's vertices (bounded domain, low dimension; else None); each
        split cuts the parent's. In the plane in order: a polygon.
    thin : bool
        Decided to exist in exact arithmetic (thinner than ``min_radius``):
        floats cannot be trusted with its vertices, ball or facets.
    note : object
        What the search's hooks proved on the node or an ancestor (:class:`.hooks.SearchHooks`).
    bounded : bool
        The hooks' prune has seen the node as it is (when it was made, with its siblings).
    """

    layer: int
    signs: list[bool]
    earlier: np.ndarray
    pre_A: np.ndarray
    pre_c: np.ndarray
    row_keys: tuple[int, ...]
    normals: np.ndarray
    offsets: np.ndarray
    box_lo: np.ndarray
    box_hi: np.ndarray
    points: np.ndarray
    point_z: np.ndarray
    row_scale: np.ndarray
    vertices: np.ndarray | None = None
    thin: bool = False
    note: object = None
    bounded: bool = False



# How the fields of a :class:`Node` that are no arrays come back from a chunk log's arrays.
_DECODE = {"layer": int, "thin": bool, "bounded": bool,
           "signs": lambda a: [bool(b) for b in a], "row_keys": lambda a: tuple(int(k) for k in a)}


@dataclass(frozen=True)
class Subtree:
    """An open part of the search tree, a chunk still to run: nodes to search depth-first in order.

    Attributes
    ----------
    nodes : tuple of Node
        The subtrees' roots, in the order their regions come.
    sources : tuple of Source
        The row sources after the plan's that the nodes' row keys name
        (made by the chunk that handed these nodes on).
    """

    nodes: tuple[Node, ...]
    sources: tuple[Source, ...] = ()

    def arrays(self) -> dict[str, np.ndarray]:
        """The subtree as plain arrays, for a chunk log (:meth:`from_arrays` reads them back exactly)."""
        out = {"sources": np.array(self.sources, dtype=np.int64).reshape(-1, 2),
               "nodes": np.array(len(self.nodes))}
        for k, node in enumerate(self.nodes):
            for f in fields(Node):
                value = getattr(node, f.name)
                # hooks' notes never travel: a search with hooks keeps its chunks whole
                if value is not None and f.name != "note":
                    out[f"{k}.{f.name}"] = np.asarray(value)
        return out

    @classmethod
    def from_arrays(cls, data: dict[str, np.ndarray]) -> "Subtree":
        """The subtree :meth:`arrays` wrote."""
        nodes = []
        for k in range(int(data["nodes"])):
            values = {f.name: data.get(f"{k}.{f.name}") for f in fields(Node) if f.name != "note"}
            nodes.append(Node(**{name: _DECODE[name](v) if name in _DECODE else v for name, v in values.items()}))
        return cls(tuple(nodes), tuple((int(l), int(j)) for l, j in data["sources"]))

class Side(NamedTuple):
    """Whether one side of a split holds an open set.

    ``point`` is a point strictly inside it when one was found on the way;
    ``thin`` says it was found to exist in exact arithmetic, thinner than
    ``min_radius``.
    """

    exists: bool
    point: np.ndarray | None = None
    thin: bool = False


KNOWN = Side(True)
"""A side known to exist without a point in it."""


@dataclass
class Stats:
    """The work a search (or one chunk of it) took, added up across chunks and resumed runs.

    Attributes
    ----------
    search_lps, facet_lps : int
        LPs run to decide sides and balls, and to decide facets.
    thin : int
        Regions holding no ball of radius ``min_inradius``; ``thin_min_radius``
        the thinnest (inf when there is none).
    unresolved : int
        Chunks left out because an LP failed on every attempt;
        ``unresolved_error`` the first error.
    exact : int
        Decisions made in exact arithmetic.
    below_resolution : int
        Regions found to exist below float resolution (counted, not stored).
    vertices_dropped : int
        Splits whose parts left their vertices behind, to be searched by
        their rows and LPs: a part would have had more vertices than a node
        keeps (``NODE_VERTICES_MAX``), or a corner finer than their rounding.
    """

    search_lps: int = 0
    facet_lps: int = 0
    thin: int = 0
    thin_min_radius: float = np.inf
    unresolved: int = 0
    unresolved_error: str = ""
    exact: int = 0
    below_resolution: int = 0
    vertices_dropped: int = 0

    def add(self, other: "Stats") -> None:
        """Add ``other``'s counts to these."""
        self.search_lps += other.search_lps
        self.facet_lps += other.facet_lps
        self.thin += other.thin
        self.thin_min_radius = min(self.thin_min_radius, other.thin_min_radius)
        self.unresolved += other.unresolved
        self.unresolved_error = self.unresolved_error or other.unresolved_error
        self.exact += other.exact
        self.below_resolution += other.below_resolution
        self.vertices_dropped += other.vertices_dropped

    def record(self) -> dict:
        """The counts as plain JSON (no infinity: ``thin_min_radius`` is None without thin regions)."""
        out = asdict(self)
        out["thin_min_radius"] = None if self.thin == 0 else self.thin_min_radius
        return out

    @classmethod
    def from_record(cls, record: dict) -> "Stats":
        """The counts :meth:`record` wrote (an empty record: none)."""
        fields = {k: v for k, v in record.items() if v is not None}
        return cls(**fields)
