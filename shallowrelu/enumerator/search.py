"""The depth-first step of the region search: one node of the tree at a time.

Owns the tree's nodes and what is done at each: the neurons settled without
an LP (interval bounds, carried points, carried vertices), the split of a
node by the first unsettled neuron, the children that hold a ball of radius
``min_radius``, and at a leaf the region's ball and facets. It records the
regions of one chunk (:meth:`Search.run_chunk`); cutting the tree into
chunks is :mod:`.plan`'s, running them :mod:`.run`'s. LPs go through
:mod:`shallowrelu.polytope.lp`, never to HiGHS directly.

The search walks the neurons in order (layer by layer). A node is a convex
polytope on which every earlier neuron has a fixed sign, so the next neuron's
pre-activation is one affine function ``a . t + c`` there. It is settled
without an LP when interval bounds over the node's box show one sign, or when
carried interior points lie on both sides; otherwise one warm Chebyshev LP
decides the unknown side and, if it is non-empty, yields an interior point for
it. A side floats leave within the tolerance (thinner than ``min_radius``
yet not clearly empty) is decided in exact arithmetic (:mod:`.exact`); so is
a region found so (a "thin" node: its vertices are dropped, its ball is
exact) and a facet test too close to call. Leaves are regions; each gets its
Chebyshev ball and its facets before it is recorded (leaves with vertices a
batch at a time, at the latest when their chunk ends), so an interrupted run
keeps finished regions only.

Over a bounded domain in up to five dimensions every node carries its
vertices: a split cuts them (new vertices where edges cross the hyperplane),
the exact range of each neuron on the node comes from them, and a side
exists when bounds on its inradius clear ``min_radius`` (area and perimeter
in the plane; the vertices' centroid and least width in general), so an LP
decides only the rare side in between. A leaf's facets come from its
vertices and its largest ball from its facets (the (n+1)-subsets in 1-D and
2-D, many leaves per numpy call; the compiled method of :mod:`.compiled`
from 3-D where numba is installed), so such a search needs no LP beyond the
root's. The whole walk is explained in ``docs/design.md`` section 3.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..bounds import affine_range, tighten_box
from ..catalogue import RegionArrays, RegionTable
from ..errors import SolverError
from ..limits import check_held
from ..network import ReLUNetwork
from ..polytope import normalise_rows
from ..polytope.hull import AffineHull
from ..polytope.leaves import regions_by_vertices
from ..polytope.lp import ChebyshevModel, LPResult, bounding_box
from ..polytope.polygon import clip_polygon, polygon, polygon_inradius_bounds
from ..polytope.vertices import Part, distinct_vertices, split_vertices, vertex_bound, vertices_or_empty
from ..tolerances import (DOMAIN_ROW_DECIMALS, INRADIUS_BOUND_SLACK, NODE_VERTICES_MAX, RAY_CROSS_MIN, RAY_TIE_ABS,
                          RAY_TIE_REL, TINY, VERTEX_TOL, Tolerances)
from . import groups
from .exact import ExactSides
from .hooks import ProgressFn, SearchHooks
from .node import KNOWN, Node, Side, Source, Stats, Subtree

# Rays shot from a region's centre per candidate facet row, besides the rows'
# own normals; the first hyperplane a ray meets alone is a facet, no LP needed.
_EXTRA_RAYS = 8
# Up to this dimension the nodes of a bounded search carry their vertices;
# beyond it the vertex counts grow faster than LPs cost.
_VERTEX_MAX_DIM = 5
# Regions found between two checks of the memory a chunk holds (one read of /proc each).
_HELD_CHECK = 4096
# A chunk that has found this many regions hands the rest of its subtree on as
# at most this many parts (new chunks), so that no chunk outgrows memory and
# the workers share a subtree far larger than the others. Fixed, not tied to
# the memory or the workers, so that the catalogue is the same for every run.
CHUNK_REGIONS = 16384
_PARTS = 4
# Leaves with vertices recorded at once (numpy calls amortised; the padded arrays stay small).
_LEAF_BATCH = 256

@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs to rebuild the search and run chunks of its plan.

    ``sources`` are the row sources the plan created (every chunk starts
    from them), ``plan_sources`` how many there are.
    """

    net: ReLUNetwork
    hull: AffineHull
    tol: Tolerances
    samples: int
    seed: int
    sources: tuple[Source, ...]
    plan_sources: int
    hooks: SearchHooks | None
    chunk_regions: int

    def search(self) -> "Search":
        """A search ready to run chunks of the plan."""
        search = Search(self.net, self.hull, self.tol, samples=self.samples, seed=self.seed, hooks=self.hooks)
        search.sources, search.plan_sources = list(self.sources), self.plan_sources
        search.chunk_regions = self.chunk_regions
        return search


def _row_norms(M: np.ndarray) -> np.ndarray:
    """Row norms of ``M``, 1 for zero rows (so that dividing by them is safe)."""
    norms = np.linalg.norm(M, axis=1)
    return np.where(norms > 0, norms, 1.0)


class Search:
    """The region search of one network over one domain, a node at a time.

    Parameters
    ----------
    net : ReLUNetwork
        The network in the domain's hull coordinates ``t``.
    hull : AffineHull
        The domain and its affine hull.
    tol : Tolerances
    samples : int
        Random interior points thrown in at the root (fixed by ``seed``).
    seed : int
        Seed of those points and of the facet rays.
    progress : callable(regions, lps), optional
        Called after every region found.
    hooks : SearchHooks, optional
        Prune nodes and take the regions in place of the catalogue (``verify``).

    Notes
    -----
    :meth:`root` makes the tree's root; :meth:`expand` a node's two
    children, or records the region the node ends in; :meth:`run_chunk`
    runs one chunk (an independent subtree) to the end; :meth:`take` hands
    over the regions recorded so far. Every row a node carries has a key
    into :attr:`sources`, which says which neuron or domain row made it.
    """

    def __init__(self, net: ReLUNetwork, hull: AffineHull, tol: Tolerances, *, samples: int, seed: int,
                 progress: ProgressFn | None = None, hooks: SearchHooks | None = None) -> None:
        self.net, self.hull, self.tol, self.seed = net, hull, tol, seed
        self.samples, self.progress, self.hooks = samples, progress, hooks
        self.n = net.n_inputs
        P, p = hull.domain.P, hull.domain.p
        G, g = normalise_rows(P, -p)
        nonzero = np.linalg.norm(G, axis=1) > 0  # zero rows were checked feasible by affine_hull
        G, g = G[nonzero], g[nonzero]
        # A repeated domain row would hide the facet it describes.
        _, first = np.unique(np.round(np.hstack([G, g[:, None]]), DOMAIN_ROW_DECIMALS), axis=0, return_index=True)
        keep = np.sort(first)
        self.domain_G, self.domain_g = G[keep], g[keep]
        self.box = bounding_box(hull.domain, tol) if P.shape[0] else (
            np.full(self.n, -np.inf), np.full(self.n, np.inf))
        widths = self.box[1] - self.box[0]
        self.bounded = bool(np.all(np.isfinite(widths)))
        self.r_max = float(widths.max() / 2) if self.bounded else tol.radius_cap
        self.carry = self.bounded and self.n <= _VERTEX_MAX_DIM
        # The vertices' rounding: a neuron's range on a node, from them, is this uncertain.
        self.tau = VERTEX_TOL * (1.0 + float(np.abs(self.box).max())) if self.carry else 0.0
        self.planar = self.carry and self.n == 2
        self._model: ChebyshevModel | None = None
        self._exact: ExactSides | None = None
        self.sources: list[Source] = [(0, int(i)) for i in np.flatnonzero(nonzero)[keep]]
        self.plan_sources = 0  # the sources the plan made, kept by every chunk (set by plan)
        self.chunk_regions = CHUNK_REGIONS
        self.stats = Stats()
        self.regions = RegionArrays(self.n, net.n_outputs, net.n_neurons)
        self._pending: list[tuple[Node, np.ndarray, np.ndarray, np.ndarray]] = []  # leaves not yet recorded
        self.rng = np.random.default_rng(seed)
        rays = self.rng.normal(size=(_EXTRA_RAYS, self.n))
        self.rays = rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def spec(self) -> WorkerSpec:
        """What a worker needs to run chunks of this search's plan."""
        return WorkerSpec(self.net, self.hull, self.tol, self.samples, self.seed, tuple(self.sources),
                          self.plan_sources, self.hooks, self.chunk_regions)

    # -- set-up ------------------------------------------------------------
    def _initial_points(self, centre: np.ndarray) -> np.ndarray:
        """``samples`` random points of the domain (around ``centre`` over an unbounded one)."""
        lo, hi = self.box
        if self.bounded:
            pts = lo + (hi - lo) * self.rng.random((self.samples, self.n))
        else:
            W, b = self.net.layers[0]
            offsets = np.abs(b) / np.maximum(np.linalg.norm(W, axis=1), TINY)
            scale = max(1.0, 2.0 * float(np.median(offsets)))
            pts = centre + scale * self.rng.normal(size=(self.samples, self.n))
        pts = np.vstack([centre, pts])
        if self.domain_G.shape[0]:
            margin = -(pts @ self.domain_G.T + self.domain_g).max(axis=1)
            pts = pts[margin > self.tol.min_radius]
        return pts

    def _synced(self, keys: tuple[int, ...], G: np.ndarray, g: np.ndarray) -> ChebyshevModel:
        """The LP model holding the rows ``G t + g <= 0`` (named by ``keys``), built on first use."""
        if self._model is None:
            self._model = ChebyshevModel(self.n, self.r_max, self.tol)
        self._model.sync(keys, G, g)
        return self._model

    def root(self) -> Node | None:
        """The tree's root: the whole domain with its interior points (one LP); None if it holds no ball."""
        keys = tuple(range(len(self.domain_g)))
        ball = self._synced(keys, self.domain_G, self.domain_g).chebyshev()
        self.stats.search_lps += 1
        if not ball.feasible or ball.value <= self.tol.min_radius:
            return None
        pts = self._initial_points(ball.x)
        W, b = self.net.layers[0]
        V = None
        if self.planar:
            V = polygon(self.domain_G, self.domain_g, ball.x)
        elif self.carry:
            V = distinct_vertices(vertices_or_empty(self.domain_G, self.domain_g, ball.x))
            V = V if self.n < V.shape[0] <= NODE_VERTICES_MAX else None  # qhull failed or too many: LPs decide
        return Node(0, [], np.zeros(0, dtype=bool), W, b, keys, self.domain_G, self.domain_g,
                    self.box[0].copy(), self.box[1].copy(), pts, pts @ W.T + b, _row_norms(W), V)

    def found(self) -> int:
        """Regions found since the last :meth:`take`, recorded or pending."""
        return len(self.regions) + len(self._pending)

    def run_chunk(self, chunk: Subtree) -> tuple[RegionTable, Stats, list[Subtree]]:
        """The regions of one chunk in depth-first order, from a fresh LP model, the work it took, and
        the parts of its subtree it hands on (none if it finished it).

        A chunk stops once it has found :attr:`chunk_regions` regions (with
        no hooks to take them) and hands the rest of its depth-first order
        on as up to ``_PARTS`` new chunks, split where the interior points
        the nodes carry (a measure of their volume) are shared evenly.
        A fresh model (no warm state from other chunks; built at the
        chunk's first LP, most need none) makes the answer independent of
        which process ran which chunk before. Ctrl-C leaves the regions
        found so far in ``self.regions`` and re-raises, as does
        :class:`MemoryBudgetError` when the regions it holds outgrow the memory.
        """
        self._model = None
        self.sources[self.plan_sources:] = chunk.sources
        self.stats = Stats()
        stack = list(chunk.nodes[::-1])
        check_at = _HELD_CHECK
        while stack:
            if self.hooks is None and self.found() >= self.chunk_regions:
                return self.take(), self.stats, self._parts(stack[::-1])
            children = self.expand(stack.pop())
            if children is not None:
                stack.extend(children[::-1])  # the inactive side first
            if self.found() >= check_at:
                check_at += _HELD_CHECK
                check_held(f"the search, {self.found():,} regions into one chunk of its plan,")
        return self.take(), self.stats, []

    def _parts(self, order: list[Node]) -> list[Subtree]:
        """The nodes left, in depth-first order, cut into up to ``_PARTS`` runs of about equal volume."""
        weight = np.cumsum([len(node.points) + 1 for node in order])
        cuts = np.unique(np.searchsorted(weight, weight[-1] * np.arange(1, _PARTS) / _PARTS) + 1)
        cuts = [0, *(int(c) for c in cuts if c < len(order)), len(order)]
        return [self._subtree(order[a:b]) for a, b in zip(cuts, cuts[1:])]

    def _subtree(self, nodes: list[Node]) -> Subtree:
        """The nodes as a chunk of their own, carrying only the row sources they name."""
        # Keys renumbered in order: a part carries the sources its rows use,
        # not every source its chunk made (tens of thousands, more at each
        # hand-on); a key still names one row, which is all the LP model asks.
        base = self.plan_sources
        used = sorted({k for node in nodes for k in node.row_keys if k >= base})
        new = {k: base + rank for rank, k in enumerate(used)}
        nodes = [replace(node, row_keys=tuple(new.get(k, k) for k in node.row_keys)) for node in nodes]
        return Subtree(tuple(nodes), tuple(self.sources[k] for k in used))

    def take(self) -> RegionTable:
        """Hand over the regions found since the last call, pending leaves recorded first."""
        # A finished chunk is kept as flat arrays: a tenth of the memory of
        # the per-region arrays it was gathered in, and quick to pickle home.
        self._flush()
        found, self.regions = self.regions, RegionArrays(self.n, self.net.n_outputs, self.net.n_neurons)
        return found.freeze()

    # -- one split ---------------------------------------------------------
    def _split(self, node: Node, a: np.ndarray, c: float, vals: np.ndarray) -> tuple[Part | None, Part | None]:
        """The node's parts where ``a . t + c`` (``vals`` at its vertices) is <= 0 and >= 0.

        For a polygon the inradius bounds stay None until :meth:`_side`
        needs them: most sides are known from points. Both parts are None
        where one would have more vertices than a node keeps: the children
        are then searched by their rows and LPs.
        """
        if self.planar:
            return (Part(clip_polygon(node.vertices, vals), None, None, None),
                    Part(clip_polygon(node.vertices, -vals), None, None, None))
        parts = self._cut(node.vertices, node.normals, node.offsets, a, c, vals)
        return (None, None) if parts is None else parts

    def _cut(self, V: np.ndarray, G: np.ndarray, g: np.ndarray, a: np.ndarray, c: float,
             vals: np.ndarray) -> tuple[Part, Part] | None:
        """:func:`split_vertices` of the polytope ``G t + g <= 0`` with vertices ``V``, or None (counted)
        where a part would leave its vertices behind: more than the upper bound theorem allows for its
        rows are repeats of a near-degenerate corner, and more than ``NODE_VERTICES_MAX`` cost too much."""
        parts = split_vertices(V, G, g, a, c, vals, min(NODE_VERTICES_MAX, vertex_bound(len(g) + 1, self.n)))
        if parts is None:
            self.stats.vertices_dropped += 1
        return parts

    def _side(self, node: Node, rows: tuple[np.ndarray, np.ndarray | float], exact: list[tuple[int, int | None]],
              known: bool, part: Part | None) -> Side:
        """Whether ``node`` meets the unit-normal ``rows`` ``a . t + c < 0`` (one or several) in an open set.

        ``exact`` names the rows for :meth:`_exact_side` (see
        :meth:`ExactSides.rows`); ``part`` is the part the rows cut from the
        node's vertices (None without vertices). The part's inradius bounds
        settle most sides; an LP the rest, but for a side it finds thinner
        than min_radius and not empty, which is decided exactly.
        """
        if known:
            return KNOWN
        if part is not None:
            low, high = part.low, part.high
            if low is None:
                low, high = polygon_inradius_bounds(part.vertices)
            if high * (1 + INRADIUS_BOUND_SLACK) <= self.tol.min_radius:
                return self._exact_side(node, exact)
            if low * (1 - INRADIUS_BOUND_SLACK) > self.tol.min_radius:
                return Side(True, part.centre)
        ball = self._synced(node.row_keys, node.normals, node.offsets).chebyshev(rows)
        self.stats.search_lps += 1
        if not ball.feasible:
            return Side(False)
        if ball.value > self.tol.min_radius:
            return Side(True, ball.x)
        return self._exact_side(node, exact)

    def _exacts(self) -> ExactSides:
        """The exact decisions of this search, set up on first use (they are rare)."""
        if self._exact is None:
            self._exact = ExactSides(self.net, self.hull, self.box, self.r_max, self.tol)
        return self._exact

    def _sources(self, node: Node) -> list[Source]:
        """Where each row of the node comes from."""
        return [self.sources[k] for k in node.row_keys]

    def _exact_side(self, node: Node, extra: list[tuple[int, int | None]]) -> Side:
        """:meth:`_side` in exact arithmetic, for a side floats leave within the tolerance."""
        self.stats.exact += 1
        pattern = np.concatenate([node.earlier, np.array(node.signs, dtype=bool)])
        verdict = self._exacts().side(node.layer, pattern, self._sources(node), extra)
        self.stats.below_resolution += verdict.below
        return Side(verdict.exists, verdict.point, verdict.exists and verdict.radius <= self.tol.min_radius)

    def _child(self, node: Node, bits: list[bool], units: list[int], rows: tuple[np.ndarray, np.ndarray],
               keep: np.ndarray, side: Side, part: Part | None) -> Node:
        """The part of ``node`` where its next units have the pattern ``bits``: the unit-normal
        ``rows`` ``a . t + c <= 0``, one made by each of ``units`` (of the node's layer).

        ``side`` and ``part`` are what :meth:`_side` and the split gave for
        it; ``keep`` marks the parent's points that lie in it.
        """
        thin = side.thin or node.thin
        piece = None if part is None or thin else part.vertices
        A, c = rows
        keys = tuple(range(len(self.sources), len(self.sources) + len(units)))
        self.sources.extend((node.layer + 1, j) for j in units)
        pts, Z = node.points[keep], node.point_z[keep]
        if side.point is not None:
            pts = np.concatenate((pts, side.point[None]))
            Z = np.concatenate((Z, (node.pre_A @ side.point + node.pre_c)[None]))
        # a node with vertices keeps its parent's box: its own is theirs (see box_of)
        lo, hi = node.box_lo, node.box_hi
        if piece is None:
            if node.vertices is not None:  # leaving the parent's vertices behind: start from their box
                lo, hi = (np.maximum(lo, node.vertices.min(axis=0) - self.tau),
                          np.minimum(hi, node.vertices.max(axis=0) + self.tau))
            for a, ci in zip(A, c):
                lo, hi = tighten_box(lo, hi, a, float(ci))
        return Node(node.layer, node.signs + list(bits), node.earlier, node.pre_A, node.pre_c, node.row_keys + keys,
                    np.concatenate((node.normals, A)), np.concatenate((node.offsets, c)), lo, hi, pts, Z,
                    node.row_scale, piece, thin, node.note)

    def _next_layer(self, node: Node) -> tuple[Node | None, np.ndarray, np.ndarray, np.ndarray]:
        """Fix the finished layer's signs; return the node of the next layer (None at a leaf),
        the pattern so far and the next layer's map ``M t + v`` (the output's at a leaf)."""
        s = self.net.factors(node.layer, np.array(node.signs, dtype=bool))
        W, b = self.net.layers[node.layer + 1]
        M, v = W @ (node.pre_A * s[:, None]), W @ (node.pre_c * s) + b
        earlier = np.concatenate([node.earlier, np.array(node.signs, dtype=bool)])
        if node.layer + 2 == len(self.net.layers):
            return None, earlier, M, v
        return (Node(node.layer + 1, [], earlier, M, v, node.row_keys, node.normals, node.offsets,
                     node.box_lo, node.box_hi, node.points, (node.point_z * s) @ W.T + b, _row_norms(M),
                     node.vertices, node.thin, node.note),
                earlier, M, v)

    def expand(self, node: Node) -> tuple[Node, ...] | None:
        """The node's children, or None where it ended in a region, was pruned or left unresolved."""
        try:
            children = self._expand_node(node)
            return children if children is None else self._unpruned(children)
        except SolverError as exc:
            # Never guess: the chunk is left out, counted, and the catalogue is not complete.
            self.stats.unresolved += 1
            self.stats.unresolved_error = self.stats.unresolved_error or str(exc)
            return None

    def _expand_node(self, node: Node) -> tuple[Node, ...] | None:
        """Decide the node's units up to the first split; return its children in pattern order
        (for a unit, the inactive side first; for a max group, by winning member).

        None when the node ends in a region (recorded) or is pruned.
        """
        if not node.bounded and self._pruned(node):
            return None
        while True:
            j0 = len(node.signs)
            if j0 == node.pre_A.shape[0]:
                nxt, pattern, M, v = self._next_layer(node)
                if nxt is None:
                    self.leaf(node, pattern, M, v)
                    return None
                if self._pruned(nxt):
                    return None
                node = nxt
                continue
            kinks = self.net.kinks_of(node.layer)
            if kinks is None:
                children = self._decide_units(node, node.pre_A.shape[0], None)
            elif kinks.group[j0] >= 0:
                # the groups one member wins all over the node, at once; the first other, on its own
                if self._settle_groups(node, kinks) == len(node.signs) < node.pre_A.shape[0] \
                        and kinks.group[len(node.signs)] >= 0:
                    children = self._decide_group(node, kinks.members_of(len(node.signs)))
                else:
                    children = None
            else:
                later = np.flatnonzero(kinks.group[j0:] >= 0)
                stop = j0 + int(later[0]) if later.size else node.pre_A.shape[0]
                children = self._decide_units(node, stop, kinks.kinked[j0:stop])
            if children is not None:
                return children

    def _decide_units(self, node: Node, stop: int, kinked: np.ndarray | None) -> tuple[Node, Node] | None:
        """Decide the elementwise units from the next one to ``stop`` (``kinked``: which have a kink;
        None: all): return the two children of the first that splits the node, else None with
        every sign set."""
        delta = self.tol.min_radius
        j0 = len(node.signs)
        # Everything cheap about these units, at once.
        scale = node.row_scale[j0:stop]
        M, v = node.pre_A[j0:stop] / scale[:, None], node.pre_c[j0:stop] / scale
        if node.vertices is not None:
            # The exact range, from the vertices: a side no deeper than
            # min_radius cannot hold a ball of that radius.
            deep = node.vertices @ M.T + v
            zmin, zmax = deep.min(axis=0), deep.max(axis=0)
            sign = zmax > -zmin
            # All but the units clearly on one side: those that cut, and
            # those with a side at most min_radius deep but not clearly
            # empty (beyond the vertices' rounding), decided exactly below.
            todo = (zmax >= -self.tau) & (zmin <= self.tau)
        else:
            zero = ~np.any(M, axis=1)
            zmin, zmax = affine_range(M, v, node.box_lo, node.box_hi)
            settled = zero | (zmax <= 0) | (zmin >= 0)
            sign = np.where(zero, v > 0, zmin >= 0) & ~(zmax <= 0)
            todo = ~settled
        if kinked is not None:  # a unit with no kink has its bit set everywhere
            todo, sign = todo & kinked, sign | ~kinked
        dist = node.point_z[:, j0:stop] / scale
        known_neg = dist.min(axis=0, initial=np.inf) < -delta
        known_pos = dist.max(axis=0, initial=-np.inf) > delta
        done = 0  # the units before this one have their signs
        for off in np.flatnonzero(todo):
            node.signs.extend(sign[done:off].tolist())
            done = off + 1
            a, c, j = M[off], float(v[off]), j0 + off
            # (a node's range along a unit normal is wider than 2 min_radius)
            shallow = node.vertices is not None and (zmax[off] <= delta or zmin[off] >= -delta)
            if shallow and not a.any():  # a constant unit splits nothing
                node.signs.append(bool(sign[off]))
                continue
            neg = pos = None
            if node.vertices is not None:  # the children need their vertices whatever decides the sides
                neg, pos = self._split(node, a, c, deep[:, off])
            if shallow:
                # One side is at most min_radius deep: decided exactly; the other holds the node's ball.
                thin_side = self._exact_side(node, [(j, None if sign[off] else -1)])
                neg_side, pos_side = (thin_side, KNOWN) if sign[off] else (KNOWN, thin_side)
            else:
                neg_side = self._side(node, (a, c), [(j, None)], known_neg[off], neg)
                pos_side = self._side(node, (-a, -c), [(j, -1)], known_pos[off], pos)
            if neg_side.exists and pos_side.exists:
                d = dist[:, off]
                return (self._child(node, [False], [j], (a[None], np.array([c])), d < -delta, neg_side, neg),
                        self._child(node, [True], [j], (-a[None], np.array([-c])), d > delta, pos_side, pos))
            # One side only (or, in a node thinner than the tolerance,
            # neither): the unit is stable here and adds no inequality.
            node.signs.append(bool(pos_side.exists))
        node.signs.extend(sign[done:].tolist())
        return None

    def _decide_group(self, node: Node, members: np.ndarray) -> tuple[Node, ...] | None:
        """Decide the max group ``members`` (the node's next units): the member that wins on the node,
        or one child per member that wins on an open part of it (None with the bits set)."""
        delta = self.tol.min_radius
        k = members.size
        A, c = node.pre_A[members], node.pre_c[members]
        candidates = []
        for i in np.flatnonzero(groups.may_win(node, A, c, self.tau)):
            rows = groups.group_rows(A, c, int(i))
            if rows is None:
                continue
            G, g, others = rows
            if node.vertices is not None:
                high = (node.vertices @ G.T + g).max(axis=0)
                needed = high >= -self.tau
            else:
                needed = affine_range(G, g, node.box_lo, node.box_hi)[1] > 0
            # A row the node already has adds nothing (and a repeated row would hide its facet); the reverse of
            # one leaves only that facet, no open set.
            same = groups.known_rows(node, G, g)
            if groups.known_rows(node, -G, -g).any():
                continue
            keep = np.flatnonzero(needed & ~same)
            candidates.append((int(i), G[keep], g[keep], [others[j] for j in keep]))
        if len(candidates) > 1:
            sides = []
            for i, G, g, others in candidates:
                depth = (node.point_z[:, members] @ groups.pair_matrix(k, i, others)) / groups.pair_norms(A, i, others)
                inside = depth.min(axis=1, initial=np.inf) > delta if len(others) else np.ones(len(depth), bool)
                part = self._clip(node, G, g) if node.vertices is not None else None
                exact = [(int(members[j]), int(members[i])) for j in others]
                sides.append((self._side(node, (G, g), exact, bool(inside.any()), part), part, inside))
            found = [(cand, side) for cand, side in zip(candidates, sides) if side[0].exists]
            if len(found) > 1:
                children = []
                for (i, G, g, others), (side, part, inside) in found:
                    bits = [m == i for m in range(k)]
                    children.append(self._child(node, bits, [int(members[j]) for j in others], (G, g), inside, side,
                                                part))
                return tuple(children)
            candidates = [cand for cand, _ in found] or candidates[:1]
        winner = candidates[0][0] if candidates else 0
        node.signs.extend(m == winner for m in range(k))
        return None

    def _settle_groups(self, node: Node, kinks) -> int:
        """Set the bits of the consecutive max groups from the next unit on that one member wins on the
        whole node, up to the first other group; return where that group starts (or where the run ends)."""
        j0 = len(node.signs)
        starts, sizes = kinks.run_from(j0)
        settled = np.zeros(len(starts), dtype=bool)
        winner = np.zeros(len(starts), dtype=np.int64)
        for k in np.unique(sizes):
            which = np.flatnonzero(sizes == k)
            idx = starts[which][:, None] + np.arange(k)
            may = groups.may_win(node, node.pre_A[idx], node.pre_c[idx], self.tau)
            settled[which] = may.sum(axis=1) == 1
            winner[which] = may.argmax(axis=1)
        stop = int(np.argmin(settled)) if not settled.all() else len(starts)
        for g in range(stop):
            node.signs.extend(m == winner[g] for m in range(sizes[g]))
        return len(node.signs)

    def _clip(self, node: Node, G: np.ndarray, g: np.ndarray) -> Part | None:
        """The part of the node's vertices where every unit-normal row ``G t + g <= 0`` holds
        (None where it would have more vertices than a node keeps)."""
        V, normals, offsets = node.vertices, node.normals, node.offsets
        part = Part(V, None, None, None)
        for a, c in zip(G, g):
            vals = V @ a + c
            if self.planar:
                part = Part(clip_polygon(V, vals), None, None, None)
            else:
                parts = self._cut(V, normals, offsets, a, c, vals)
                if parts is None:
                    return None
                part = parts[0]
            V, normals, offsets = part.vertices, np.vstack([normals, a]), np.append(offsets, c)
            if V.shape[0] == 0:
                break
        return part

    def _pruned(self, node: Node) -> bool:
        """Whether the hooks drop the node's subtree; their note is kept on the node for its children."""
        if self.hooks is None:
            return False
        drop, node.note = self.hooks.prune(*self._prune_args(node))
        return drop

    def _unpruned(self, children: tuple[Node, ...]) -> tuple[Node, ...] | None:
        """The children of a split the hooks keep, asked together (None if they drop them all)."""
        if self.hooks is None:
            return children
        kept = []
        for child, (drop, note) in zip(children, self.hooks.prune_many([self._prune_args(c) for c in children])):
            child.note, child.bounded = note, True
            if not drop:
                kept.append(child)
        return tuple(kept) or None

    def _prune_args(self, node: Node) -> tuple:
        """What the hooks' prune is told of a node."""
        return (*self.box_of(node), node.layer, node.pre_A, node.pre_c, node.signs, node.vertices, node.note)

    @staticmethod
    def box_of(node: Node) -> tuple[np.ndarray, np.ndarray]:
        """The tightest box the node knows around itself."""
        if node.vertices is not None:
            return node.vertices.min(axis=0), node.vertices.max(axis=0)
        return node.box_lo, node.box_hi

    # -- leaves ------------------------------------------------------------
    def leaf(self, node: Node, pattern: np.ndarray, A: np.ndarray, d: np.ndarray) -> None:
        """A region: to the hooks, or to the pending batch to be recorded."""
        if self.hooks is not None:
            self.hooks.leaf(node.normals, node.offsets, A, d)
            return
        self._pending.append((node, pattern, A, d))
        # In batches: numpy's cost per call, not per region, dominates the small systems of a leaf.
        if not self.carry or len(self._pending) >= _LEAF_BATCH:
            self._flush()
        if self.progress is not None:
            self.progress(self.found(), self.stats.search_lps + self.stats.facet_lps)

    def _flush(self) -> None:
        """Record the pending leaves, in order."""
        batch, self._pending = self._pending, []
        carried = [b[0] for b in batch if b[0].vertices is not None]
        found = iter(regions_by_vertices([c.normals for c in carried], [c.offsets for c in carried],
                                         [c.vertices for c in carried], self.tol))
        for node, pattern, A, d in batch:
            self._record(node, pattern, A, d, *(next(found) if node.vertices is not None else (None, None)))

    def _record(self, node: Node, pattern: np.ndarray, A: np.ndarray, d: np.ndarray,
                facets: tuple | None, ball: LPResult | None) -> None:
        """Append a region, asking HiGHS for what its vertices did not settle, and exact
        arithmetic for what floats cannot decide (the ball of a region thinner than
        min_radius, a facet too close to call)."""
        if node.thin:
            self.stats.exact += 1
            ball = LPResult(True, *self._exacts().ball(node.layer, pattern, self._sources(node))[::-1])
        if ball is None:
            ball = self._synced(node.row_keys, node.normals, node.offsets).chebyshev()
            self.stats.search_lps += 1
        if ball.feasible:
            centre, radius = ball.x, ball.value
        else:  # cannot happen for a node that holds a point; keep that point
            centre, radius = node.points[0], 0.0
        if radius <= self.tol.min_inradius:
            self.stats.thin += 1
            self.stats.thin_min_radius = min(self.stats.thin_min_radius, float(radius))
        facet, witness, margin = facets or self._facets(node, centre)
        # A facet kept with less than the margin (short, or beside a nearly
        # parallel row), or a row left out that touches the region, is too
        # close to call in floats (the margins of rows that are no facets say;
        # NaN for a row that misses the region).
        close = margin <= self.tol.facet_margin
        if close.any():
            doubt = np.flatnonzero(close)
            self.stats.exact += 1
            facet, witness, margin = facet.copy(), witness.copy(), margin.copy()
            facet[doubt], witness[doubt], margin[doubt] = self._exacts().facets(
                node.layer, pattern, self._sources(node), centre, doubt)
        self.regions.append(pattern, A, d, node.normals[facet], node.offsets[facet],
                            [self.sources[node.row_keys[k]] for k in np.flatnonzero(facet)], witness[facet],
                            margin[facet], centre, radius)

    def _facets(self, node: Node, centre: np.ndarray):
        """Which rows of the node are facets, each with a point on it and that point's margin
        (for a row that is no facet, the LP's best margin, at most ``facet_margin``, or NaN
        when its hyperplane misses the region)."""
        G, g = node.normals, node.offsets
        k = len(g)
        if k == 0:
            return np.zeros(0, dtype=bool), np.zeros((0, self.n)), np.zeros(0)
        slack = -(G @ centre + g)
        rays = np.vstack([G, self.rays])
        D = rays @ G.T
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.where(D > RAY_CROSS_MIN, slack / D, np.inf)
        order = np.argsort(tau, axis=1, kind="stable")
        first = order[:, 0]
        t1 = tau[np.arange(len(rays)), first]
        t2 = tau[np.arange(len(rays)), order[:, 1]] if k > 1 else np.full(len(rays), np.inf)
        alone = np.isfinite(t1) & (t2 > t1 * (1 + RAY_TIE_REL) + RAY_TIE_ABS)
        facet = np.zeros(k, dtype=bool)
        witness = np.zeros((k, self.n))
        margin = np.zeros(k)
        for r in np.flatnonzero(alone):
            f = first[r]
            if facet[f]:
                continue
            x = centre + t1[r] * rays[r]
            others = -(G @ x + g)
            others[f] = np.inf
            facet[f], witness[f], margin[f] = True, x, others.min()
        if k and not facet.all():
            model = self._synced(node.row_keys, G, g)
            for f in np.flatnonzero(~facet):
                res = model.facet(int(f))
                self.stats.facet_lps += 1
                facet[f], margin[f] = res.feasible and res.value > self.tol.facet_margin, res.value
                if res.feasible:
                    witness[f] = res.x
                else:
                    margin[f] = np.nan
        return facet, witness, margin
