"""The face lattice of the region complex: every face of every region, each once.

A face of a region is its intersection with some of its facet hyperplanes.
The same face seen from two regions is recognised by its ternary sign vector
(each neuron ``+``, ``-`` or ``0`` at a relative interior point), which is
constant on the relative interior of a face of the complex.

Faces come from each region's vertices (qhull) and the vertex-facet
incidences, so regions must be bounded. Over an unbounded domain the regions
are cut by a box that holds every vertex of the complex (found exactly, by
solving each choice of ``n`` facet hyperplanes): then every face meets the
box, and the faces that lie in the box's boundary are the ones left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..catalogue import Catalogue
from ..errors import ShallowReLUError
from ..polytope.vertices import cut_vertices, vertices_or_empty
from ..tolerances import DEFAULT_TOLERANCES, Tolerances


# A vertex this close (relative) to a facet hyperplane lies on it, and a face
# point this close to a neuron's hyperplane has sign 0 there. Well above the
# rounding of qhull's vertices, and small enough that vertices a hair apart
# (slivers between nearly parallel hyperplanes) stay distinct faces.
FACE_TOL = 1e-11


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
    """

    dim: np.ndarray
    region: np.ndarray
    tight_ptr: np.ndarray
    tight: np.ndarray
    point: np.ndarray
    extra_ptr: np.ndarray
    extra: np.ndarray
    maps: dict

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
    rank = int(np.sum(sing > 1e-12 * max(sing.max(initial=0.0), 1.0)))
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
    ok = np.abs(det) > 1e-12
    if not ok.any():
        return np.zeros((0, G.shape[1]))
    s = np.linalg.solve(A[ok], -g[combos[ok]][..., None])[..., 0]
    X = s @ basis.T
    feasible = np.all(X @ G.T + g <= 1e-9 * (1 + np.abs(X).max(axis=1, keepdims=True)), axis=1)
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


def _region_faces(V: np.ndarray, G: np.ndarray, g: np.ndarray):
    """Faces of one bounded polytope: (vertex index array, tight row array) per face."""
    scale = FACE_TOL * (1.0 + np.abs(V).max())
    inc = np.abs(V @ G.T + g) <= scale                       # (vertices, rows)
    row_sets = [int(sum(1 << int(i) for i in np.flatnonzero(inc[:, k]))) for k in range(G.shape[0])]
    full = (1 << V.shape[0]) - 1
    seen = {full}
    frontier = {s for s in row_sets if s}
    seen |= frontier
    while frontier:
        nxt = set()
        for s in frontier:
            for r in row_sets:
                u = s & r
                if u and u not in seen:
                    nxt.add(u)
        seen |= nxt
        frontier = nxt
    faces = []
    for s in sorted(seen, reverse=True):
        verts = np.array([i for i in range(V.shape[0]) if s >> i & 1])
        tight = np.array([k for k, r in enumerate(row_sets) if s & r == s and s != full], dtype=np.int64)
        faces.append((verts, tight))
    return faces


def face_lattice(cat: Catalogue, tol: Tolerances = DEFAULT_TOLERANCES) -> FaceLattice:
    """Every face of the region complex that is not in the domain's boundary, each once.

    Parameters
    ----------
    cat : Catalogue
        A complete catalogue.
    tol : Tolerances

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
    bounded = bool(cat.info.get("bounded", True))
    box_G, box_g = (np.zeros((0, n)), np.zeros(0)) if bounded else _cutting_box(cat, net)
    patterns = cat.patterns()
    keys: dict[bytes, int] = {}
    dims, regions, tight_lists, points, extras, maps = [], [], [], [], [], {}
    for i in range(len(cat)):
        sl = cat.facet_rows(i)
        G = np.vstack([t.facet_G[sl], box_G])
        g = np.concatenate([t.facet_g[sl], box_g])
        nf, k0 = sl.stop - sl.start, G.shape[0]
        Mz, vz, _, _ = net.pattern_maps(patterns[i])
        if G.shape[0] == 0:  # the whole space is one region
            pieces = [(t.interior[i:i + 1], G, g, [(np.zeros(0, dtype=int), np.zeros(0, dtype=np.int64))], None)]
        else:
            V = vertices_or_empty(G, g, t.interior[i])
            if V.shape[0] == 0:
                raise FaceLatticeError(f"region {i}: qhull could not compute its vertices")
            pieces = [(Vp, Gp, gp, _region_faces(Vp, Gp, gp), own)
                      for Vp, Gp, gp, own in _pieces(cat, i, patterns[i], V, G, g, Mz, vz)]
        # Faces in the domain's (or the cutting box's) boundary are left out.
        outer = np.zeros(G.shape[0], dtype=bool)
        outer[nf:] = True
        outer[:nf] = t.facet_layer[sl] == 0
        for V, Gp, gp, faces, own in pieces:
            faces = [(verts, tight) for verts, tight in faces if not outer[tight[tight < k0]].any()]
            if not faces:
                continue
            X = np.array([V[verts].mean(axis=0) if verts.size else t.interior[i] for verts, _ in faces])
            Z = X @ Mz.T + vz
            near = FACE_TOL * np.linalg.norm(Mz, axis=1) * (1 + np.abs(X).max(axis=1, keepdims=True))
            signs = (np.sign(Z) * (np.abs(Z) > near)).astype(np.int8)
            cuts = np.arange(k0, Gp.shape[0])
            rows = np.hstack([Gp[cuts], gp[cuts, None]])
            for (_, tight), x, sign in zip(faces, X, signs):
                # Every cell is its own face (a piece can carry another region's signs).
                key = sign.tobytes() if tight.size else b"cell%d" % len(dims)
                if key in keys:
                    continue
                keys[key] = len(dims)
                if own is not None:
                    maps[len(dims)] = own
                # The affine hull of a face is the intersection of its tight hyperplanes.
                dims.append(n - (np.linalg.matrix_rank(Gp[tight], tol=1e-9) if tight.size else 0))
                regions.append(i)
                tight_lists.append(tight[tight < k0] + sl.start)
                extras.append(np.vstack([rows, -rows[np.isin(cuts, tight)]]) if cuts.size else rows)
                points.append(x)
    counts = [len(x) for x in tight_lists]
    n_extra = [len(x) for x in extras]
    return FaceLattice(dim=np.array(dims, dtype=np.int64), region=np.array(regions, dtype=np.int64),
                       tight_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                       tight=np.concatenate(tight_lists).astype(np.int64) if tight_lists else np.zeros(0, np.int64),
                       point=np.array(points).reshape(-1, n),
                       extra_ptr=np.concatenate([[0], np.cumsum(n_extra)]).astype(np.int64),
                       extra=np.vstack(extras) if extras else np.zeros((0, n + 1)), maps=maps)


def _pieces(cat: Catalogue, i: int, pattern: np.ndarray, V: np.ndarray, G: np.ndarray, g: np.ndarray,
            Mz: np.ndarray, vz: np.ndarray) -> list:
    """Region ``i`` cut by every neuron hyperplane through its interior, as ``(V, G, g)`` pieces.

    A neuron's pattern form has one sign on a region, except across a sliver
    of depth below ``min_radius`` that the search left inside it (by design,
    DESIGN.md section 4) or that a facet too short to detect pokes into a
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
                owner = cat._locate_t(Vn.mean(axis=0, keepdims=True))[0] if len(Vn) else i
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
    points of the minimal faces instead (one per minimal face and region).
    """
    t = cat.table
    out = []
    if cat.info.get("bounded", True):
        for i in range(len(cat)):
            sl = cat.facet_rows(i)
            out.append(vertices_or_empty(t.facet_G[sl], t.facet_g[sl], t.interior[i]))
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
