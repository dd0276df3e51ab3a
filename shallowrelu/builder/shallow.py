"""The shallow network as data: three weight layers, its evaluators and its file.

Owns :class:`ShallowNetwork` (dense finite layer 1, sparse extended-real
layer 2, sparse layer 3), the gated evaluator that runs only the gates a
point opens, and the ``.npz`` format. Building it from a catalogue is
:mod:`.construct`'s; checking it against the deep network :mod:`.check`'s.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..errors import ShallowReLUError
from ..io.files import atomic_savez, read_npz
from .extended import ExtLinear

SHALLOW_FORMAT = "shallowrelu-shallow/1"


class ShallowFormatError(ShallowReLUError, ValueError):
    """A shallow-network file that is missing, truncated or malformed."""



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

