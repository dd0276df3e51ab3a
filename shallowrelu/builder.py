"""From the catalogue to the equivalent three-layer network with extended-real weights.

Layer 1 (finite): ``relu(x)``, ``relu(-x)`` and, for each distinct facet
hyperplane ``h`` a gate uses, ``relu(h - eps)`` and/or ``relu(-h - eps)``.
Layer 2 (extended reals): per gate ``G`` and output ``j`` the pair
``relu(+-(A_G x + d_G)_j - inf * sum_k u_k)`` over the layer-1 neurons ``u_k``
that are positive exactly where ``G`` is violated. Layer 3 (finite):
``y_j = sum_G c_G (p_Gj - q_Gj)``. See DESIGN.md section 2.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .catalogue import Catalogue
from .errors import ShallowReLUError
from .faces import face_lattice
from .io import atomic_savez, read_npz
from .network import ReLUNetwork
from .tolerances import DEFAULT_TOLERANCES, Tolerances

SHALLOW_FORMAT = "shallowrelu-shallow/1"
MODES = ("faces", "cells")


class ExtendedRealError(ShallowReLUError, ArithmeticError):
    """An evaluation would form ``inf - inf``, which the construction never should."""


class ShallowFormatError(ShallowReLUError, ValueError):
    """A shallow-network file that is missing, truncated or malformed."""


class ExtLinear:
    """A sparse weight matrix with entries in the extended reals, ready to apply many times.

    Rows with the same positions of ``+inf`` and ``-inf`` (a gate's ``2m``
    layer-2 neurons) are grouped, so the infinite part is decided once per
    group; the finite part is a dense product over the columns it uses.
    """

    def __init__(self, W: sp.spmatrix) -> None:
        W = sp.csr_matrix(W)
        self.W = W
        self.shape = W.shape
        w = W.data
        finite = W.copy()
        finite.data = np.where(np.isfinite(w), w, 0.0)
        finite.eliminate_zeros()
        self.cols = np.unique(finite.indices)
        self.dense = finite[:, self.cols].toarray()
        rows = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
        inf = ~np.isfinite(w)
        keys = {}
        group = np.empty(W.shape[0], dtype=np.int64)
        for r in range(W.shape[0]):
            lo, hi = W.indptr[r], W.indptr[r + 1]
            sel = inf[lo:hi]
            key = (W.indices[lo:hi][sel].tobytes(), np.sign(w[lo:hi][sel]).tobytes())
            group[r] = keys.setdefault(key, len(keys))
        first = np.zeros(len(keys), dtype=np.int64)
        first[group[::-1]] = np.arange(W.shape[0])[::-1]
        self.group = group
        sel = inf & np.isin(rows, first)
        grp_of_row = np.full(W.shape[0], -1)
        grp_of_row[first] = np.arange(len(keys))
        r_, c_, v_ = grp_of_row[rows[sel]], W.indices[sel], w[sel]
        shape = (len(keys), W.shape[1])
        self.plus_inf = sp.csr_matrix((np.ones(np.count_nonzero(v_ > 0)), (r_[v_ > 0], c_[v_ > 0])), shape=shape)
        self.minus_inf = sp.csr_matrix((np.ones(np.count_nonzero(v_ < 0)), (r_[v_ < 0], c_[v_ < 0])), shape=shape)

    def apply(self, b: np.ndarray, H: np.ndarray) -> np.ndarray:
        """``H @ W.T + b`` in extended-real arithmetic (DESIGN.md section 2).

        ``0 * (+-inf) = 0``; ``a * inf`` is ``+-inf`` by the sign of ``a != 0``;
        ``inf + finite = inf``.

        Raises
        ------
        ExtendedRealError
            Where a sum would meet both ``+inf`` and ``-inf``.
        """
        all_finite = bool(np.isfinite(H).all())
        Hc = H[:, self.cols] if self.cols.size < H.shape[1] else H
        out = (Hc if all_finite else np.where(np.isfinite(Hc), Hc, 0.0)) @ self.dense.T + b
        plus = minus = None
        if self.plus_inf.nnz or self.minus_inf.nnz:
            counts = {}
            for name, mask in (("pos", H > 0), ("neg", H < 0)):
                if mask.any():
                    m = mask.T.astype(np.float64)
                    counts[name] = [np.asarray(M @ m).T if M.nnz else None
                                    for M in (self.plus_inf, self.minus_inf)]
            # +inf * positive and -inf * negative give +inf; the mixed pairs give -inf.
            pos, neg = counts.get("pos", [None, None]), counts.get("neg", [None, None])
            plus = _any_positive(pos[0], neg[1])
            minus = _any_positive(pos[1], neg[0])
            plus = None if plus is None else plus[:, self.group]
            minus = None if minus is None else minus[:, self.group]
        if not all_finite:
            # Non-zero weight times infinite activation.
            w_pos, w_neg = self.W.copy(), self.W.copy()
            w_pos.data = (self.W.data > 0).astype(np.float64)
            w_neg.data = (self.W.data < 0).astype(np.float64)
            hp, hn = (H == np.inf).astype(np.float64), (H == -np.inf).astype(np.float64)
            more_plus = np.asarray((w_pos @ hp.T + w_neg @ hn.T).T) > 0
            more_minus = np.asarray((w_pos @ hn.T + w_neg @ hp.T).T) > 0
            plus = more_plus if plus is None else plus | more_plus
            minus = more_minus if minus is None else minus | more_minus
        if plus is None and minus is None:
            return out
        plus = np.zeros(out.shape, dtype=bool) if plus is None else plus
        minus = np.zeros(out.shape, dtype=bool) if minus is None else minus
        if np.any(plus & minus):
            k, j = np.argwhere(plus & minus)[0]
            raise ExtendedRealError(f"inf - inf in neuron {j} at point {k}")
        np.copyto(out, np.inf, where=plus)
        np.copyto(out, -np.inf, where=minus)
        return out


def _any_positive(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None and b is None:
        return None
    total = (0 if a is None else a) + (0 if b is None else b)
    return total > 0


def ext_affine(W: sp.spmatrix | np.ndarray, b: np.ndarray, H: np.ndarray) -> np.ndarray:
    """``H @ W.T + b`` in extended-real arithmetic; see :meth:`ExtLinear.apply`."""
    return ExtLinear(sp.csr_matrix(W)).apply(np.asarray(b, dtype=np.float64), np.atleast_2d(H))


@dataclass(frozen=True)
class ShallowNetwork:
    """A ReLU network with three weight layers; ``+-inf`` appear only in layer 2.

    Call it on points ``(k, n) -> (k, m)``. ``layers`` gives dense arrays;
    the weights are held sparse, as most of layer 2 is zero.

    Attributes
    ----------
    W1, b1, W2, b2, W3, b3
        ``W1`` dense finite; ``W2`` (may hold ``-inf``) and ``W3`` sparse.
    mode : str
        ``"faces"`` (exact everywhere) or ``"cells"`` (the paper's).
    gates : ndarray of int, shape (G, 3)
        Per gate: the catalogue region whose map it passes, the dimension of
        its face (the region's own dimension in cells mode), its coefficient
        ``c_G``. Gate ``i`` owns layer-2 neurons ``2 m i .. 2 m (i + 1) - 1``.
    info : dict
        Sizes, gate counts, the fingerprint of the deep network.
    """

    W1: np.ndarray
    b1: np.ndarray
    W2: sp.csr_matrix
    b2: np.ndarray
    W3: sp.csr_matrix
    b3: np.ndarray
    mode: str
    gates: np.ndarray
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_l2", ExtLinear(self.W2))
        object.__setattr__(self, "_l3", ExtLinear(self.W3))
        object.__setattr__(self, "_gated", _GatedEvaluator.of(self))

    @property
    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(W1, b1), (W2, b2), (W3, b3)]`` as dense numpy arrays."""
        return [(self.W1, self.b1), (self.W2.toarray(), self.b2), (self.W3.toarray(), self.b3)]

    @property
    def sizes(self) -> dict:
        """Neurons per layer and the number of infinite weights."""
        return {"inputs": self.W1.shape[1], "layer1": self.W1.shape[0], "layer2": self.W2.shape[0],
                "outputs": self.W3.shape[0], "inf_weights": int(np.count_nonzero(np.isinf(self.W2.data))),
                "nonzero_weights": int(np.count_nonzero(self.W1) + self.W2.nnz + self.W3.nnz)}

    def open_gates(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """The gates open at the point ``x`` (layer-2 pre-activations finite), each with the
        values ``(A_G x + d_G)_j`` it passes."""
        H1 = np.maximum(np.atleast_2d(x) @ self.W1.T + self.b1, 0.0)
        pre = self._l2.apply(self.b2, H1)[0].reshape(-1, self.W3.shape[0], 2)
        return {int(g): pre[g, :, 0] for g in np.flatnonzero(np.all(np.isfinite(pre), axis=(1, 2)))}

    def hidden(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Activations of the two hidden layers at the rows of ``X``."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != self.W1.shape[1]:
            raise ValueError(f"expected points with {self.W1.shape[1]} coordinates, got {X.shape[1]}")
        H1 = np.maximum(X @ self.W1.T + self.b1, 0.0)
        H2 = np.maximum(self._l2.apply(self.b2, H1), 0.0)
        return H1, H2

    def __call__(self, X: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """Extended-real forward pass, ``(k, n) -> (k, m)``, in chunks of points.

        For a network made by :func:`build_shallow` only the gates that can
        be open are evaluated (see ``_GatedEvaluator``); the result is that
        of the full layer-by-layer pass, which :meth:`dense_call` computes.
        """
        if self._gated is None:
            return self.dense_call(X, chunk)
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        out = [self._gated(X[i:i + chunk]) for i in range(0, X.shape[0], chunk)]
        return np.vstack(out) if out else np.zeros((0, self.W3.shape[0]))

    def dense_call(self, X: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """The layer-by-layer extended-real forward pass over every neuron."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        out = [self._l3.apply(self.b3, self.hidden(X[i:i + chunk])[1])
               for i in range(0, X.shape[0], chunk)]
        return np.vstack(out) if out else np.zeros((0, self.W3.shape[0]))

    def save(self, path: str | os.PathLike) -> None:
        """Write to ``.npz`` (sparse layers as COO triplets), atomically."""
        arrays = {"format": np.array(SHALLOW_FORMAT), "mode": np.array(self.mode), "gates": self.gates,
                  "info": np.array(json.dumps(self.info, sort_keys=True)),
                  "W1": self.W1, "b1": self.b1, "b2": self.b2, "b3": self.b3}
        for name, M in (("W2", self.W2), ("W3", self.W3)):
            coo = M.tocoo()
            arrays.update({f"{name}_row": coo.row.astype(np.int64), f"{name}_col": coo.col.astype(np.int64),
                           f"{name}_val": coo.data, f"{name}_shape": np.array(M.shape, dtype=np.int64)})
        atomic_savez(path, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ShallowNetwork":
        """Read a file written by :meth:`save`.

        Raises
        ------
        ShallowFormatError
        """
        d = read_npz(path, ShallowFormatError, "shallow network")
        if str(d.get("format", "")) != SHALLOW_FORMAT:
            raise ShallowFormatError(f"{path}: not a shallowrelu shallow network")
        try:
            mats = {name: sp.csr_matrix((d[f"{name}_val"], (d[f"{name}_row"], d[f"{name}_col"])),
                                        shape=tuple(d[f"{name}_shape"])) for name in ("W2", "W3")}
            net = cls(d["W1"], d["b1"], mats["W2"], d["b2"], mats["W3"], d["b3"], str(d["mode"]),
                      d["gates"], json.loads(str(d["info"])))
        except (KeyError, ValueError, TypeError) as exc:
            raise ShallowFormatError(f"{path}: incomplete shallow network ({exc})") from None
        if not (net.W1.shape[0] == net.W2.shape[1] == net.b1.shape[0] and net.W2.shape[0] == net.W3.shape[1]):
            raise ShallowFormatError(f"{path}: layer shapes do not chain")
        return net


class _GatedEvaluator:
    """The forward pass of a built shallow network, visiting only gates that can be open.

    A face gate's violation neurons include every violation neuron of the
    cell gate of the region that owns it, so where that cell gate is closed
    (``-inf``) the face gate is closed too. The pass therefore tests the
    cell gates first and then only the gates of the open cells; every test
    and every finite value is the one the full pass computes.
    """

    def __init__(self, net: "ShallowNetwork", viol: sp.csr_matrix, dim: int) -> None:
        self.net = net
        m = net.W3.shape[0]
        self.m2 = 2 * m
        self.viol = viol                                    # gates x layer-1 neurons
        G = viol.shape[0]
        finite = net.W2.copy()
        finite.data = np.where(np.isfinite(finite.data), finite.data, 0.0)
        finite.eliminate_zeros()
        self.cols = np.unique(finite.indices)
        self.F = finite[:, self.cols].toarray().reshape(G, self.m2, -1)
        self.b2 = net.b2.reshape(G, self.m2)
        self.W3 = net.W3.T.toarray().reshape(G, self.m2, m)
        region, gdim = net.gates[:, 0], net.gates[:, 1]
        cells = np.flatnonzero(gdim == dim)
        self.cells = cells
        self.cell_viol = viol[cells]
        order = np.argsort(region, kind="stable")
        self.by_region_ptr = np.searchsorted(region[order], np.arange(region.max(initial=-1) + 2))
        self.by_region = order
        self.cell_region = region[cells]

    @classmethod
    def of(cls, net: "ShallowNetwork") -> "_GatedEvaluator | None":
        """The evaluator, if ``net`` has the structure :func:`build_shallow` gives; else None."""
        m2 = 2 * net.W3.shape[0]
        G = net.gates.shape[0]
        dim = net.info.get("dimension")
        if dim is None or net.W2.shape[0] != G * m2 or G == 0:
            return None
        W2 = net.W2.tocsr()
        rows = np.repeat(np.arange(W2.shape[0]), np.diff(W2.indptr))
        if np.any(W2.data == np.inf):
            return None
        neg = W2.data == -np.inf
        viol = sp.csr_matrix((np.ones(np.count_nonzero(neg)), (rows[neg], W2.indices[neg])), shape=W2.shape)
        first = viol[::m2]
        for j in range(1, m2):  # every neuron of a gate must share its -inf entries
            if (viol[j::m2] != first).nnz:
                return None
        cells = net.gates[:, 1] == dim
        regions = net.gates[:, 0]
        if np.unique(regions[cells]).size != np.count_nonzero(cells) or not np.isin(regions, regions[cells]).all():
            return None
        # a face gate must contain its cell gate's violation neurons
        cell_of = np.full(regions.max() + 1, -1)
        cell_of[regions[cells]] = np.flatnonzero(cells)
        owner_cells = first[cell_of[regions]]
        if (owner_cells.multiply(first) != owner_cells).nnz:
            return None
        return cls(net, first.tocsr(), dim)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        net = self.net
        H1 = np.maximum(X @ net.W1.T + net.b1, 0.0)
        U = (H1 > 0).astype(np.float64)
        open_cells = np.asarray(self.cell_viol @ U.T).T == 0          # points x cells
        pts, cell = np.nonzero(open_cells)
        reg = self.cell_region[cell]
        counts = self.by_region_ptr[reg + 1] - self.by_region_ptr[reg]
        p = np.repeat(pts, counts)
        starts = np.repeat(self.by_region_ptr[reg], counts)
        offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        g = self.by_region[starts + offs]
        # a candidate gate is open iff none of its violation neurons is positive
        nnz = np.diff(self.viol.indptr)[g]
        idx = np.repeat(self.viol.indptr[g], nnz) + (np.arange(nnz.sum()) - np.repeat(np.cumsum(nnz) - nnz, nnz))
        hits = np.add.reduceat(U[np.repeat(p, nnz), self.viol.indices[idx]], np.cumsum(nnz) - nnz) \
            if nnz.sum() else np.zeros(len(g))
        hits = np.where(nnz > 0, hits, 0.0)
        keep = hits == 0
        p, g = p[keep], g[keep]
        pre = np.einsum("gjc,gc->gj", self.F[g], H1[p][:, self.cols]) + self.b2[g]
        contrib = np.einsum("gj,gjm->gm", np.maximum(pre, 0.0), self.W3[g])
        out = np.zeros((X.shape[0], self.W3.shape[2])) + net.b3
        np.add.at(out, p, contrib)
        return out


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


@dataclass(frozen=True)
class EquivalenceReport:
    """How far the shallow network is from the deep one on probe points.

    Attributes
    ----------
    max_abs, max_rel : float
        Largest absolute error, and that error over ``scale``.
    scale : float
        ``max(1, max |deep(x)|)`` over the probes.
    worst_kind : str
        Kind of probe where the largest error occurred.
    worst_point : list of float
    counts : dict
        Number of probes of each kind: ``random``, ``interior``, ``vertex``,
        ``facet`` (facet midpoints), ``near_facet`` (1e-9 off a facet, both sides).
    tolerance : float
        Allowed ``max_rel``.
    """

    max_abs: float
    max_rel: float
    scale: float
    worst_kind: str
    worst_point: list
    counts: dict
    tolerance: float

    @property
    def passed(self) -> bool:
        """True when ``max_rel <= tolerance``."""
        return self.max_rel <= self.tolerance

    def as_dict(self) -> dict:
        """JSON-ready."""
        return {"max_abs": self.max_abs, "max_rel": self.max_rel, "scale": self.scale,
                "worst_kind": self.worst_kind, "worst_point": self.worst_point, "counts": self.counts,
                "tolerance": self.tolerance, "passed": self.passed}


def equivalence_probes(cat: Catalogue, samples: int = 2000, seed: int = 0,
                       tol: Tolerances = DEFAULT_TOLERANCES) -> dict[str, np.ndarray]:
    """Probe points (input coordinates) by kind, for :func:`check_equivalence`.

    Over a bounded domain only points inside it (to ``tol.boundary``) are
    kept: a facet point of a very thin region can lie a hair outside.
    """
    from .faces import complex_vertices
    from .polytope import bounding_box

    t, hull = cat.table, cat.hull
    rng = np.random.default_rng(seed)
    n = cat.dim
    if cat.info.get("bounded", True):
        lo, hi = bounding_box(hull.domain)
        T = lo + (hi - lo) * rng.random((samples, n))
        T = T[hull.domain.contains(T)]
    else:
        spread = float(np.abs(np.vstack([t.interior, t.facet_point])).max(initial=1.0))
        T = rng.normal(size=(samples, n)) * spread
    normals = t.facet_G
    probes = {"random": T, "interior": t.interior, "vertex": complex_vertices(cat), "facet": t.facet_point,
              "near_facet": np.vstack([t.facet_point + 1e-9 * normals, t.facet_point - 1e-9 * normals])}
    if cat.info.get("bounded", True):
        probes = {k: v[hull.domain.contains(v, tol.boundary)] if len(v) else v for k, v in probes.items()}
    return {k: hull.to_x(v) if len(v) else np.zeros((0, hull.B.shape[0])) for k, v in probes.items()}


def cells_reference(cat: Catalogue, X: np.ndarray, eps: float) -> np.ndarray:
    """What a ``cells`` network must return: the sum of ``A_r x + d_r`` over the regions
    whose closed polytope (grown by ``eps``) holds ``x``."""
    t = cat.table
    T = cat.hull.to_t(X)
    out = np.zeros((T.shape[0], cat.network.n_outputs))
    for k, x in enumerate(T):
        inside = np.flatnonzero(cat.violation(x) <= eps)
        out[k] = (np.einsum("rmn,n->rm", t.A[inside], x) + t.d[inside]).sum(axis=0)
    return out


def check_equivalence(net: ReLUNetwork, shallow: ShallowNetwork, cat: Catalogue,
                      tol: Tolerances = DEFAULT_TOLERANCES, samples: int = 2000,
                      seed: int = 0) -> EquivalenceReport:
    """Compare the shallow network with the deep one on random points, region centres, vertices,
    facet midpoints and points within 1e-9 of facets.

    A ``faces`` network must equal the deep network at every probe. A
    ``cells`` network must equal it off the boundaries and, on a facet or at
    a vertex, return the sum over the regions that hold the point (checked
    against :func:`cells_reference`).

    Raises
    ------
    ShallowReLUError
        If the shallow network was built from another network.
    """
    fp = shallow.info.get("network_fingerprint")
    if fp is not None and fp != net.fingerprint():
        raise ShallowReLUError("the shallow network was built from another network (fingerprints differ)")
    probes = equivalence_probes(cat, samples, seed, tol)
    worst = (0.0, "none", [])
    scale = 1.0
    errors = {}
    for kind, X in probes.items():
        if len(X) == 0:
            continue
        Y = net(X)
        scale = max(scale, float(np.abs(Y).max()))
        if shallow.mode == "cells" and kind in ("facet", "vertex"):
            Y = cells_reference(cat, X, shallow.info.get("boundary_eps", tol.boundary))
        err = np.abs(shallow(X) - Y).max(axis=1)
        err = np.where(np.isnan(err), np.inf, err)
        errors[kind] = err
        k = int(np.argmax(err))
        if err[k] > worst[0] or worst[1] == "none":
            worst = (float(err[k]), kind, X[k].tolist())
    return EquivalenceReport(max_abs=worst[0], max_rel=worst[0] / scale, scale=scale, worst_kind=worst[1],
                             worst_point=worst[2], counts={k: int(len(v)) for k, v in probes.items()},
                             tolerance=tol.equivalence)
