"""From a complete catalogue to the equivalent three-layer network (docs/design.md section 2).

Layer 1 (finite): ``relu(x)``, ``relu(-x)`` and, for each distinct facet
hyperplane ``h`` a gate uses, ``relu(h - eps)`` and/or ``relu(-h - eps)``.
Layer 2 (extended reals): per gate ``G`` and output ``j`` the pair
``relu(+-(A_G x + d_G)_j - inf * sum_k u_k)`` over the layer-1 neurons ``u_k``
that are positive exactly where ``G`` is violated. Layer 3 (finite):
``y_j = sum_G c_G (p_Gj - q_Gj)``. See docs/design.md section 2.

Owns the two constructions (``faces``: exact everywhere; ``cells``: the
paper's) and the sharing of layer-1 hyperplane neurons between gates. The
face lattice comes from :mod:`.faces`, the network's data type from
:mod:`.shallow`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..catalogue import Catalogue
from ..choices import SHALLOW_MODES
from ..errors import ShallowReLUError
from ..tolerances import DEFAULT_TOLERANCES, GATE_MARGIN, Tolerances
from .estimate import choose_mode
from .faces import cell_boxes, face_lattice
from .index import ragged
from .shallow import ShallowNetwork

MODES = SHALLOW_MODES


# Uses of candidate rows handled at once when gates are given their neurons: bounds the scratch memory.
_BLOCK_USES = 1 << 22


def _hyperplane_neurons(rows: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                        n_gates: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layer-1 hyperplane neurons: each distinct row ``[a | c]`` once, in order of first use.

    Rows are told apart bit for bit: the search computes a facet shared by
    two regions once, so its rows are equal, and rounding them would merge
    the two facets of a sliver.

    Parameters
    ----------
    rows : ndarray, shape (K, n + 1)
        Candidate rows ``a . x + c`` with unit normals ``a``.
    parts : list of (starts, counts, candidates)
        A gate uses ``candidates[starts[g]:starts[g] + counts[g]]`` of each
        part, in the parts' order; gates are taken in blocks of
        ``_BLOCK_USES`` uses.

    Returns
    -------
    neuron_rows : ndarray, shape (H, n + 1)
        The first row of each distinct hyperplane.
    guard_ptr, guard : ndarray of int
        Per gate, its neurons (sorted, each once), as a ragged array.
    """
    _, canon = np.unique(rows + 0.0, axis=0, return_inverse=True)
    canon = canon.ravel()
    number = np.full(canon.max(initial=-1) + 1, -1, dtype=np.int64)
    neuron_rows, guards, guard_counts = [], [], []
    uses_per_gate = np.sum([counts for _, counts, _ in parts], axis=0)
    ends = np.searchsorted(np.cumsum(uses_per_gate), np.arange(1, uses_per_gate.sum() // _BLOCK_USES + 2)
                           * _BLOCK_USES, side="right")
    g0, assigned = 0, 0
    for g1 in np.unique(np.append(np.minimum(ends, n_gates), n_gates)):
        if g1 <= g0:
            continue
        owners, used = [], []
        for starts, counts, candidates in parts:
            idx, owner = ragged(starts[g0:g1], counts[g0:g1])
            owners.append(owner)
            used.append(candidates[idx])
        order = np.argsort(np.concatenate(owners), kind="stable")   # gate by gate, parts in order
        owner, used = np.concatenate(owners)[order], np.concatenate(used)[order]
        seq = canon[used]
        fresh = np.flatnonzero(number[seq] < 0)
        ids, first = np.unique(seq[fresh], return_index=True)
        by_use = np.argsort(first)
        number[ids[by_use]] = assigned + np.arange(ids.size)
        assigned += ids.size
        neuron_rows.append(rows[used[fresh[first[by_use]]]])
        pairs = np.unique(owner * len(number) + number[seq])
        gate, neuron = np.divmod(pairs, len(number))
        guards.append(neuron)
        guard_counts.append(np.bincount(gate, minlength=g1 - g0))
        g0 = g1
    guard_ptr = np.concatenate([[0], np.cumsum(np.concatenate(guard_counts) if guard_counts else [])])
    return (np.vstack(neuron_rows) if neuron_rows else np.zeros((0, rows.shape[1])), guard_ptr.astype(np.int64),
            np.concatenate(guards) if guards else np.zeros(0, dtype=np.int64))


def build_shallow(cat: Catalogue, mode: str = "auto", tol: Tolerances = DEFAULT_TOLERANCES,
                  progress: Callable[[int], None] | None = None) -> ShallowNetwork:
    """Build the three-layer extended-real network equivalent to the catalogue's network.

    Parameters
    ----------
    cat : Catalogue
        A complete catalogue.
    mode : {"auto", "faces", "cells"}
        ``"faces"``: one gate per face of the region complex not in the
        domain's boundary, coefficient ``(-1)^(n - dim F)``; equal to the deep
        network at every point of the domain. ``"cells"``: one gate per
        region (the paper's); equal on region interiors, and on a shared
        boundary the sum over the regions that hold the point. ``"auto"``
        (the default): ``faces`` where the face lattice's estimate fits the
        time and memory budget, else ``cells`` (:func:`choose_mode`).
    tol : Tolerances
        ``tol.boundary`` is how far outside its closed polytope a gate still
        opens, so that rounding never shuts both sides of a boundary.
    progress : callable, optional
        Called with the number of regions done (the face lattice is the long part).

    Returns
    -------
    ShallowNetwork
        Zero outside a bounded domain.

    Examples
    --------
    >>> import numpy as np, shallowrelu as sr
    >>> net = sr.ReLUNetwork([(np.array([[1.0], [-1.0]]), np.zeros(2)), (np.array([[1.0, -1.0]]), np.zeros(1))])
    >>> shallow = sr.build_shallow(sr.enumerate_regions(net))
    >>> shallow(np.array([[-2.0], [0.0], [3.0]])).ravel().tolist()
    [-2.0, 0.0, 3.0]
    """
    if cat.info.get("interrupted"):
        raise ShallowReLUError("the catalogue is incomplete (its enumeration was interrupted)")
    mode = choose_mode(cat, mode)[0]
    t, hull = cat.table, cat.hull
    n_x, m, n, R = cat.network.n_inputs, cat.network.n_outputs, cat.dim, len(cat)
    if mode == "faces":
        lattice = face_lattice(cat, tol, progress)
        region, dim, parent = lattice.region, lattice.dim, lattice.parent
        tight_ptr, tight, extra_ptr, extra = lattice.tight_ptr, lattice.tight, lattice.extra_ptr, lattice.extra
        box_t, sliver_maps = lattice.box, lattice.maps
    else:
        region, dim, parent = np.arange(R), np.full(R, n), np.arange(R)
        tight_ptr, tight, extra_ptr, extra = np.zeros(R + 1, np.int64), np.zeros(0, np.int64), \
            np.zeros(R + 1, np.int64), np.zeros((0, n + 1))
        box_t, sliver_maps = cell_boxes(cat, tol), {}
    G = region.size
    Bt = hull.B.T

    def to_x(rows_t: np.ndarray) -> np.ndarray:
        """Rows ``[a | c]`` in ``t`` coordinates as rows in ``x`` coordinates."""
        a = rows_t[:, :n] @ Bt
        return np.hstack([a, (rows_t[:, n] - a @ hull.x0)[:, None]])

    # A flat domain's hull is an equality every gate enforces.
    hull_rows = np.zeros((0, n_x + 1))
    if hull.flat:
        hull_rows = np.vstack([np.append(s * e, -s * e @ hull.x0) for e in hull.normals for s in (1.0, -1.0)])
    facets = to_x(np.hstack([t.facet_G, t.facet_g[:, None]]))
    candidates = np.vstack([hull_rows, facets, -facets, to_x(extra)])
    H0, F = hull_rows.shape[0], facets.shape[0]
    # per gate: the hull, its region's facets, its tight facets reversed, its extra rows
    parts = [(np.zeros(G, np.int64), np.full(G, H0), np.arange(H0)),
             (t.facet_ptr[region], np.diff(t.facet_ptr)[region], H0 + np.arange(F)),
             (tight_ptr[:-1], np.diff(tight_ptr), H0 + F + tight),
             (extra_ptr[:-1], np.diff(extra_ptr), H0 + 2 * F + np.arange(extra.shape[0]))]
    neuron_rows, guard_ptr, guard = _hyperplane_neurons(candidates, parts, G)
    H = neuron_rows.shape[0]
    W1 = np.vstack([np.eye(n_x), -np.eye(n_x), neuron_rows[:, :n_x]])
    b1 = np.concatenate([np.zeros(2 * n_x), neuron_rows[:, n_x] - tol.boundary])
    guard = guard + 2 * n_x
    # the affine maps: one per region, and one per face of a sliver merged into a region
    gate_map = region.copy()
    extra_maps = sorted(sliver_maps)
    gate_map[extra_maps] = R + np.arange(len(extra_maps))
    A_t = np.concatenate([t.A, np.array([sliver_maps[f][0] for f in extra_maps]).reshape(-1, m, n)])
    d_t = np.concatenate([t.d, np.array([sliver_maps[f][1] for f in extra_maps]).reshape(-1, m)])
    A = A_t @ Bt
    d = d_t - A @ hull.x0
    info = {"network_fingerprint": cat.network.fingerprint(), "regions": R, "gates": G,
            "hyperplanes": H, "boundary_eps": tol.boundary, "dimension": n,
            "bounded": bool(cat.info.get("bounded", False))}
    if mode == "faces":
        info["faces_by_dim"] = {str(k): v for k, v in lattice.counts().items()}
    table = np.column_stack([region, dim, (-1) ** (n - dim)]).astype(np.int64).reshape(-1, 3)
    return ShallowNetwork(W1, b1, A, d, gate_map, guard_ptr, guard, np.zeros(m), mode, table, parent,
                          _x_boxes(box_t, hull, tol.boundary), info)


def _x_boxes(box_t: np.ndarray, hull, eps: float) -> np.ndarray:
    """Boxes ``(C, 2, n)`` in ``t`` coordinates as boxes in ``x`` (interval arithmetic), grown by the
    slab of half-width ``eps`` around a flat domain's hull that its gates let through."""
    B = hull.B
    with np.errstate(invalid="ignore"):
        ends = np.stack([box_t[:, 0, None, :] * B, box_t[:, 1, None, :] * B])   # (2, C, n_x, n)
    ends = np.where(B == 0, 0.0, ends)
    lo = hull.x0 + ends.min(axis=0).sum(axis=2)
    hi = hull.x0 + ends.max(axis=0).sum(axis=2)
    slab = eps * np.abs(hull.normals).sum(axis=0)
    margin = GATE_MARGIN * (1.0 + np.maximum(np.abs(lo), np.abs(hi)))
    margin = np.where(np.isfinite(margin), margin, 0.0)
    return np.stack([lo - slab - margin, hi + slab + margin], axis=1)
