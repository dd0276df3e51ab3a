"""The face lattice of the region complex: every face of every region, each once.

A face of a region is its intersection with some of its facet hyperplanes.
The same face seen from two regions is recognised by its ternary sign vector
(each unit's kink form ``+``, ``-`` or ``0`` at a relative interior point, see
:meth:`ReLUNetwork.kink_maps`), which is constant on the relative interior of
a face of the complex.

Faces come from each region's vertices (qhull) and the vertex-facet
incidences, so regions must be bounded. Over an unbounded domain the regions
are cut by a box that holds every vertex of the complex (found exactly, by
solving each choice of ``n`` facet hyperplanes): then every face meets the
box, and the faces that lie in the box's boundary are the ones left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..catalogue import Catalogue
from ..errors import ShallowReLUError
from ..limits import check_memory
from ..polytope import Polytope
from ..polytope.lp import bounding_box, solve_lp
from ..polytope.vertices import cut_vertices, vertex_bound, vertices_or_empty
from ..tolerances import (DEFAULT_TOLERANCES, FACE_RANK_TOL, FACE_TOL, GATE_MARGIN, GATE_MOVED, RANK_REL, SINGULAR_DET,
                          Tolerances)


# Regions that may have more vertices than this (McMullen's bound) get no qhull: their cell box comes from
# LPs and their vertices are sampled for probes. 5,000 keeps qhull for every region up to 5-D seen so far.
QHULL_VERTICES = 5_000


class TooManyFaces(Exception):
    """One region has more faces than the count was allowed to reach."""


class FaceLatticeError(ShallowReLUError, RuntimeError):
    """The face lattice could not be built (a degenerate region qhull cannot handle)."""


@dataclass(frozen=True)
class FaceLattice:
    """Faces of the complex that do not lie in the domain's boundary.

    Attributes
    ----------
    dim : ndarray of int, shape (F,)
        Dimension of each face (``cat.dim`` for the regions themselves).
    region : ndarray of int, shape (F,)
        One region that has the face.
    tight_ptr, tight : ndarray of int
        ``tight[tight_ptr[f]:tight_ptr[f+1]]`` are the rows of that region's
        facet table (offsets into ``cat.table.facet_*``) whose hyperplanes
        hold the face.
    point : ndarray, shape (F, n)
        A relative interior point (``t`` coordinates).
    extra_ptr, extra : ndarray
        ``extra[extra_ptr[f]:extra_ptr[f+1]]`` are rows ``[a | c]`` meaning
        ``a . t + c <= 0`` that face ``f`` needs besides its region's facets
        (see :func:`_pieces`).
    maps : dict
        Face index to ``(A, d)`` (``t`` coordinates) for the faces of a
        sliver merged into a region, where the network is another affine
        map than the region's.
    parent : ndarray of int, shape (F,)
        The cell (full-dimensional face) each face was found in; a cell is
        its own parent. Every constraint of the parent is one of the face's.
    box : ndarray, shape (C, 2, n)
        For the cells in face order, a box (``t`` coordinates, lower then
        upper corner) holding the cell grown by ``tol.boundary``: where its
        gate can open. ``-inf``/``inf`` where the cell is unbounded.
    """

    dim: np.ndarray
    region: np.ndarray
    tight_ptr: np.ndarray
    tight: np.ndarray
    point: np.ndarray
    extra_ptr: np.ndarray
    extra: np.ndarray
    maps: dict
    parent: np.ndarray
    box: np.ndarray

    def __len__(self) -> int:
        return self.dim.shape[0]

    def tight_rows(self, f: int) -> np.ndarray:
        """Facet-table rows that hold face ``f`` with equality."""
        return self.tight[self.tight_ptr[f]:self.tight_ptr[f + 1]]

    def extra_rows(self, f: int) -> np.ndarray:
        """Rows ``[a | c]`` (``a . t + c <= 0``) that face ``f`` adds to its region's facets."""
        return self.extra[self.extra_ptr[f]:self.extra_ptr[f + 1]]

    def counts(self) -> dict[int, int]:
        """Number of faces of each dimension."""
        d, c = np.unique(self.dim, return_counts=True)
        return {int(k): int(v) for k, v in zip(d, c)}


def _row_space(W: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the row space of ``W``: the complement of the lineality space."""
    _, sing, Vt = np.linalg.svd(W)
    rank = int(np.sum(sing > RANK_REL * max(sing.max(initial=0.0), 1.0)))
    return Vt[:rank].T


def _minimal_face_points(G: np.ndarray, g: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Points where ``r`` facet hyperplanes meet inside the polyhedron, in the span of ``basis``.

    ``basis`` (n x r) spans the space orthogonal to the lineality space; the
    points returned lie on every minimal face (vertex, or flat) of the region.
    """
    k, r = G.shape[0], basis.shape[1]
    if k < r or r == 0:
        return np.zeros((0, G.shape[1]))
    Gs = G @ basis
    combos = np.array(list(combinations(range(k), r)))
    A = Gs[combos]                       # (C, r, r)
    det = np.linalg.det(A)
    ok = np.abs(det) > SINGULAR_DET
    if not ok.any():
        return np.zeros((0, G.shape[1]))
    s = np.linalg.solve(A[ok], -g[combos[ok]][..., None])[..., 0]
    X = s @ basis.T
    feasible = np.all(X @ G.T + g <= GATE_MARGIN * (1 + np.abs(X).max(axis=1, keepdims=True)), axis=1)
    return X[feasible]


def _cutting_box(cat: Catalogue, net) -> tuple[np.ndarray, np.ndarray]:
    """A box, as rows ``G t + g <= 0``, holding every minimal face point, facet point and centre."""
    t = cat.table
    n = cat.dim
    basis = _row_space(net.layers[0][0])
    pts = [t.interior, t.facet_point]
    for i in range(len(cat)):
        sl = cat.facet_rows(i)
        pts.append(_minimal_face_points(t.facet_G[sl], t.facet_g[sl], basis))
    P = np.vstack(pts)
    radius = 2.0 * float(np.abs(P).max(initial=0.0)) + 1.0
    eye = np.eye(n)
    return np.vstack([eye, -eye]), np.full(2 * n, -radius)


def region_faces(V: np.ndarray, G: np.ndarray, g: np.ndarray,
                  cap: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Faces of one bounded polytope as boolean rows: vertex sets ``(F, V)`` and tight rows ``(F, rows)``.

    The polytope itself comes first (no tight row); every other face is an
    intersection of facet vertex sets, found by closing them under ``&``.
    Vertex sets are bit strings (``uint64`` words), so a set is one value.
    Each step's arrays are sized against the memory budget first; with
    ``cap``, :class:`TooManyFaces` is raised once more faces than that are found.
    """
    scale = FACE_TOL * (1.0 + np.abs(V).max())
    inc = np.abs(V @ G.T + g) <= scale                       # (vertices, rows)
    words = -(-V.shape[0] // 64)

    def pack(M: np.ndarray) -> np.ndarray:
        """Each row of a bool matrix as one hashable block of 64-bit words."""
        bits = np.packbits(M, axis=1, bitorder="little")
        bits = np.pad(bits, ((0, 0), (0, 8 * words - bits.shape[1])))
        return np.ascontiguousarray(bits).view(np.uint64).view(np.dtype((np.void, 8 * words))).ravel()

    def unpack(K: np.ndarray) -> np.ndarray:
        """The bool rows that :func:`pack` packed."""
        bits = np.frombuffer(K.tobytes(), dtype=np.uint8).reshape(len(K), 8 * words)
        return np.unpackbits(bits, axis=1, bitorder="little")[:, :V.shape[0]].astype(bool)

    rows = inc.T[inc.any(axis=0)]
    row_keys = np.unique(pack(rows))
    row_words = np.frombuffer(row_keys.tobytes(), dtype=np.uint64).reshape(len(row_keys), words)
    found = [pack(np.ones((1, V.shape[0]), dtype=bool))]
    frontier, seen = row_words, found[0]
    while frontier.shape[0]:
        keys = np.frombuffer(frontier.tobytes(), dtype=found[0].dtype)
        keys = keys[~np.isin(keys, seen)]
        found.append(keys)
        seen = np.concatenate([seen, keys])
        if cap is not None and len(seen) > cap:
            raise TooManyFaces
        check_memory(3 * 8 * words * len(keys) * len(row_words), "the face lattice (one region's faces)")
        fresh = np.frombuffer(keys.tobytes(), dtype=np.uint64).reshape(len(keys), words)
        meet = (fresh[:, None, :] & row_words[None, :, :]).reshape(-1, words)
        meet = meet[meet.any(axis=1)]
        frontier = np.frombuffer(np.unique(np.frombuffer(meet.tobytes(), dtype=found[0].dtype)).tobytes(),
                                 dtype=np.uint64).reshape(-1, words)
    check_memory(5 * sum(map(len, found)) * V.shape[0], "the face lattice (one region's faces)")
    S = unpack(np.concatenate(found))
    # a row is tight on a face when every vertex of the face is on it
    T = (S.astype(np.int32) @ (~inc).astype(np.int32)) == 0
    T[0] = False
    return S, T


def _everywhere(n: int) -> np.ndarray:
    """The box of all of space, ``(2, n)``."""
    return np.array([np.full(n, -np.inf), np.full(n, np.inf)])


def grown_box(G: np.ndarray, g: np.ndarray, inner: np.ndarray, eps: float, fixed: np.ndarray) -> np.ndarray:
    """A box ``(2, n)`` around ``{t : G t + g <= eps}`` where a gate of the polytope can open.

    Rows where ``fixed`` holds are a cutting box (rows ``G t + g <= 0``
    holding every vertex of the polytope); they are not grown. A side that
    moves when the cutting box is doubled is unbounded and becomes infinite.
    Where qhull fails the box is all of space, which is only slower, never wrong.
    A polytope that may have more than :data:`QHULL_VERTICES` vertices gets
    its box from ``2 n`` LPs instead (the cutting box left out: an LP sees
    an unbounded side directly).
    """
    n = G.shape[1]
    grown = g - np.where(fixed, 0.0, eps)
    if vertex_bound(G.shape[0], n) > QHULL_VERTICES:
        lo, hi = bounding_box(Polytope(G[~fixed], -grown[~fixed]))
        ends = np.concatenate([lo, hi])
        margin = GATE_MARGIN * (1.0 + np.abs(ends[np.isfinite(ends)]).max(initial=0.0))
        return np.array([lo - margin, hi + margin])
    V = vertices_or_empty(G, grown, inner)
    if V.shape[0] == 0:
        return _everywhere(n)
    lo, hi = V.min(axis=0), V.max(axis=0)
    if fixed.any():
        V2 = vertices_or_empty(G, np.where(fixed, 2.0 * grown, grown), inner)
        if V2.shape[0] == 0:
            return _everywhere(n)
        moved = GATE_MOVED * (1.0 + np.abs(g[fixed]).max())
        lo = np.where(V2.min(axis=0) < lo - moved, -np.inf, lo)
        hi = np.where(V2.max(axis=0) > hi + moved, np.inf, hi)
    margin = GATE_MARGIN * (1.0 + np.abs(V).max())
    return np.array([lo - margin, hi + margin])


def region_rows(cat: Catalogue, which: list[int] | None = None):
    """Per region (all, or those in ``which``) ``(i, facet rows slice, G, g)``: its facets, then over an
    unbounded domain the cutting box (:func:`_cutting_box`), as rows ``G t + g <= 0``."""
    t, n = cat.table, cat.dim
    bounded = bool(cat.info.get("bounded", True))
    box_G, box_g = (np.zeros((0, n)), np.zeros(0)) if bounded else _cutting_box(cat, cat.work_network)
    for i in range(len(cat)) if which is None else which:
        sl = cat.facet_rows(i)
        yield i, sl, np.vstack([t.facet_G[sl], box_G]), np.concatenate([t.facet_g[sl], box_g])


def cell_boxes(cat: Catalogue, tol: Tolerances = DEFAULT_TOLERANCES) -> np.ndarray:
    """:func:`grown_box` of every region (``t`` coordinates), shape ``(R, 2, n)``: the ``cells`` gates."""
    out = np.empty((len(cat), 2, cat.dim))
    for i, sl, G, g in region_rows(cat):
        fixed = np.arange(G.shape[0]) >= sl.stop - sl.start
        out[i] = grown_box(G, g, cat.table.interior[i], tol.boundary, fixed) if G.shape[0] else _everywhere(cat.dim)
    return out


def face_lattice(cat: Catalogue, tol: Tolerances = DEFAULT_TOLERANCES,
                 progress: Callable[[int], None] | None = None) -> FaceLattice:
    """Every face of the region complex that is not in the domain's boundary, each once.

    Parameters
    ----------
    cat : Catalogue
        A complete catalogue.
    tol : Tolerances
        ``tol.boundary`` grows the cells' boxes (:attr:`FaceLattice.box`).
    progress : callable, optional
        Called with the number of regions done, every few hundred regions.

    Returns
    -------
    FaceLattice

    Raises
    ------
    FaceLatticeError
        If qhull cannot compute a region's vertices.
    """
    net = cat.work_network
    t = cat.table
    n = cat.dim
    patterns = cat.patterns()
    keys: set[bytes] = set()
    # per piece: its new faces' region, parent, tight rows, points, extra rows (arrays, not one per face)
    regions, parents, points, boxes, maps = [], [], [], [], {}
    tight_n, tight_rows, rank_n, rank_rows, extra_n, extra_rows = [], [], [], [], [], []
    F = 0
    for i, sl, G, g in region_rows(cat):
        if progress is not None and i % 256 == 0:
            progress(i)
        nf, k0 = sl.stop - sl.start, G.shape[0]
        Mz, vz = net.kink_maps(patterns[i])
        if G.shape[0] == 0:  # the whole space is one region
            pieces = [(t.interior[i:i + 1], G, g, None)]
        else:
            V = vertices_or_empty(G, g, t.interior[i])
            if V.shape[0] == 0:
                raise FaceLatticeError(f"region {i}: qhull could not compute its vertices")
            pieces = _pieces(cat, i, patterns[i], V, G, g, Mz, vz)
        # Faces in the domain's (or the cutting box's) boundary are left out.
        outer = np.zeros(k0, dtype=bool)
        outer[nf:] = True
        outer[:nf] = t.facet_layer[sl] == 0
        for V, Gp, gp, own in pieces:
            if Gp.shape[0]:
                S, T = region_faces(V, Gp, gp)
                keep = ~(T[:, :k0] & outer).any(axis=1)
                S, T = S[keep], T[keep]
                X = (S @ V) / S.sum(axis=1, keepdims=True)
                rows_at = np.arange(Gp.shape[0])
                fixed = (rows_at >= nf) & (rows_at < k0)   # the cutting box is not part of any gate
                boxes.append(grown_box(Gp, gp, V.mean(axis=0), tol.boundary, fixed))
            else:
                T, X = np.zeros((1, 0), dtype=bool), V
                boxes.append(_everywhere(n))
            Z = X @ Mz.T + vz
            near = FACE_TOL * np.linalg.norm(Mz, axis=1) * (1 + np.abs(X).max(axis=1, keepdims=True))
            pos, neg = Z > near, Z < -near
            # A face of the complex is known by its ternary sign vector; every cell is its own face
            # (a piece can carry another region's signs).
            new = np.zeros(len(X), dtype=bool)
            new[0] = True
            for f in range(1, len(X)):
                key = np.packbits(pos[f]).tobytes() + np.packbits(neg[f]).tobytes()
                if key not in keys:
                    keys.add(key)
                    new[f] = True
            T, X = T[new], X[new]
            if own is not None:
                maps.update({f: own for f in range(F, F + len(X))})
            regions.append(np.full(len(X), i))
            parents.append(np.full(len(X), F))
            points.append(X)
            face, row = np.nonzero(T)
            rank_n.append(T.sum(axis=1))
            rank_rows.append(Gp[row])
            facet = row < k0
            tight_n.append(np.bincount(face[facet], minlength=len(X)))
            tight_rows.append(row[facet] + sl.start)
            cuts = np.arange(k0, Gp.shape[0])
            if cuts.size:  # a face needs the cuts of its piece, and the reversed ones it lies on
                cut_rows = np.hstack([Gp[cuts], gp[cuts, None]])
                per_face = [np.vstack([cut_rows, -cut_rows[np.isin(cuts, np.flatnonzero(m))]]) for m in T]
                extra_n.append(np.array([len(e) for e in per_face]))
                extra_rows.append(np.vstack(per_face))
            else:
                extra_n.append(np.zeros(len(X), dtype=np.int64))
            F += len(X)
    if progress is not None:
        progress(len(cat))

    def ptr(counts: list) -> np.ndarray:
        """Offsets of ragged parts from their counts."""
        return np.concatenate([[0], np.cumsum(np.concatenate(counts) if counts else [])]).astype(np.int64)

    def stack(parts: list, shape: tuple, dtype=np.float64) -> np.ndarray:
        """Ragged parts as one array (empty with the right shape when there are none)."""
        return np.concatenate(parts).astype(dtype).reshape(shape) if parts else np.zeros((0,) + shape[1:], dtype)

    return FaceLattice(dim=_face_dims(stack(rank_rows, (-1, n)), ptr(rank_n), n),
                       region=stack(regions, (-1,), np.int64), tight_ptr=ptr(tight_n),
                       tight=stack(tight_rows, (-1,), np.int64), point=stack(points, (-1, n)),
                       extra_ptr=ptr(extra_n), extra=stack(extra_rows, (-1, n + 1)), maps=maps,
                       parent=stack(parents, (-1,), np.int64), box=np.array(boxes).reshape(-1, 2, n))


def _face_dims(rows: np.ndarray, rows_ptr: np.ndarray, n: int) -> np.ndarray:
    """Dimension of each face: ``n`` minus the rank of its tight rows (its affine hull), ranks in batches."""
    sizes = np.diff(rows_ptr)
    dims = np.full(sizes.size, n, dtype=np.int64)
    for k in np.unique(sizes[sizes > 0]):
        faces = np.flatnonzero(sizes == k)
        idx = rows_ptr[faces][:, None] + np.arange(k)
        dims[faces] = n - np.linalg.matrix_rank(rows[idx], tol=FACE_RANK_TOL)
    return dims


def _pieces(cat: Catalogue, i: int, pattern: np.ndarray, V: np.ndarray, G: np.ndarray, g: np.ndarray,
            Mz: np.ndarray, vz: np.ndarray) -> list:
    """Region ``i`` cut by every kink hyperplane through its interior, as ``(V, G, g)`` pieces.

    A unit's kink form has one sign on a region, except across a sliver
    of depth below ``min_radius`` that the search left inside it (by design,
    docs/design.md section 4) or that a facet too short to detect pokes into a
    neighbour. The neighbours are split by that hyperplane, so without a
    cut the complex would not be face-to-face there. A piece that lies in
    another catalogued region is dropped (the poke); a merged sliver stays,
    with the network's own map there (the fourth item; None for the
    region's map). A piece gets each cut as an extra row; its vertices are
    the old ones on its side and where edges cross the cut.
    """
    scale = 1.0 + np.abs(V).max()
    eps = FACE_TOL * scale
    norms = np.linalg.norm(Mz, axis=1)
    Z = V @ Mz.T + vz
    thr = FACE_TOL * np.where(norms > 0, norms, 1.0) * scale
    cutting = np.flatnonzero(np.any(Z > thr, axis=0) & np.any(Z < -thr, axis=0))
    if cutting.size == 0:  # the usual case: the region is one piece with its own map
        return [(V, G, g, None)]
    pieces = [(V, G, g)]
    for j in cutting:
        a, c = Mz[j] / norms[j], vz[j] / norms[j]
        split = []
        for Vp, Gp, gp in pieces:
            s = Vp @ a + c
            if not (np.any(s > eps) and np.any(s < -eps)):
                split.append((Vp, Gp, gp))
                continue
            # the piece where side * (a . t + c) <= 0, on the lattice's own tolerance
            for side, Vn in zip((1.0, -1.0), cut_vertices(Vp, Gp, gp, s, eps)):
                owner = cat.locate_t(Vn.mean(axis=0, keepdims=True))[0] if len(Vn) else i
                if owner in (i, -1):
                    split.append((Vn, np.vstack([Gp, side * a]), np.append(gp, side * c)))
        pieces = split
    net = cat.work_network
    out = []
    for Vp, Gp, gp in pieces:
        here = net.patterns(Vp.mean(axis=0, keepdims=True))[0]
        out.append((Vp, Gp, gp, None if np.array_equal(here, pattern) else net.affine_map(here)))
    return out


def complex_vertices(cat: Catalogue) -> np.ndarray:
    """Every vertex of the region complex (``t`` coordinates), each once.

    Over an unbounded domain whose regions have a lineality space these are
    points of the minimal faces instead (one per minimal face and region). A
    region that may have more than :data:`QHULL_VERTICES` vertices gives
    two of them instead, the optima of LPs in directions drawn from a
    generator seeded by the region's index.
    """
    t = cat.table
    out = []
    if cat.info.get("bounded", True):
        for i in range(len(cat)):
            sl = cat.facet_rows(i)
            G, g = t.facet_G[sl], t.facet_g[sl]
            if vertex_bound(len(g), cat.dim) > QHULL_VERTICES:
                costs = np.random.default_rng(i).standard_normal((2, cat.dim))
                V = np.array([solve_lp(c, G, -g).x for c in costs])
                out.append(V[np.all(np.isfinite(V), axis=1)])
            else:
                out.append(vertices_or_empty(G, g, t.interior[i]))
    else:
        basis = _row_space(cat.work_network.layers[0][0])
        for i in range(len(cat)):
            sl = cat.facet_rows(i)
            out.append(_minimal_face_points(t.facet_G[sl], t.facet_g[sl], basis))
    V = np.vstack(out) if out else np.zeros((0, cat.dim))
    if V.shape[0] == 0:
        return V
    _, first = np.unique(np.round(V, 9), axis=0, return_index=True)
    return V[np.sort(first)]
