"""From a complete catalogue to the equivalent three-layer network (DESIGN.md section 2).

Layer 1 (finite): ``relu(x)``, ``relu(-x)`` and, for each distinct facet
hyperplane ``h`` a gate uses, ``relu(h - eps)`` and/or ``relu(-h - eps)``.
Layer 2 (extended reals): per gate ``G`` and output ``j`` the pair
``relu(+-(A_G x + d_G)_j - inf * sum_k u_k)`` over the layer-1 neurons ``u_k``
that are positive exactly where ``G`` is violated. Layer 3 (finite):
``y_j = sum_G c_G (p_Gj - q_Gj)``. See DESIGN.md section 2.

Owns the two constructions (``faces``: exact everywhere; ``cells``: the
paper's) and the sharing of layer-1 hyperplane neurons between gates. The
face lattice comes from :mod:`.faces`, the network's data type from
:mod:`.shallow`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..catalogue import Catalogue
from ..choices import SHALLOW_MODES
from ..errors import ShallowReLUError
from ..tolerances import DEFAULT_TOLERANCES, Tolerances
from .faces import face_lattice
from .shallow import ShallowNetwork

MODES = SHALLOW_MODES


class _Hyperplanes:
    """Layer-1 neurons: each distinct hyperplane (up to positive scaling) once per orientation."""

    def __init__(self, n: int, eps: float) -> None:
        self.n, self.eps = n, eps
        self.rows: list[np.ndarray] = []
        self.bias: list[float] = []
        self._index: dict[tuple, int] = {}

    def neuron(self, a: np.ndarray, c: float) -> int:
        """Index (among hyperplane neurons) of ``relu(a . x + c - eps)`` for a unit normal ``a``."""
        key = tuple(np.round(np.append(a, c), 9) + 0.0)
        if key not in self._index:
            self._index[key] = len(self.rows)
            self.rows.append(a)
            self.bias.append(c - self.eps)
        return self._index[key]


def build_shallow(cat: Catalogue, mode: str = "faces", tol: Tolerances = DEFAULT_TOLERANCES) -> ShallowNetwork:
    """Build the three-layer extended-real network equivalent to the catalogue's network.

    Parameters
    ----------
    cat : Catalogue
        A complete catalogue.
    mode : {"faces", "cells"}
        ``"faces"``: one gate per face of the region complex not in the
        domain's boundary, coefficient ``(-1)^(n - dim F)``; equal to the deep
        network at every point of the domain. ``"cells"``: one gate per
        region (the paper's); equal on region interiors, and on a shared
        boundary the sum over the regions that hold the point.
    tol : Tolerances
        ``tol.boundary`` is how far outside its closed polytope a gate still
        opens, so that rounding never shuts both sides of a boundary.

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
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if cat.info.get("interrupted"):
        raise ShallowReLUError("the catalogue is incomplete (its enumeration was interrupted)")
    t, hull = cat.table, cat.hull
    n_x, m, n = cat.network.n_inputs, cat.network.n_outputs, cat.dim
    if mode == "faces":
        lattice = face_lattice(cat, tol)
        gates = [(int(r), lattice.tight_rows(f), int(dim), lattice.extra_rows(f))
                 for f, (r, dim) in enumerate(zip(lattice.region, lattice.dim))]
        maps = lattice.maps
    else:
        gates = [(i, np.zeros(0, dtype=np.int64), n, np.zeros((0, n + 1))) for i in range(len(cat))]
        maps = {}
    planes = _Hyperplanes(n_x, tol.boundary)
    Bt = hull.B.T

    def to_x(a_t: np.ndarray, c_t: float) -> tuple[np.ndarray, float]:
        a = a_t @ Bt
        return a, float(c_t - a @ hull.x0)

    # A flat domain's hull is an equality every gate enforces.
    hull_rows = []
    if hull.flat:
        _, _, Vt = np.linalg.svd(hull.B.T)
        for e in Vt[n:]:
            for s in (1.0, -1.0):
                hull_rows.append(planes.neuron(s * e, float(-s * e @ hull.x0)))
    gate_neurons = []
    for r, tight, _, extra in gates:
        sl = cat.facet_rows(r)
        used = list(hull_rows)
        for k in range(sl.start, sl.stop):
            a, c = to_x(t.facet_G[k], t.facet_g[k])
            used.append(planes.neuron(a, c))
        for k in tight:
            a, c = to_x(t.facet_G[k], t.facet_g[k])
            used.append(planes.neuron(-a, -c))
        for row in extra:  # cuts through a sliver merged into the region
            used.append(planes.neuron(*to_x(row[:n], row[n])))
        gate_neurons.append(sorted(set(used)))
    H = len(planes.rows)
    W1 = np.vstack([np.eye(n_x), -np.eye(n_x)] + ([np.array(planes.rows)] if H else []))
    b1 = np.concatenate([np.zeros(2 * n_x), np.array(planes.bias)])
    rows, cols, vals, b2 = [], [], [], []
    W3r, W3c, W3v = [], [], []
    for f, ((r, _, dim, _), used) in enumerate(zip(gates, gate_neurons)):
        coeff = (-1) ** (n - dim)
        A_t, d_t = maps.get(f, (t.A[r], t.d[r]))
        A = A_t @ Bt
        d = d_t - A @ hull.x0
        for j in range(m):
            for s in (1.0, -1.0):
                row = len(b2)
                rows += [row] * (2 * n_x + len(used))
                cols += list(range(2 * n_x)) + [2 * n_x + u for u in used]
                vals += list(s * A[j]) + list(-s * A[j]) + [-np.inf] * len(used)
                b2.append(s * d[j])
                W3r.append(j)
                W3c.append(row)
                W3v.append(coeff * s)
    L2 = len(b2)
    W2 = sp.csr_matrix((np.array(vals, dtype=np.float64), (rows, cols)), shape=(L2, W1.shape[0]))
    W2.eliminate_zeros()  # zero pass-through weights need no entry; -inf entries are kept
    W3 = sp.csr_matrix((np.array(W3v, dtype=np.float64), (W3r, W3c)), shape=(m, L2))
    info = {"network_fingerprint": cat.network.fingerprint(), "regions": len(cat), "gates": len(gates),
            "hyperplanes": H, "boundary_eps": tol.boundary, "dimension": n,
            "bounded": bool(cat.info.get("bounded", False))}
    if mode == "faces":
        info["faces_by_dim"] = {str(k): v for k, v in lattice.counts().items()}
    table = np.array([(r, dim, (-1) ** (n - dim)) for r, _, dim, _ in gates], dtype=np.int64).reshape(-1, 3)
    return ShallowNetwork(W1, b1, W2, np.array(b2), W3, np.zeros(m), mode, table, info)

