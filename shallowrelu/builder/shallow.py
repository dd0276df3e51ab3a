"""The shallow network as data: three weight layers, its evaluators and its file.

Owns :class:`ShallowNetwork`, held in the compact form the construction
gives it (per gate: its affine map and the layer-1 neurons that close it)
from which the weight matrices follow; the gated evaluator that runs only
the gates that can be open at a point; and the ``.npz`` format. Building it
from a catalogue is :mod:`.construct`'s; checking it against the deep
network :mod:`.check`'s; finding the gates open at a point :mod:`.index`'s; the ONNX graph
:mod:`..io.onnx_export`'s.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from ..errors import ShallowReLUError
from ..io.files import atomic_savez, read_npz
from ..limits import MemoryBudgetError, check_memory
from ..network import ReLUNetwork
from .extended import ExtLinear
from .index import CHUNK_BYTES, GateIndex, Guards, ragged

SHALLOW_FORMAT = "shallowrelu-shallow/2"



class ShallowFormatError(ShallowReLUError, ValueError):
    """A shallow-network file that is missing, truncated or malformed."""


# onnxruntime pays a fixed cost per step of the graph's Scan over chunks of points: on ACAS
# prop_4's network (about 180 MiB per point) chunks of 5 points run 2.5 times as fast as single
# points, and 1,000 points still take under 1 GiB.
_ONNX_CHUNKS = 4


class ShallowSizeError(MemoryBudgetError):
    """A request (dense layers, the full pass) over the memory budget (:func:`..limits.memory_budget`)."""


def require_memory(nbytes: float, what: str) -> None:
    """Raise :class:`ShallowSizeError` naming ``what`` and its size if ``nbytes`` exceed the memory budget."""
    try:
        check_memory(nbytes, what)
    except MemoryBudgetError as exc:
        raise ShallowSizeError(str(exc)) from None


@dataclass(frozen=True)
class ShallowNetwork:
    """A ReLU network with three weight layers; ``-inf`` appear only in layer 2.

    Call it on points ``(k, n) -> (k, m)``. Gate ``g`` owns layer-2 neurons
    ``2 m g .. 2 m (g + 1) - 1``: for output ``j`` the pair
    ``relu(+-(A x + d)_j - inf * sum_k u_k)`` over its guard neurons ``u_k``.
    The weight matrices ``W2``, ``b2``, ``W3`` and :attr:`layers` are made
    from this form on request.

    Attributes
    ----------
    W1, b1 : ndarray
        Layer 1 (finite): ``relu(x)``, ``relu(-x)``, then the hyperplane neurons.
    A, d : ndarray, shapes (M, m, n) and (M, m)
        The affine maps the gates pass (``x`` coordinates).
    gate_map : ndarray of int, shape (G,)
        The map of each gate.
    guard_ptr, guard : ndarray of int
        ``guard[guard_ptr[g]:guard_ptr[g + 1]]``: the layer-1 neurons whose
        ``-inf`` weight closes gate ``g`` where they are positive.
    b3 : ndarray, shape (m,)
    mode : str
        ``"faces"`` (exact everywhere) or ``"cells"`` (the paper's).
    gates : ndarray of int, shape (G, 3)
        Per gate: the catalogue region whose map it passes, the dimension of
        its face (the region's own dimension in cells mode), its coefficient
        ``c_G`` (layer 3's weights are ``+-c_G``).
    parent : ndarray of int, shape (G,)
        A cell gate (its own parent) whose guard is part of the gate's: where
        the parent is closed the gate is closed.
    box : ndarray, shape (C, 2, n)
        For the cell gates in gate order, a box outside which they are closed.
    info : dict
        Sizes, gate counts, the fingerprint of the deep network.
    """

    W1: np.ndarray
    b1: np.ndarray
    A: np.ndarray
    d: np.ndarray
    gate_map: np.ndarray
    guard_ptr: np.ndarray
    guard: np.ndarray
    b3: np.ndarray
    mode: str
    gates: np.ndarray
    parent: np.ndarray
    box: np.ndarray
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        H, n = self.W1.shape
        M, m = self.A.shape[:2]
        G = self.gates.shape[0]
        cells = self.parent == np.arange(G)
        checks = [
            (self.b1.shape == (H,), "b1 does not match W1"),
            (self.A.shape == (M, m, n) and self.d.shape == (M, m), "the maps do not match the inputs"),
            (self.b3.shape == (m,), "b3 does not match the maps' outputs"),
            (self.gates.shape == (G, 3) and self.gate_map.shape == (G,) and self.parent.shape == (G,)
             and self.guard_ptr.shape == (G + 1,), "the gate tables have different lengths"),
            (G == 0 or (self.gate_map.min() >= 0 and self.gate_map.max() < M), "a gate has no map"),
            (G == 0 or (self.parent.min() >= 0 and self.parent.max() < G
                        and bool(np.all(cells[self.parent]))), "a gate's parent is not a cell gate"),
            (self.guard_ptr[0] == 0 and self.guard_ptr[-1] == self.guard.size
             and bool(np.all(np.diff(self.guard_ptr) >= 0)), "the guard lists are not a ragged array"),
            (self.guard.size == 0 or (self.guard.min() >= 0 and self.guard.max() < H),
             "a guard names a layer-1 neuron that does not exist"),
            (self.box.shape == (int(cells.sum()), 2, n), "the cell boxes do not match the cell gates"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def __repr__(self) -> str:
        z = self.sizes
        return (f"ShallowNetwork({z['inputs']} -> {z['layer1']} -> {z['layer2']} -> {z['outputs']}, "
                f"{self.n_gates} gates ({self.mode} mode), {z['inf_weights']} infinite weights)")

    def check_source(self, net: ReLUNetwork, where: str = "the shallow network") -> None:
        """Raise :class:`ShallowReLUError` if the network was built from another deep network than ``net``
        (its recorded fingerprint differs)."""
        fp = self.info.get("network_fingerprint")
        if fp is not None and fp != net.fingerprint():
            raise ShallowReLUError(f"{where} was built from another network (fingerprints differ)")

    @property
    def n_gates(self) -> int:
        """Number of gates ``G``."""
        return self.gates.shape[0]

    @property
    def sizes(self) -> dict:
        """Neurons per layer and the number of infinite and of non-zero weights."""
        n, m, G = self.W1.shape[1], self.A.shape[1], self.n_gates
        inf = 2 * m * self.guard.size
        finite = 4 * int(np.count_nonzero(self.A.reshape(self.A.shape[0], -1), axis=1)[self.gate_map].sum())
        return {"inputs": n, "layer1": self.W1.shape[0], "layer2": 2 * m * G, "outputs": m,
                "inf_weights": inf, "nonzero_weights": int(np.count_nonzero(self.W1)) + finite + inf + 2 * m * G}

    @property
    def W2(self) -> sp.csr_matrix:
        """Layer 2 as a sparse matrix (zero pass-through weights left out, ``-inf`` kept)."""
        n, m, G, H = self.W1.shape[1], self.A.shape[1], self.n_gates, self.W1.shape[0]
        require_memory(40.0 * self.sizes["nonzero_weights"], "layer 2 as a sparse matrix")
        P = self.A[self.gate_map]                                           # (G, m, n)
        P = np.stack([P, -P], axis=2).reshape(2 * m * G, n)                 # neuron (g, j, +-)
        finite = sp.csr_matrix(np.hstack([P, -P]))
        counts = np.diff(self.guard_ptr)
        rows = np.repeat(np.arange(2 * m * G), np.repeat(counts, 2 * m))
        cols = self.guard[ragged(np.repeat(self.guard_ptr[:-1], 2 * m), np.repeat(counts, 2 * m))[0]]
        inf = sp.csr_matrix((np.full(rows.size, -np.inf), (rows, cols)), shape=(2 * m * G, H))
        finite.resize((2 * m * G, H))
        return (finite + inf).tocsr()

    @property
    def b2(self) -> np.ndarray:
        """Layer 2's biases, ``+-d`` per gate and output."""
        return np.stack([self.d[self.gate_map], -self.d[self.gate_map]], axis=2).ravel()

    @property
    def W3(self) -> sp.csr_matrix:
        """Layer 3: ``y_j = sum_G c_G (p_Gj - q_Gj)``."""
        m, G = self.A.shape[1], self.n_gates
        vals = (self.gates[:, 2, None, None] * np.array([1.0, -1.0])).repeat(m, axis=1).ravel()
        rows = np.tile(np.repeat(np.arange(m), 2), G)
        return sp.csr_matrix((vals, (rows, np.arange(2 * m * G))), shape=(m, 2 * m * G))

    @property
    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(W1, b1), (W2, b2), (W3, b3)]`` as dense numpy arrays.

        Raises
        ------
        ShallowSizeError
            If layer 2 as a dense array would not fit in memory.
        """
        require_memory(8.0 * 2 * self.A.shape[1] * self.n_gates * self.W1.shape[0], "layer 2 as a dense array")
        return [(self.W1, self.b1), (self.W2.toarray(), self.b2), (self.W3.toarray(), self.b3)]

    def open_gates(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """The gates open at the point ``x``, each with the values ``(A_G x + d_G)_j`` it passes."""
        X = self._points(x)
        p, g = self._index.open_pairs(X)
        return {int(k): z for k, z in zip(g, self._values(X, p, g))}

    def hidden(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Activations of the two hidden layers at the rows of ``X`` (the full layer-by-layer pass)."""
        X = self._points(X)
        require_memory(8.0 * X.shape[0] * (self.W1.shape[0] + 2 * self.A.shape[1] * self.n_gates),
                       "the hidden layers at these points")
        H1 = np.maximum(X @ self.W1.T + self.b1, 0.0)
        H2 = np.maximum(self._dense_layers[0].apply(self.b2, H1), 0.0)
        return H1, H2

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Extended-real forward pass, ``(k, n) -> (k, m)``.

        Only the gates that can be open at a point are evaluated (see
        ``GateIndex``), in chunks of points that fit ``CHUNK_BYTES``; the
        result is that of the full layer-by-layer pass, :meth:`dense_call`.
        """
        X = self._points(X)
        out = np.zeros((X.shape[0], self.A.shape[1])) + self.b3
        for sl in self._index.chunks(X):
            p, g = self._index.open_pairs(X[sl])
            terms = self._values(X[sl], p, g)
            signed = np.maximum(terms, 0.0) - np.maximum(-terms, 0.0)
            np.add.at(out, p + sl.start, self.gates[g, 2, None] * signed)
        return out

    def dense_call(self, X: np.ndarray) -> np.ndarray:
        """The layer-by-layer extended-real forward pass over every neuron (small networks)."""
        X = self._points(X)
        l2, l3 = self._dense_layers
        width = self.W1.shape[0] + 4 * self.A.shape[1] * self.n_gates
        step = max(1, CHUNK_BYTES // (8 * width))
        out = [l3.apply(self.b3, np.maximum(l2.apply(self.b2, np.maximum(X[i:i + step] @ self.W1.T + self.b1, 0.0)),
                                            0.0)) for i in range(0, X.shape[0], step)]
        return np.vstack(out) if out else np.zeros((0, self.A.shape[1]))

    def save(self, path: str | os.PathLike) -> None:
        """Write to ``.npz``, atomically."""
        arrays = {"format": np.array(SHALLOW_FORMAT), "mode": np.array(self.mode),
                  "info": np.array(json.dumps(self.info, sort_keys=True))}
        arrays |= {name: getattr(self, name) for name in _ARRAYS}
        atomic_savez(path, arrays)

    def to_onnx(self, path: str | os.PathLike, opset: int | None = None) -> None:
        """Write the network as a standard ONNX graph (float64) that computes it exactly, atomically.

        The ``-inf`` weights become a comparison and ``Where`` (see
        :mod:`shallowrelu.io.onnx_export`); the graph passes
        ``onnx.checker``'s full check. It evaluates every gate, in chunks of
        points whose working memory is about ``4 * CHUNK_BYTES`` (1 GiB), so
        a batch of any size needs little more than that and the graph's weights.

        Parameters
        ----------
        path : path-like
        opset : int, optional
            Default: the newest the installed ``onnx`` knows (18 at least).

        Raises
        ------
        ShallowSizeError
            If the graph's weights, held three times while the file is made
            (arrays, protobuf, bytes), exceed the memory budget.
        """
        from ..io.onnx_export import save_onnx_model, shallow_onnx_model

        n, m = self.W1.shape[1], self.A.shape[1]
        require_memory(3 * 8.0 * (self.n_gates * m * (n + 1) + 2 * self.guard.size + self.W1.size),
                       "the ONNX graph")
        doc = (f"shallowrelu shallow network ({self.mode} mode, {self.n_gates} gates) of the network with "
               f"fingerprint {self.info.get('network_fingerprint', '?')}")
        model = shallow_onnx_model(self.W1, self.b1, self.A[self.gate_map], self.d[self.gate_map], self.guard_ptr,
                                   self.guard, self.gates[:, 2].astype(np.float64), self.b3, opset, doc,
                                   chunk_bytes=_ONNX_CHUNKS * CHUNK_BYTES)
        save_onnx_model(model, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ShallowNetwork":
        """Read a file written by :meth:`save`.

        Raises
        ------
        ShallowFormatError
        """
        d = read_npz(path, ShallowFormatError, "shallow network")
        found = str(d.get("format", ""))
        if found != SHALLOW_FORMAT:
            if found.startswith("shallowrelu-shallow/"):
                raise ShallowFormatError(f"{path}: written in the older format {found}; convert the catalogue "
                                         f"again to get {SHALLOW_FORMAT}")
            raise ShallowFormatError(f"{path}: not a shallowrelu shallow network")
        try:
            return cls(**{name: d[name] for name in _ARRAYS}, mode=str(d["mode"]), info=json.loads(str(d["info"])))
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ShallowFormatError(f"{path}: incomplete or inconsistent shallow network ({exc})") from None

    def _points(self, X: np.ndarray) -> np.ndarray:
        """``X`` as a batch of points of the right width."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != self.W1.shape[1]:
            raise ValueError(f"expected points with {self.W1.shape[1]} coordinates, got {X.shape[1]}")
        return X

    def _values(self, X: np.ndarray, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``A_g x + d_g`` at the pairs (point ``p``, gate ``g``), read as layer 2 reads it: from
        ``relu(x)`` and ``relu(-x)``."""
        n = self.W1.shape[1]
        H = np.maximum(X[p] @ self.W1[:2 * n].T, 0.0)
        A = self.A[self.gate_map[g]]
        return np.einsum("kmn,kn->km", A, H[:, :n]) - np.einsum("kmn,kn->km", A, H[:, n:]) + self.d[self.gate_map[g]]

    @cached_property
    def _index(self) -> GateIndex:
        """The index of the gates' boxes, built on first use."""
        return GateIndex(Guards(self.W1, self.b1, self.guard_ptr, self.guard, self.parent, self.box))

    @cached_property
    def _dense_layers(self) -> tuple[ExtLinear, ExtLinear]:
        """Layers 2 and 3 as extended-real sparse products, built on first use."""
        return ExtLinear(self.W2), ExtLinear(self.W3)


_ARRAYS = ("W1", "b1", "A", "d", "gate_map", "guard_ptr", "guard", "b3", "gates", "parent", "box")
