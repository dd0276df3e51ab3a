"""The deep network as data: a tuple of ``(W, b)`` layers and the kinks of each hidden layer.

``W`` is shaped ``(out, in)`` as in PyTorch; every layer but the last is a
hidden layer whose units have kinks (:mod:`.kinks`): ReLU by default, where
unit ``i`` is active iff its pre-activation is ``> 0`` (``z == 0`` counts as
inactive, agreeing with ``relu(0) == 0``).

Owns the forward pass (the oracle every other module is checked against),
patterns and the affine map of a pattern. Imports nothing of the package
but its errors: every other module builds on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..errors import NetworkFormatError
from .kinks import Kinks

Layer = tuple[np.ndarray, np.ndarray]

# A header or array claiming more than this many weights is refused before
# anything is allocated from it.
MAX_WEIGHTS = 200_000_000


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only float64 copy."""
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class ReLUNetwork:
    """A deep piecewise-linear network ``x -> W_L+1 h_L + b_L+1``, ``h_l = act_l(W_l h_l-1 + b_l)``.

    Every hidden layer is a ReLU layer unless ``kinks`` says otherwise
    (leaky units, units with no kink that carry a value, max groups).

    Parameters
    ----------
    layers : sequence of (W, b)
        ``W`` of shape ``(out, in)``, ``b`` of shape ``(out,)``; consecutive
        shapes must chain. Stored as read-only float64 copies.
    source : str
        Where the network came from, used in error messages.
    kinks : sequence of Kinks or None, optional
        One per hidden layer (None: ReLU); omitted: every hidden layer is ReLU.
    labels : sequence of str, optional
        Class names of the outputs of a classifier, one per output.
    note : str
        What a reader wants the user told (e.g. a classifier's head read only
        up to its logits); no part of the network's function.

    Raises
    ------
    NetworkFormatError
        On shapes that do not chain, non-finite weights, no layer at all,
        kinks that do not fit their layer, or labels that do not fit the outputs.

    Examples
    --------
    >>> import numpy as np, shallowrelu as sr
    >>> net = sr.ReLUNetwork([(np.eye(2), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))])
    >>> net(np.array([[1.0, -2.0]]))
    array([[1.]])
    """

    layers: tuple[Layer, ...]
    source: str = "<memory>"
    kinks: tuple[Kinks | None, ...] | None = None
    labels: tuple[str, ...] | None = None
    note: str = ""

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
        object.__setattr__(self, "kinks", self._checked_kinks())
        if self.labels is not None:
            labels = tuple(str(v) for v in self.labels)
            if len(labels) != self.n_outputs:
                raise NetworkFormatError(f"{where}: {len(labels)} labels for {self.n_outputs} outputs")
            object.__setattr__(self, "labels", labels)

    def _checked_kinks(self) -> tuple[Kinks | None, ...] | None:
        """The kinks, one per hidden layer, plain ReLU layers as None; None when every layer is ReLU."""
        if self.kinks is None:
            return None
        where = self.source
        if len(self.kinks) != len(self.layers) - 1:
            raise NetworkFormatError(f"{where}: {len(self.kinks)} kink specifications for "
                                     f"{len(self.layers) - 1} hidden layers")
        out = []
        for l, k in enumerate(self.kinks):
            if k is not None and not isinstance(k, Kinks):
                raise NetworkFormatError(f"{where}: the kinks of hidden layer {l + 1} are not a Kinks record")
            if k is not None and k.width != self.layers[l][0].shape[0]:
                raise NetworkFormatError(f"{where}: hidden layer {l + 1} has {self.layers[l][0].shape[0]} units "
                                         f"but its kinks describe {k.width}")
            if k is not None:
                W_next = self.layers[l + 1][0]
                for members in k.groups:
                    if np.any(W_next[:, members] != W_next[:, members[:1]]):
                        raise NetworkFormatError(f"{where}: layer {l + 2} reads the members of a max group of "
                                                 f"hidden layer {l + 1} through different weights")
            out.append(None if k is None or k.is_relu else k)
        return tuple(out) if any(k is not None for k in out) else None

    def describe(self) -> str:
        """The layer widths, e.g. ``"2-8-8-2 network"`` (and the kinds of unit where not all are ReLU)."""
        widths = [self.n_inputs, *self.hidden_sizes, self.n_outputs]
        text = "-".join(str(w) for w in widths) + " network"
        if self.kinks is not None:
            kinds = sorted({kind for k in self.kinks if k is not None for kind in k.describe().split("+")})
            text += f" ({', '.join(kinds)} units)"
        return text

    def __repr__(self) -> str:
        return f"ReLUNetwork({self.describe()}, {self.n_neurons} hidden units, from {self.source})"

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
        """Widths of the hidden layers (units)."""
        return tuple(W.shape[0] for W, _ in self.layers[:-1])

    @property
    def n_neurons(self) -> int:
        """Total number of hidden units ``N`` (the length of a pattern)."""
        return sum(self.hidden_sizes)

    def kinks_of(self, layer: int) -> Kinks | None:
        """The kinks of hidden layer ``layer`` (0-based), None for a ReLU layer."""
        return None if self.kinks is None else self.kinks[layer]

    def neuron_ids(self) -> list[tuple[int, int]]:
        """``(layer, index)`` of every hidden unit in pattern order, layers counted from 1."""
        return [(l + 1, i) for l, w in enumerate(self.hidden_sizes) for i in range(w)]

    def _as_batch(self, X: np.ndarray) -> np.ndarray:
        """``X`` as a ``(k, n)`` float64 batch."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"expected points of shape (k, {self.n_inputs}), got {X.shape}")
        return X

    def _activate(self, l: int, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hidden layer ``l``'s pattern bits and outputs at pre-activations ``Z``."""
        k = self.kinks_of(l)
        if k is None:
            return Z > 0, np.maximum(Z, 0.0)
        bits = k.bits(Z)
        return bits, Z * k.factors(bits)

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
        for l, (W, b) in enumerate(self.layers[:-1]):
            Z = H @ W.T + b
            out.append(Z)
            H = self._activate(l, Z)[1]
        return out

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Forward pass, ``(k, n) -> (k, m)`` in float64."""
        H = self._as_batch(X)
        for l, (W, b) in enumerate(self.layers[:-1]):
            H = self._activate(l, H @ W.T + b)[1]
        W, b = self.layers[-1]
        return H @ W.T + b

    def patterns(self, X: np.ndarray) -> np.ndarray:
        """Activation patterns ``s(x)`` as a ``(k, N)`` bool array (``z > 0`` for a ReLU)."""
        H = self._as_batch(X)
        bits = []
        for l, (W, b) in enumerate(self.layers[:-1]):
            s, H = self._activate(l, H @ W.T + b)
            bits.append(s)
        if not bits:
            return np.zeros((H.shape[0], 0), dtype=bool)
        return np.concatenate(bits, axis=1)

    def labels_of(self, Y: np.ndarray) -> list[str]:
        """The label of each output row: the class name (or index) of its largest output."""
        idx = np.argmax(np.atleast_2d(Y), axis=1)
        return [self.labels[i] if self.labels is not None else str(int(i)) for i in idx]

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

    def factors(self, layer: int, bits: np.ndarray) -> np.ndarray:
        """Hidden layer ``layer``'s outputs are ``factors * z`` under the pattern bits ``bits``."""
        k = self.kinks_of(layer)
        return np.asarray(bits, dtype=bool) if k is None else k.factors(bits)

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
        for l, (W, b) in enumerate(self.layers[:-1]):
            Mz, vz = W @ A, W @ d + b
            forms_M.append(Mz)
            forms_v.append(vz)
            f = self.factors(l, pattern[start:start + W.shape[0]])
            start += W.shape[0]
            A, d = Mz * f[:, None], vz * f
        W, b = self.layers[-1]
        return np.vstack(forms_M), np.concatenate(forms_v), W @ A, W @ d + b

    def kink_maps(self, pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Under a fixed pattern, the affine forms ``K x + k`` whose signs say where each unit's kink is.

        A ReLU or leaky unit's form is its pre-activation (its kink is at 0),
        a member of a max group's is ``z_j - z_w`` with ``w`` the member that
        wins under the pattern (its kink is where the two tie), and a unit
        with no kink has the zero form. Faces of the region complex are told
        apart by the signs of these forms.

        Parameters
        ----------
        pattern : array of bool, shape (N,)

        Returns
        -------
        K : ndarray, shape (N, n)
        k : ndarray, shape (N,)
        """
        K, k, _, _ = self.pattern_maps(pattern)
        if self.kinks is None:
            return K, k
        K, k = K.copy(), k.copy()
        start = 0
        for l, width in enumerate(self.hidden_sizes):
            kinks = self.kinks[l]
            if kinks is not None:
                rows = slice(start, start + width)
                Kl, kl, bits = K[rows], k[rows], np.asarray(pattern[rows], dtype=bool)
                base_K, base_k = Kl.copy(), kl.copy()
                for members in kinks.groups:
                    winner = members[bits[members]][0]
                    Kl[members] = base_K[members] - base_K[winner]
                    kl[members] = base_k[members] - base_k[winner]
                linear = (kinks.group < 0) & (kinks.slope == 1.0)
                Kl[linear], kl[linear] = 0.0, 0.0
            start += width
        return K, k

    def region_rows(self, pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The closed region of ``pattern`` as one row ``G x + g <= 0`` per hidden unit (redundant ones
        included; the zero row for a unit with no kink and for the winner of a max group).

        Parameters
        ----------
        pattern : array of bool, shape (N,)

        Returns
        -------
        G : ndarray, shape (N, n)
        g : ndarray, shape (N,)
        """
        K, k = self.kink_maps(pattern)
        active = np.asarray(pattern, dtype=bool).copy()
        start = 0
        for l, width in enumerate(self.hidden_sizes):
            kinks = self.kinks_of(l)
            if kinks is not None:  # a member's form z_j - z_w is <= 0 whichever member it is
                active[start:start + width] &= kinks.group < 0
            start += width
        sign = np.where(active, -1.0, 1.0)  # active: z >= 0, i.e. -z <= 0
        return sign[:, None] * K, sign * k

    def restrict(self, x0: np.ndarray, B: np.ndarray) -> "ReLUNetwork":
        """The network composed with the affine map ``t -> x0 + B t``.

        Used to work in the coordinates of a flat domain's affine hull or of a
        slice through the input space.
        """
        W, b = self.layers[0]
        first = (W @ B, b + W @ x0)
        return ReLUNetwork((first,) + self.layers[1:], source=self.source, kinks=self.kinks, labels=self.labels)

    def fingerprint(self) -> str:
        """SHA-256 of the weights and kinks, to tie a catalogue to the network it came from."""
        h = hashlib.sha256()
        for W, b in self.layers:
            h.update(np.asarray(W.shape, dtype=np.int64).tobytes())
            h.update(np.ascontiguousarray(W).tobytes())
            h.update(np.ascontiguousarray(b).tobytes())
        for l, k in enumerate(self.kinks or ()):
            if k is not None:  # plain ReLU networks keep the fingerprint they always had
                h.update(f"kinks {l}".encode())
                h.update(k.slope.tobytes())
                h.update(k.group.tobytes())
        return h.hexdigest()


def as_network(obj, what: str) -> ReLUNetwork:
    """``obj`` if it is a network, else a TypeError that says how to read what it is."""
    if isinstance(obj, ReLUNetwork):
        return obj
    kind = type(obj).__module__.split(".")[0]
    hint = {"sklearn": " (read it with shallowrelu.from_sklearn)", "torch": " (read it with shallowrelu.from_torch)"}
    raise TypeError(f"{what} needs a ReLUNetwork, got {type(obj).__name__}{hint.get(kind, '')}")
