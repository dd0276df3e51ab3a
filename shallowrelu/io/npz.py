"""Networks as ``.npz`` arrays ``W0, b0, W1, b1, ...`` (the project's own network format).

Owns reading and writing that format and building a network from such
arrays. File safety is :mod:`.files`'s.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import NetworkFormatError
from ..network import Kinks, ReLUNetwork
from .files import atomic_savez, read_npz

_KEY = re.compile(r"^(W|b|slope|group)(\d+)$")


def load_npz(path: Path) -> ReLUNetwork:
    """A network from an ``.npz`` file of arrays ``W0, b0, W1, b1, ...``."""
    return network_from_arrays(read_npz(path, NetworkFormatError, "network"), source=str(path))


def network_from_arrays(arrays: dict[str, np.ndarray], source: str = "<memory>") -> ReLUNetwork:
    """Build a network from ``{"W0": ..., "b0": ..., "W1": ...}``.

    Parameters
    ----------
    arrays : dict of str to ndarray
        ``Wi`` shaped ``(out, in)`` and ``bi`` shaped ``(out,)`` for ``i = 0..L``;
        optionally ``slopei`` and ``groupi`` (the kinks of hidden layer ``i``,
        see :class:`shallowrelu.network.Kinks`; ReLU where absent) and
        ``labels`` (one class name per output).
    source : str
        Where the arrays came from, for messages.

    Raises
    ------
    NetworkFormatError
        On missing, extra or malformed arrays.
    """
    found: dict[tuple[str, int], np.ndarray] = {}
    labels = None
    for key, value in arrays.items():
        if key == "labels":
            if value.dtype.kind not in "UO" and value.dtype.kind not in "iu":
                raise NetworkFormatError(f"{source}: array labels must hold strings or integers")
            labels = tuple(str(v) for v in np.asarray(value).ravel())
            continue
        m = _KEY.match(key)
        if m is None:
            raise NetworkFormatError(f"{source}: unexpected array {key!r} (expected W0, b0, W1, b1, ...)")
        found[(m.group(1), int(m.group(2)))] = value
    if not any(kind == "W" for kind, _ in found):
        raise NetworkFormatError(f"{source}: no arrays W0, b0, ... found")
    n_layers = 1 + max(i for kind, i in found if kind in "Wb")
    layers = []
    for i in range(n_layers):
        for kind in "Wb":
            if (kind, i) not in found:
                raise NetworkFormatError(f"{source}: array {kind}{i} is missing")
        W, b = found[("W", i)], found[("b", i)]
        for name, arr in ((f"W{i}", W), (f"b{i}", b)):
            if arr.dtype.kind not in "fiu":
                raise NetworkFormatError(f"{source}: array {name} has dtype {arr.dtype}, not numeric")
        layers.append((W, b))
    return ReLUNetwork(tuple(layers), source=source, kinks=_kinks(found, n_layers, source), labels=labels)


def _kinks(found: dict[tuple[str, int], np.ndarray], n_layers: int, source: str) -> list[Kinks | None] | None:
    """The kinks the arrays ``slope{i}``, ``group{i}`` give, per hidden layer (None where absent)."""
    if not any(kind in ("slope", "group") for kind, _ in found):
        return None
    out = []
    for i in range(n_layers - 1):
        slope, group = found.get(("slope", i)), found.get(("group", i))
        if slope is None and group is None:
            out.append(None)
            continue
        if slope is None or group is None:
            raise NetworkFormatError(f"{source}: hidden layer {i} has {'group' if slope is None else 'slope'}{i} "
                                     f"but no {'slope' if slope is None else 'group'}{i}")
        if slope.dtype.kind not in "fiu" or group.dtype.kind not in "iu":
            raise NetworkFormatError(f"{source}: slope{i} must be numbers and group{i} integers")
        try:
            out.append(Kinks(slope, group))
        except ValueError as exc:
            raise NetworkFormatError(f"{source}: the kinks of hidden layer {i}: {exc}") from None
    extra = [f"{kind}{i}" for kind, i in found if kind in ("slope", "group") and i >= n_layers - 1]
    if extra:
        raise NetworkFormatError(f"{source}: array {extra[0]} names no hidden layer")
    return out


def network_arrays(net: ReLUNetwork, prefix: str = "") -> dict[str, np.ndarray]:
    """The arrays of ``net`` as :func:`network_from_arrays` reads them, each name after ``prefix``."""
    arrays = {}
    for i, (W, b) in enumerate(net.layers):
        arrays[f"{prefix}W{i}"], arrays[f"{prefix}b{i}"] = W, b
    for i, k in enumerate(net.kinks or ()):
        if k is not None:
            arrays[f"{prefix}slope{i}"], arrays[f"{prefix}group{i}"] = k.slope, k.group
    if net.labels is not None:
        arrays[f"{prefix}labels"] = np.array(net.labels, dtype=str)
    return arrays


def save_npz(net: ReLUNetwork, path: str | os.PathLike) -> None:
    """Write ``net`` as an ``.npz`` (``W0, b0, ...``, and its kinks and labels where it has them), atomically."""
    atomic_savez(path, network_arrays(net))
