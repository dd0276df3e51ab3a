"""The deep ReLU network as data: a tuple of ``(W, b)`` layers.

``W`` is shaped ``(out, in)`` as in PyTorch; a ReLU follows every layer but
the last. Neuron ``i`` of a hidden layer is active iff its pre-activation is
``> 0`` (``z == 0`` counts as inactive, agreeing with ``relu(0) == 0``).

Owns the forward pass (the oracle every other module is checked against),
patterns and the affine map of a pattern. Imports nothing of the package
but its errors: every other module builds on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .errors import NetworkFormatError

Layer = tuple[np.ndarray, np.ndarray]

# A header or array claiming more than this many weights is refused before
# anything is allocated from it.
MAX_WEIGHTS = 200_000_000


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only float64 copy."""
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class ReLUNetwork:
    """A fully connected ReLU network ``x -> W_L+1 relu(... relu(W_1 x + b_1)) + b_L+1``.

    Parameters
    ----------
    layers : sequence of (W, b)
        ``W`` of shape ``(out, in)``, ``b`` of shape ``(out,)``; consecutive
        shapes must chain. Stored as read-only float64 copies.
    source : str
        Where the network came from, used in error messages.

    Raises
    ------
    NetworkFormatError
        On shapes that do not chain, non-finite weights, or no layer at all.

    Examples
    --------
    >>> import numpy as np, shallowrelu as sr
    >>> net = sr.ReLUNetwork([(np.eye(2), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))])
    >>> net(np.array([[1.0, -2.0]]))
    array([[1.]])
    """

    layers: tuple[Layer, ...]
    source: str = "<memory>"

    def __post_init__(self) -> None:
        where = self.source
        if len(self.layers) == 0:
            raise NetworkFormatError(f"{where}: the network has no layer")
        checked = []
        n_in = None
        total = 0
        for i, layer in enumerate(self.layers):
            if len(layer) != 2:
                raise NetworkFormatError(f"{where}: layer {i} is not a (W, b) pair")
            W, b = (np.asarray(v) for v in layer)
            if W.dtype == object or b.dtype == object:
                raise NetworkFormatError(f"{where}: layer {i} holds Python objects, not numbers")
            if W.ndim != 2:
                raise NetworkFormatError(f"{where}: W{i} must be 2-D (out, in), got shape {W.shape}")
            if b.ndim != 1 or b.shape[0] != W.shape[0]:
                raise NetworkFormatError(
                    f"{where}: b{i} must have shape ({W.shape[0]},) to match W{i} {W.shape}, got {b.shape}")
            if n_in is not None and W.shape[1] != n_in:
                raise NetworkFormatError(
                    f"{where}: W{i} has {W.shape[1]} inputs but layer {i - 1} has {n_in} outputs")
            if W.shape[0] == 0 or W.shape[1] == 0:
                raise NetworkFormatError(f"{where}: W{i} has an empty shape {W.shape}")
            total += W.size
            if total > MAX_WEIGHTS:
                raise NetworkFormatError(f"{where}: more than {MAX_WEIGHTS} weights")
            try:
                W, b = _frozen(W), _frozen(b)
            except (TypeError, ValueError) as exc:
                raise NetworkFormatError(f"{where}: layer {i} is not numeric ({exc})") from None
            for name, arr in ((f"W{i}", W), (f"b{i}", b)):
                if not np.all(np.isfinite(arr)):
                    raise NetworkFormatError(f"{where}: {name} contains NaN or inf")
            checked.append((W, b))
            n_in = W.shape[0]
        object.__setattr__(self, "layers", tuple(checked))

    def describe(self) -> str:
        """The layer widths, e.g. ``"2-8-8-2 network"``."""
        widths = [self.n_inputs, *self.hidden_sizes, self.n_outputs]
        return "-".join(str(w) for w in widths) + " network"

    def __repr__(self) -> str:
        return f"ReLUNetwork({self.describe()}, {self.n_neurons} hidden neurons, from {self.source})"

    @property
    def n_inputs(self) -> int:
        """Input dimension ``n``."""
        return self.layers[0][0].shape[1]

    @property
    def n_outputs(self) -> int:
        """Output dimension ``m``."""
        return self.layers[-1][0].shape[0]

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        """Widths of the hidden (ReLU) layers."""
        return tuple(W.shape[0] for W, _ in self.layers[:-1])

    @property
    def n_neurons(self) -> int:
        """Total number of hidden neurons ``N``."""
        return sum(self.hidden_sizes)

    def neuron_ids(self) -> list[tuple[int, int]]:
        """``(layer, index)`` of every hidden neuron in pattern order, layers counted from 1."""
        return [(l + 1, i) for l, w in enumerate(self.hidden_sizes) for i in range(w)]

    def _as_batch(self, X: np.ndarray) -> np.ndarray:
        """``X`` as a ``(k, n)`` float64 batch."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"expected points of shape (k, {self.n_inputs}), got {X.shape}")
        return X

    def preactivations(self, X: np.ndarray) -> list[np.ndarray]:
        """Pre-activations ``z^l`` of every hidden layer at the rows of ``X``.

        Parameters
        ----------
        X : ndarray, shape (k, n)

        Returns
        -------
        list of ndarray
            One ``(k, width_l)`` array per hidden layer.
        """
        H = self._as_batch(X)
        out = []
        for W, b in self.layers[:-1]:
            Z = H @ W.T + b
            out.append(Z)
            H = np.maximum(Z, 0.0)
        return out

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Forward pass, ``(k, n) -> (k, m)`` in float64."""
        H = self._as_batch(X)
        for W, b in self.layers[:-1]:
            H = np.maximum(H @ W.T + b, 0.0)
        W, b = self.layers[-1]
        return H @ W.T + b

    def patterns(self, X: np.ndarray) -> np.ndarray:
        """Activation patterns ``s(x)`` as a ``(k, N)`` bool array (``z > 0``)."""
        Zs = self.preactivations(X)
        if not Zs:
            return np.zeros((self._as_batch(X).shape[0], 0), dtype=bool)
        return np.concatenate([Z > 0 for Z in Zs], axis=1)

    def affine_map(self, pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The affine map ``y = A x + d`` the network computes under a fixed pattern.

        Parameters
        ----------
        pattern : array of bool, shape (N,)

        Returns
        -------
        A : ndarray, shape (m, n)
        d : ndarray, shape (m,)
        """
        _, _, A, d = self.pattern_maps(pattern)
        return A, d

    def pattern_maps(self, pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Under a fixed pattern, every hidden pre-activation ``z = M x + v`` and the output ``y = A x + d``.

        Parameters
        ----------
        pattern : array of bool, shape (N,)

        Returns
        -------
        M : ndarray, shape (N, n)
        v : ndarray, shape (N,)
        A : ndarray, shape (m, n)
        d : ndarray, shape (m,)
        """
        pattern = np.asarray(pattern, dtype=bool)
        if pattern.shape != (self.n_neurons,):
            raise ValueError(f"pattern must have {self.n_neurons} entries, got {pattern.shape}")
        n = self.n_inputs
        A, d = np.eye(n), np.zeros(n)
        forms_M, forms_v = [np.zeros((0, n))], [np.zeros(0)]
        start = 0
        for W, b in self.layers[:-1]:
            Mz, vz = W @ A, W @ d + b
            forms_M.append(Mz)
            forms_v.append(vz)
            s = pattern[start:start + W.shape[0]]
            start += W.shape[0]
            A, d = Mz * s[:, None], vz * s
        W, b = self.layers[-1]
        return np.vstack(forms_M), np.concatenate(forms_v), W @ A, W @ d + b

    def restrict(self, x0: np.ndarray, B: np.ndarray) -> "ReLUNetwork":
        """The network composed with the affine map ``t -> x0 + B t``.

        Used to work in the coordinates of a flat domain's affine hull or of a
        2-D slice.
        """
        W, b = self.layers[0]
        first = (W @ B, b + W @ x0)
        return ReLUNetwork((first,) + self.layers[1:], source=self.source)

    def fingerprint(self) -> str:
        """SHA-256 of the weights, to tie a catalogue to the network it came from."""
        h = hashlib.sha256()
        for W, b in self.layers:
            h.update(np.asarray(W.shape, dtype=np.int64).tobytes())
            h.update(np.ascontiguousarray(W).tobytes())
            h.update(np.ascontiguousarray(b).tobytes())
        return h.hexdigest()
