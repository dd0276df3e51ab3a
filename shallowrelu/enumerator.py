"""Exact enumeration of the full-dimensional activation regions by tree search.

The search walks the neurons in order (layer by layer). A node is a convex
polytope on which every earlier neuron has a fixed sign, so the next neuron's
pre-activation is one affine function ``a . t + c`` there. It is settled
without an LP when interval bounds over the node's box show one sign, or when
carried interior points lie on both sides; otherwise one warm Chebyshev LP
decides the unknown side and, if it is non-empty, yields an interior point for
it. Leaves are regions; each gets its Chebyshev ball and its facets before
it is recorded (leaves with vertices a batch at a time, at the latest when
their subtree ends), so an interrupted run keeps finished regions only.

Over a bounded domain in up to five dimensions every node carries its
vertices: a split cuts them (new vertices where edges cross the hyperplane),
the exact range of each neuron on the node comes from them, and a side
exists when bounds on its inradius clear ``min_radius`` (area and perimeter
in the plane; the vertices' centroid and least width in general), so an LP
decides only the rare side in between. A leaf's facets come from its
vertices and its largest ball from its facets (the (n+1)-subsets in 1-D and
2-D, many leaves per numpy call; the compiled method of :mod:`.compiled`
from 3-D where numba is installed), so such a search needs no LP beyond the
root's.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .bounds import affine_range, tighten_box
from .catalogue import Catalogue, RegionArrays, RegionTable
from .errors import DomainError, SolverError
from .network import ReLUNetwork
from .polytope import (AffineHull, ChebyshevModel, Domain, LPResult, affine_hull, bounding_box, clip_polygon,
                       distinct_vertices, normalise_rows, polygon, polygon_inradius_bounds, regions_by_vertices,
                       split_vertices, vertices_or_empty)
from .tolerances import DEFAULT_TOLERANCES, Tolerances

ProgressFn = Callable[[int, int], None]


class SearchHooks:
    """Callbacks that turn the region search into a branch-and-bound (used by ``verify``).

    ``prune`` is asked for every node of the tree, with the node's box, the
    layer's exact pre-activation map ``z = M t + v`` on the node and the
    signs already fixed for the layer's first neurons; returning True drops
    the node's whole subtree. ``leaf`` gets
    each region's rows ``G t + g <= 0`` and output map ``y = A t + d`` in
    place of the catalogue entry. ``hull`` is set before the search starts.
    """

    hull: AffineHull

    def prune(self, lo: np.ndarray, hi: np.ndarray, layer: int, M: np.ndarray, v: np.ndarray,
              signs: list[bool]) -> bool:
        return False

    def leaf(self, G: np.ndarray, g: np.ndarray, A: np.ndarray, d: np.ndarray) -> None:
        return None

    def tally(self) -> dict[str, int]:
        """Counts gathered since the last call, reset (a worker process sends them home per task)."""
        return {}

    def add_tally(self, counts: dict[str, int]) -> None:
        """Add a worker's counts to this (the parent's) hooks."""

# Rays shot from a region's centre per candidate facet row, besides the rows'
# own normals; the first hyperplane a ray meets alone is a facet, no LP needed.
_EXTRA_RAYS = 8
# Up to this dimension the nodes of a bounded search carry their vertices;
# beyond it the vertex counts grow faster than LPs cost.
_VERTEX_MAX_DIM = 5
# The tree is cut into at least this many subtrees (tasks) before any is run.
# Fixed, not tied to the number of processes, so that the catalogue is the
# same for every ``jobs``; enough for load balance on a few dozen cores.
_TASKS = 64
# Leaves with vertices recorded at once (numpy calls amortised; the padded arrays stay small).
_LEAF_BATCH = 256
# Seconds of work in this process before the remaining subtrees may go to a
# pool; and the seconds of work that must still be left (estimated from the
# subtrees done so far) to be worth a pool's start-up.
_POOL_AFTER = 1.0
_POOL_WORTH = 1.0
# Where the subtrees run: processes of this machine, or tasks of a Ray cluster.
BACKENDS = ("local", "ray")


@dataclass
class _Node:
    layer: int
    signs: list[bool]
    prefix: np.ndarray
    M: np.ndarray
    v: np.ndarray
    keys: tuple[int, ...]
    G: np.ndarray
    g: np.ndarray
    # A box around the node; a node with vertices keeps the domain's, its
    # own tight box is the vertices' (:meth:`_Search._box`).
    lo: np.ndarray
    hi: np.ndarray
    pts: np.ndarray
    Z: np.ndarray
    # Norms of the rows of M (1 for zero rows): M / scale are unit normals,
    # so Z / scale are signed distances, what the inradius tolerance measures.
    scale: np.ndarray
    # Vertices of the node's polytope (bounded domain, low dimension; else
    # None), each split cuts the parent's. In the plane in order: a polygon.
    V: np.ndarray | None = None


@dataclass
class _Stats:
    search_lps: int = 0
    facet_lps: int = 0
    thin: int = 0
    thin_min_radius: float = np.inf
    # Subtrees left out because an LP failed on every attempt, and the first error.
    unresolved: int = 0
    unresolved_error: str = ""

    def add(self, other: "_Stats") -> None:
        self.search_lps += other.search_lps
        self.facet_lps += other.facet_lps
        self.thin += other.thin
        self.thin_min_radius = min(self.thin_min_radius, other.thin_min_radius)
        self.unresolved += other.unresolved
        self.unresolved_error = self.unresolved_error or other.unresolved_error


def _row_norms(M: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(M, axis=1)
    return np.where(norms > 0, norms, 1.0)


class _Search:
    def __init__(self, net: ReLUNetwork, hull: AffineHull, tol: Tolerances,
                 samples: int, seed: int, progress: ProgressFn | None, hooks: SearchHooks | None = None) -> None:
        self.net, self.hull, self.seed = net, hull, seed
        self.hooks = hooks
        self.tol = tol
        self.progress = progress
        self.n = net.n_inputs
        P, p = hull.domain.P, hull.domain.p
        G, g = normalise_rows(P, -p)
        nonzero = np.linalg.norm(G, axis=1) > 0  # zero rows were checked feasible by affine_hull
        G, g = G[nonzero], g[nonzero]
        # A repeated domain row would hide the facet it describes.
        _, first = np.unique(np.round(np.hstack([G, g[:, None]]), 12), axis=0, return_index=True)
        keep = np.sort(first)
        self.domain_G, self.domain_g = G[keep], g[keep]
        self.box = bounding_box(hull.domain, tol) if P.shape[0] else (
            np.full(self.n, -np.inf), np.full(self.n, np.inf))
        widths = self.box[1] - self.box[0]
        self.bounded = bool(np.all(np.isfinite(widths)))
        self.r_max = float(widths.max() / 2) if self.bounded else tol.radius_cap
        self.carry = self.bounded and self.n <= _VERTEX_MAX_DIM
        self.planar = self.carry and self.n == 2
        self._model: ChebyshevModel | None = None
        self.src: list[tuple[int, int]] = [(0, int(i)) for i in np.flatnonzero(nonzero)[keep]]
        self.stats = _Stats()
        self.regions = RegionArrays(self.n, net.n_outputs, net.n_neurons)
        self._pending: list[tuple[_Node, np.ndarray, np.ndarray, np.ndarray]] = []  # leaves not yet recorded
        self.rng = np.random.default_rng(seed)
        self.samples = samples
        rays = self.rng.normal(size=(_EXTRA_RAYS, self.n))
        self.rays = rays / np.linalg.norm(rays, axis=1, keepdims=True)

    # -- set-up ------------------------------------------------------------
    def _initial_points(self, centre: np.ndarray) -> np.ndarray:
        lo, hi = self.box
        if self.bounded:
            pts = lo + (hi - lo) * self.rng.random((self.samples, self.n))
        else:
            W, b = self.net.layers[0]
            offsets = np.abs(b) / np.maximum(np.linalg.norm(W, axis=1), 1e-300)
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

    def _root(self) -> _Node | None:
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
            V = V if V.shape[0] > self.n else None  # qhull failed: LPs decide it all
        return _Node(0, [], np.zeros(0, dtype=bool), W, b, keys, self.domain_G, self.domain_g,
                     self.box[0].copy(), self.box[1].copy(), pts, pts @ W.T + b, _row_norms(W), V)

    # -- search ------------------------------------------------------------
    def plan(self) -> list:
        """Expand the tree breadth-first into independent subtrees.

        Returns the tree's leaves and open subtrees in depth-first order: each
        item is a :class:`RegionTable` (regions found while expanding) or an
        open :class:`_Node` (a task for :meth:`run_task`). The expansion
        depends only on the network, domain and options, never on how the
        tasks are run afterwards.
        """
        root = self._root()
        if root is None:
            return []
        if len(self.net.layers) == 1:  # no hidden layer: one affine map, one region
            self._leaf(root, np.zeros(0, dtype=bool), root.M, root.v)
            return [self._take()]
        items: list = [root]
        while 0 < sum(isinstance(it, _Node) for it in items) < _TASKS:
            expanded = []
            for it in items:
                if not isinstance(it, _Node):
                    expanded.append(it)
                    continue
                before = self._found()
                children = self._try_expand(it)
                if children is None:
                    after = self._found()
                    expanded.extend([slice(before, after)] if after > before else [])
                else:
                    expanded.extend(children)
            items = expanded
        self.task_keys = len(self.src)
        found = self._take()  # the leaves met on the way, recorded together
        return [found.rows(it.start, it.stop) if isinstance(it, slice) else it for it in items]

    def _found(self) -> int:
        return len(self.regions) + len(self._pending)

    def run_task(self, node: _Node) -> tuple[RegionTable, _Stats]:
        """All regions of one subtree in depth-first order, from a fresh LP model, and the work it took.

        A fresh model (no warm state from other subtrees; built at the
        task's first LP, most need none) makes the answer independent of
        which process ran which task before. Ctrl-C leaves
        the regions found so far in ``self.regions`` and re-raises.
        """
        self._model = None
        del self.src[self.task_keys:]
        self.stats = _Stats()
        stack = [node]
        while stack:
            children = self._try_expand(stack.pop())
            if children is not None:
                stack.extend(children[::-1])  # the inactive side first
        return self._take(), self.stats

    def _take(self) -> RegionTable:
        # A finished subtree is kept as flat arrays: a tenth of the memory of
        # the per-region arrays it was gathered in, and quick to pickle home.
        self._flush()
        found, self.regions = self.regions, RegionArrays(self.n, self.net.n_outputs, self.net.n_neurons)
        return found.freeze()

    def _split(self, node: _Node, a: np.ndarray, c: float, vals: np.ndarray) -> tuple[tuple, tuple]:
        """The node's parts where ``a . t + c`` (``vals`` at its vertices) is <= 0 and >= 0:
        each as ``(vertices, low, high, centre)``, ``low <= inradius <= high`` (for a polygon
        None until :meth:`_side` needs them: most sides are known from points)."""
        if self.planar:
            return (clip_polygon(node.V, vals), None, None, None), (clip_polygon(node.V, -vals), None, None, None)
        return split_vertices(node.V, node.G, node.g, a, c, vals)

    def _side(self, node: _Node, a: np.ndarray, c: float, known: bool, part: tuple | None):
        """Whether ``node`` meets ``a . t + c <= 0`` (unit ``a``) in a ball of radius > min_radius.

        ``part`` is that part from :meth:`_split` when the node carries
        vertices (else None). Returns ``(exists, new_point)``, a point at
        least min_radius inside the part when one was found on the way. The
        part's inradius bounds settle all but the sides near min_radius,
        so the answer is the LP's.
        """
        if known:
            return True, None
        if part is not None:
            P, low, high, centre = part
            if low is None:
                low, high = polygon_inradius_bounds(P)
            # the relative guard keeps rounding out of the decision
            if high * (1 + 1e-6) <= self.tol.min_radius:
                return False, None
            if low * (1 - 1e-6) > self.tol.min_radius:
                return True, centre
        ball = self._synced(node.keys, node.G, node.g).chebyshev((a, c))
        self.stats.search_lps += 1
        if not ball.feasible or ball.value <= self.tol.min_radius:
            return False, None
        return True, ball.x

    def _child(self, node: _Node, j: int, active: bool, a: np.ndarray, c: float, keep: np.ndarray,
               point: np.ndarray | None, piece: np.ndarray | None) -> _Node:
        """The part of ``node`` where neuron ``j`` is ``active``: ``a . t + c <= 0`` (unit ``a``)."""
        key = len(self.src)
        self.src.append((node.layer + 1, j))
        pts, Z = node.pts[keep], node.Z[keep]
        if point is not None:
            pts = np.concatenate((pts, point[None]))
            Z = np.concatenate((Z, (node.M @ point + node.v)[None]))
        # a node with vertices keeps its parent's box: its own is theirs (see _box)
        lo, hi = (node.lo, node.hi) if piece is not None else tighten_box(node.lo, node.hi, a, c)
        return _Node(node.layer, node.signs + [active], node.prefix, node.M, node.v,
                     node.keys + (key,), np.concatenate((node.G, a[None])), np.concatenate((node.g, (c,))),
                     lo, hi, pts, Z, node.scale, piece)

    def _next_layer(self, node: _Node) -> tuple[_Node | None, np.ndarray, np.ndarray, np.ndarray]:
        """Fix the finished layer's signs; return the node of the next layer (None at a leaf)."""
        s = np.array(node.signs, dtype=bool)
        W, b = self.net.layers[node.layer + 1]
        M, v = W @ (node.M * s[:, None]), W @ (node.v * s) + b
        prefix = np.concatenate([node.prefix, s])
        if node.layer + 2 == len(self.net.layers):
            return None, prefix, M, v
        return (_Node(node.layer + 1, [], prefix, M, v, node.keys, node.G, node.g,
                      node.lo, node.hi, node.pts, (node.Z * s) @ W.T + b, _row_norms(M), node.V),
                prefix, M, v)

    def _try_expand(self, node: _Node) -> tuple[_Node, _Node] | None:
        try:
            return self._expand(node)
        except SolverError as exc:
            # Never guess: the subtree is left out, counted, and the catalogue is not complete.
            self.stats.unresolved += 1
            self.stats.unresolved_error = self.stats.unresolved_error or str(exc)
            return None

    def _expand(self, node: _Node) -> tuple[_Node, _Node] | None:
        """Decide the node's neurons up to the first split; return its (inactive, active) children.

        None when the node ends in a region (recorded) or is pruned.
        """
        if self._pruned(node):
            return None
        delta = self.tol.min_radius
        while True:
            j0 = len(node.signs)
            if j0 == node.M.shape[0]:
                nxt, prefix, M, v = self._next_layer(node)
                if nxt is None:
                    self._leaf(node, prefix, M, v)
                    return None
                if self._pruned(nxt):
                    return None
                node = nxt
                continue
            # Everything cheap about the remaining neurons of this node, at once.
            scale = node.scale[j0:]
            M, v = node.M[j0:] / scale[:, None], node.v[j0:] / scale
            if node.V is not None:
                # The exact range, from the vertices: a side no deeper than
                # min_radius cannot hold a ball of that radius.
                deep = node.V @ M.T + v
                zmin, zmax = deep.min(axis=0), deep.max(axis=0)
                settled = (zmax <= delta) | (zmin >= -delta)
                sign = zmax > -zmin
            else:
                zero = ~np.any(M, axis=1)
                zmin, zmax = affine_range(M, v, node.lo, node.hi)
                settled = zero | (zmax <= 0) | (zmin >= 0)
                sign = np.where(zero, v > 0, zmin >= 0) & ~(zmax <= 0)
            dist = node.Z[:, j0:] / scale
            known_neg = dist.min(axis=0, initial=np.inf) < -delta
            known_pos = dist.max(axis=0, initial=-np.inf) > delta
            done = 0  # the neurons before this one have their signs
            for off in np.flatnonzero(~settled):
                node.signs.extend(sign[done:off].tolist())
                done = off + 1
                a, c = M[off], float(v[off])
                neg = pos = None
                if node.V is not None:  # the children need their vertices whatever decides the sides
                    neg, pos = self._split(node, a, c, deep[:, off])
                has_neg, pt_neg = self._side(node, a, c, known_neg[off], neg)
                has_pos, pt_pos = self._side(node, -a, -c, known_pos[off], pos)
                if has_neg and has_pos:
                    j, d = j0 + off, dist[:, off]
                    return (self._child(node, j, False, a, c, d < -delta, pt_neg, None if neg is None else neg[0]),
                            self._child(node, j, True, -a, -c, d > delta, pt_pos, None if pos is None else pos[0]))
                # One side only (or, in a node thinner than the tolerance,
                # neither): the neuron is stable here and adds no inequality.
                node.signs.append(bool(has_pos))
            node.signs.extend(sign[done:].tolist())

    def _pruned(self, node: _Node) -> bool:
        return self.hooks is not None and self.hooks.prune(*self._box(node), node.layer, node.M, node.v,
                                                           node.signs)

    @staticmethod
    def _box(node: _Node) -> tuple[np.ndarray, np.ndarray]:
        return (node.V.min(axis=0), node.V.max(axis=0)) if node.V is not None else (node.lo, node.hi)

    # -- leaves ------------------------------------------------------------
    def _leaf(self, node: _Node, pattern: np.ndarray, A: np.ndarray, d: np.ndarray) -> None:
        if self.hooks is not None:
            self.hooks.leaf(node.G, node.g, A, d)
            return
        self._pending.append((node, pattern, A, d))
        # In batches: numpy's cost per call, not per region, dominates the small systems of a leaf.
        if not self.carry or len(self._pending) >= _LEAF_BATCH:
            self._flush()
        if self.progress is not None:
            self.progress(self._found(), self.stats.search_lps + self.stats.facet_lps)

    def _flush(self) -> None:
        """Record the pending leaves, in order."""
        batch, self._pending = self._pending, []
        carried = [b for b in batch if b[0].V is not None]
        found = iter(regions_by_vertices([b[0].G for b in carried], [b[0].g for b in carried],
                                         [b[0].V for b in carried], self.tol))
        for node, pattern, A, d in batch:
            self._record(node, pattern, A, d, *(next(found) if node.V is not None else (None, None)))

    def _record(self, node: _Node, pattern: np.ndarray, A: np.ndarray, d: np.ndarray,
                exact: tuple | None, ball: LPResult | None) -> None:
        """Append a region, asking HiGHS for what its vertices did not settle."""
        if ball is None:
            ball = self._synced(node.keys, node.G, node.g).chebyshev()
            self.stats.search_lps += 1
        if ball.feasible:
            centre, radius = ball.x, ball.value
        else:  # cannot happen for a node that holds a point; keep that point
            centre, radius = node.pts[0], 0.0
        if radius <= self.tol.min_inradius:
            self.stats.thin += 1
            self.stats.thin_min_radius = min(self.stats.thin_min_radius, float(radius))
        facet, witness, margin = exact or self._facets(node, centre)
        self.regions.append(pattern, A, d, node.G[facet], node.g[facet],
                            [self.src[node.keys[k]] for k in np.flatnonzero(facet)], witness[facet], margin[facet],
                            centre, radius)

    def _facets(self, node: _Node, centre: np.ndarray):
        """Which rows of the node are facets, each with a point on it and that point's margin."""
        G, g = node.G, node.g
        k = len(g)
        if k == 0:
            return np.zeros(0, dtype=bool), np.zeros((0, self.n)), np.zeros(0)
        slack = -(G @ centre + g)
        rays = np.vstack([G, self.rays])
        D = rays @ G.T
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.where(D > 1e-12, slack / D, np.inf)
        order = np.argsort(tau, axis=1, kind="stable")
        first = order[:, 0]
        t1 = tau[np.arange(len(rays)), first]
        t2 = tau[np.arange(len(rays)), order[:, 1]] if k > 1 else np.full(len(rays), np.inf)
        alone = np.isfinite(t1) & (t2 > t1 * (1 + 1e-9) + 1e-12)
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
            model = self._synced(node.keys, G, g)
            for f in np.flatnonzero(~facet):
                res = model.facet(int(f))
                self.stats.facet_lps += 1
                if res.feasible and res.value > self.tol.facet_margin:
                    facet[f], witness[f], margin[f] = True, res.x, res.value
        return facet, witness, margin


# -- running the tasks ---------------------------------------------------------

_worker: _Search | None = None
_worker_error: Exception | None = None


def _exit_if_orphaned(parent: int, poll: float = 0.0) -> None:
    # A parent killed outright (SIGKILL) cannot stop its pool: leave quietly
    # rather than finish the task and fail on the broken pipe.
    while poll and os.getppid() == parent:
        time.sleep(poll)
    if os.getppid() != parent:
        os._exit(1)


def _make_worker(args: tuple) -> _Search:
    net, hull, tol, samples, seed, src, task_keys, hooks = args
    search = _Search(net, hull, tol, samples, seed, None, hooks)
    search.src, search.task_keys = list(src), task_keys
    return search


def _start_worker(args: tuple) -> None:
    global _worker, _worker_error
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent takes Ctrl-C and stops the pool,
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # which ends a worker by SIGTERM, quietly
    threading.Thread(target=_exit_if_orphaned, args=(os.getppid(), 0.2), daemon=True).start()
    try:
        _worker = _make_worker(args)
    except Exception as exc:  # noqa: BLE001 - a failing initializer makes the pool respawn workers forever
        _worker_error = exc


def _finish_task(search: _Search, task: tuple[int, _Node]) -> tuple[int, RegionTable, _Stats, dict]:
    i, node = task
    regions, stats = search.run_task(node)
    return i, regions, stats, {} if search.hooks is None else search.hooks.tally()


def _work(task: tuple[int, _Node]) -> tuple[int, RegionTable, _Stats, dict]:
    if _worker_error is not None:
        raise _worker_error
    parent = os.getppid()
    result = _finish_task(_worker, task)
    _exit_if_orphaned(parent)
    return result


_HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while the pool forks, and raise them again once it has.

    Python drops an exception raised in an at-fork callback (logging
    registers one) with an "Exception ignored" line: an interrupt landing
    there was lost and the run went on to the end. A worker forked in the
    meantime takes such a signal as its default action.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner, held = os.getpid(), []

    def hold(signum, frame):  # noqa: ARG001 - signal handler signature
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        held.append(signum)

    previous = {s: signal.getsignal(s) for s in _HELD}
    kept = [s for s, h in previous.items() if h is not None]  # None: a handler not set from Python
    for s in kept:
        signal.signal(s, hold)
    try:
        yield
    finally:
        for s in kept:
            signal.signal(s, previous[s])
        for s in dict.fromkeys(held):
            signal.raise_signal(s)


def _pool_results(init: tuple, tasks: list, jobs: int) -> Iterator[tuple]:
    with ExitStack() as stack:
        with _interrupts_held():
            pool = stack.enter_context(_pool_context().Pool(min(jobs, len(tasks)), _start_worker, (init,)))
        yield from pool.imap_unordered(_work, tasks)


# A Ray worker process keeps its search between tasks of the same run.
_ray_worker: tuple[str, _Search] | None = None


def _ray_work(run_id: str, init: tuple, task: tuple[int, _Node]) -> tuple[int, RegionTable, _Stats, dict]:
    global _ray_worker
    if _ray_worker is None or _ray_worker[0] != run_id:
        _ray_worker = (run_id, _make_worker(init))
    return _finish_task(_ray_worker[1], task)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ImportError("the Ray backend needs Ray: pip install 'shallowrelu[ray]'") from None
    return ray


def _ray_results(init: tuple, tasks: list, jobs: int | None) -> Iterator[tuple]:
    """Run the tasks as Ray tasks, at most ``jobs`` at a time (None: one per CPU of the cluster).

    Connects to the cluster in ``RAY_ADDRESS`` if set, else starts Ray on
    this machine, unless the caller has already called ``ray.init``.
    """
    ray = _import_ray()
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    if jobs is None:
        jobs = max(1, int(ray.cluster_resources().get("CPU", 1)))
    remote = ray.remote(num_cpus=1, max_retries=0)(_ray_work)
    run_id, init_ref = os.urandom(8).hex(), ray.put(init)
    queue, running = list(tasks), []
    try:
        while queue or running:
            while queue and len(running) < jobs:
                running.append(remote.remote(run_id, init_ref, queue.pop(0)))
            ready, running = ray.wait(running, num_returns=1)
            try:
                yield ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:  # the worker's own exception, as a local pool gives it
                raise exc.cause from None
    finally:
        for ref in running:
            ray.cancel(ref, force=True)


def _pool_context():
    # fork starts a worker in milliseconds and needs no importable __main__
    # (spawn re-runs the main script, which fails for a script read from
    # stdin); the LPs run single-threaded, so no solver thread is cut off by it.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


@dataclass
class _Run:
    """The plan's items, each with its regions once found (None: a task not run)."""

    chunks: list[RegionTable | None]
    done: list[bool]
    stats: _Stats
    interrupted: bool


def _run(search: _Search, items: list, jobs: int | None, progress: ProgressFn | None,
         reuse: dict[int, RegionTable], stream: Callable[[int, RegionTable], None] | None = None,
         backend: str = "local") -> _Run:
    """Run the plan's open subtrees here, in order, and on ``jobs`` workers what is left after
    ``_POOL_AFTER`` seconds if that looks like ``_POOL_WORTH`` seconds or more.

    The workers are local processes, or Ray tasks with ``backend="ray"``.
    ``reuse`` holds regions of tasks finished by an earlier, interrupted run;
    ``stream`` gets each task's regions as soon as the task is finished.
    Ctrl-C stops the work and keeps every region found so far (in-process,
    also those of the task under way, marked not done).
    """
    run = _Run([it if isinstance(it, RegionTable) else reuse.get(i) for i, it in enumerate(items)], [], _Stats(),
               False)
    run.done = [c is not None for c in run.chunks]
    run.stats.add(search.stats)
    todo = [(i, it) for i, it in enumerate(items) if not run.done[i]]
    found = sum(len(c) for c in run.chunks if c is not None)

    def finish(i: int, regions: RegionTable, stats: _Stats) -> None:
        # The books first: a Ctrl-C landing in the callbacks keeps the finished subtree.
        nonlocal found
        run.chunks[i], run.done[i] = regions, True
        run.stats.add(stats)
        found += len(regions)
        if stream is not None:
            stream(i, regions)
        if progress is not None:
            progress(found, run.stats.search_lps + run.stats.facet_lps)

    start = time.monotonic()
    local_only = backend == "local" and jobs == 1

    def here(k: int) -> bool:
        """Whether task ``k`` runs in this process: a pool costs about half a second to start."""
        if local_only or len(todo) - k == 1:
            return True
        elapsed = time.monotonic() - start
        return elapsed < _POOL_AFTER or (k > 0 and elapsed / k * (len(todo) - k) < _POOL_WORTH)

    try:
        k = 0
        while k < len(todo) and here(k):
            i, node = todo[k]
            if progress is not None:
                base = (found, run.stats.search_lps + run.stats.facet_lps)
                search.progress = lambda r, lps, base=base: progress(base[0] + r, base[1] + lps)
            try:
                regions, stats = search.run_task(node)
            except KeyboardInterrupt:
                run.chunks[i] = search._take()  # the subtree's first regions, marked not done
                run.stats.add(search.stats)
                raise
            finish(i, regions, stats)
            k += 1
        if k < len(todo):
            init = (search.net, search.hull, search.tol, search.samples, search.seed, search.src, search.task_keys,
                    search.hooks)
            results = _ray_results(init, todo[k:], jobs) if backend == "ray" else _pool_results(init, todo[k:], jobs)
            try:
                for i, regions, stats, counts in results:
                    if search.hooks is not None:
                        search.hooks.add_tally(counts)
                    finish(i, regions, stats)
            finally:
                results.close()  # stops the pool or cancels the Ray tasks at once, also on Ctrl-C
    except KeyboardInterrupt:
        run.interrupted = True
    return run


def _check_parallel(jobs: int | None, backend: str) -> int | None:
    """``jobs`` checked; None becomes this machine's cores (left None for Ray: the cluster's CPUs)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if jobs is None and backend == "local":
        return os.cpu_count() or 1
    return jobs


def search_regions(net: ReLUNetwork, domain: Domain, hooks: SearchHooks, *,
                   tol: Tolerances = DEFAULT_TOLERANCES, samples: int = 256, seed: int = 0, jobs: int | None = 1,
                   backend: str = "local") -> dict:
    """Run the region search with ``hooks`` deciding what to prune and what to do with each region.

    With ``jobs > 1`` (or ``backend="ray"``) the subtrees run in worker
    processes, each with its own copy of ``hooks`` (so they must pickle); an
    exception a hook raises there ends the search and is raised here.

    Returns
    -------
    dict
        ``lps`` (search LPs), ``interrupted``, and ``unresolved`` (subtrees
        left out because an LP failed on every attempt).
    """
    hull = affine_hull(domain, net.n_inputs, tol)
    if hull.B.shape[1] == 0:
        raise DomainError("domain is a single point; there is nothing to search")
    jobs = _check_parallel(jobs, backend)
    hooks.hull = hull
    work_net = net.restrict(hull.x0, hull.B) if hull.flat else net
    search = _Search(work_net, hull, tol, samples, seed, None, hooks)
    run = _run(search, search.plan(), jobs, None, {}, backend=backend)
    return {"lps": run.stats.search_lps, "interrupted": run.interrupted, "unresolved": run.stats.unresolved}


def _reusable(resume: Catalogue, net: ReLUNetwork, hull: AffineHull, options: dict,
              items: list) -> dict[int, RegionTable]:
    """The finished tasks of an interrupted catalogue, after checking it comes from the same run."""
    if resume.network.fingerprint() != net.fingerprint():
        raise ValueError("the catalogue to resume is of another network")
    same_domain = (resume.hull.B.shape == hull.B.shape and np.array_equal(resume.hull.x0, hull.x0)
                   and np.array_equal(resume.hull.domain.P, hull.domain.P)
                   and np.array_equal(resume.hull.domain.p, hull.domain.p))
    if not same_domain:
        raise ValueError("the catalogue to resume was made over another domain")
    changed = [k for k, v in options.items() if resume.info.get(k) != v]
    if changed:
        raise ValueError(f"the catalogue to resume was made with other options: {', '.join(changed)}")
    chunks = resume.info.get("chunks")
    if chunks is None:
        raise ValueError("the catalogue to resume has no record of its tasks (made by an older version)")
    reuse, start = {}, 0
    for i, count, done in chunks:
        if done and i < len(items) and isinstance(items[i], _Node):
            reuse[i] = resume.table.rows(start, start + count)
        start += count
    return reuse


def enumerate_regions(net: ReLUNetwork, domain: Domain = None, *, tol: Tolerances = DEFAULT_TOLERANCES,
                      samples: int = 256, seed: int = 0, jobs: int | None = 1, backend: str = "local",
                      resume: Catalogue | None = None, progress: ProgressFn | None = None,
                      on_chunk: Callable[[Catalogue], None] | None = None) -> Catalogue:
    """Find every full-dimensional activation region of ``net`` over ``domain``.

    Parameters
    ----------
    net : ReLUNetwork
    domain : Box, Polytope or None
        ``None`` is all of R^n (the paper's setting). A flat domain is
        handled in the coordinates of its affine hull.
    tol : Tolerances
        ``tol.min_radius`` decides what counts as full-dimensional;
        regions thinner than ``tol.min_inradius`` are counted as ``thin``.
    samples : int
        Random interior points thrown in at the start; each region that
        catches one needs no LP to be found. Fixed by ``seed``.
    seed : int
    jobs : int or None
        Workers for the independent subtrees (1: all in this process;
        None: one per core, or per CPU of the Ray cluster). The catalogue is
        the same for every value.
    backend : {"local", "ray"}
        ``"local"``: a pool of processes on this machine. ``"ray"``: Ray
        tasks (``pip install 'shallowrelu[ray]'``), on the cluster named by
        ``RAY_ADDRESS`` or else a Ray instance started here; a caller's own
        ``ray.init(...)`` is used as it is. Same catalogue either way.
    resume : Catalogue, optional
        An interrupted catalogue of the same network, domain and options:
        its finished subtrees are kept, the rest is searched.
    progress : callable(regions, lps), optional
        Called after every region (after every subtree with ``jobs > 1``).
    on_chunk : callable(Catalogue), optional
        Gets each finished subtree's regions as a small catalogue with
        ``info["chunk"]``, its index in the plan (see :class:`ChunkLog`).

    Returns
    -------
    Catalogue
        Regions in depth-first order (inactive side first), the same for
        the same network, domain and options. ``cat.info`` holds ``lps``,
        ``seconds``, ``thin``, ``interrupted``, ``complete`` and ``chunks``
        (per subtree: its index, its region count, finished or not). A run
        stopped by Ctrl-C returns the regions found so far with
        ``interrupted`` True; pass it as ``resume`` to finish it.

    Examples
    --------
    >>> import numpy as np, shallowrelu as sr
    >>> net = sr.ReLUNetwork([(np.array([[1.0], [-1.0]]), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))])
    >>> len(sr.enumerate_regions(net))
    2
    """
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    jobs = _check_parallel(jobs, backend)
    start = time.perf_counter()
    hull = affine_hull(domain, net.n_inputs, tol)
    if hull.B.shape[1] == 0:
        raise DomainError("domain is a single point; there is nothing to enumerate")
    work_net = net.restrict(hull.x0, hull.B) if hull.flat else net
    options = {"samples": samples, "seed": seed, "min_inradius": tol.min_inradius, "min_radius": tol.min_radius}
    search = _Search(work_net, hull, tol, samples, seed, None)
    items = search.plan()
    reuse = {} if resume is None else _reusable(resume, net, hull, options, items)
    stream = None if on_chunk is None else (
        lambda i, found: on_chunk(Catalogue(net, hull, found, {"chunk": i, **options})))
    run = _run(search, items, jobs, progress, reuse, stream, backend)
    st = run.stats
    info = {
        "lps": st.search_lps + st.facet_lps,
        "search_lps": st.search_lps,
        "facet_lps": st.facet_lps,
        "thin": st.thin,
        "thin_min_radius": None if st.thin == 0 else st.thin_min_radius,
        "interrupted": run.interrupted,
        "unresolved": st.unresolved,
        "unresolved_error": st.unresolved_error or None,
        "resumed": resume is not None,
        "bounded": search.bounded,
        "radius_cap": search.r_max,
        **options,
        "chunks": [[i, len(c), done] for i, (c, done) in enumerate(zip(run.chunks, run.done)) if c is not None],
    }
    tables = [c for c in run.chunks if c is not None]
    run.chunks.clear()  # so that the chunks go as soon as they are joined
    cat = Catalogue(net, hull, RegionTable.concat(tables) if tables else search._take(), info)
    del tables
    cert = cat.certificate(tol) if not run.interrupted else None
    info["complete"] = bool(cert is not None and cert.complete and not st.unresolved)
    info["certificate"] = None if cert is None else cert.as_dict()
    info["seconds"] = time.perf_counter() - start
    return cat
