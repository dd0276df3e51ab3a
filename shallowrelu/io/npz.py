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
from ..network import ReLUNetwork
from .files import atomic_savez, read_npz

_KEY = re.compile(r"^([Wb])(\d+)$")


def load_npz(path: Path) -> ReLUNetwork:
    """A network from an ``.npz`` file of arrays ``W0, b0, W1, b1, ...``."""
    return network_from_arrays(read_npz(path, NetworkFormatError, "network"), source=str(path))


def network_from_arrays(arrays: dict[str, np.ndarray], source: str = "<memory>") -> ReLUNetwork:
    """Build a network from ``{"W0": ..., "b0": ..., "W1": ...}``.

    Parameters
    ----------
    arrays : dict of str to ndarray
        ``Wi`` shaped ``(out, in)`` and ``bi`` shaped ``(out,)`` for ``i = 0..L``.
    source : str
        Where the arrays came from, for messages.

    Raises
    ------
    NetworkFormatError
        On missing, extra or malformed arrays.
    """
    found: dict[tuple[str, int], np.ndarray] = {}
    for key, value in arrays.items():
        m = _KEY.match(key)
        if m is None:
            raise NetworkFormatError(f"{source}: unexpected array {key!r} (expected W0, b0, W1, b1, ...)")
        found[(m.group(1), int(m.group(2)))] = value
    if not found:
        raise NetworkFormatError(f"{source}: no arrays W0, b0, ... found")
    n_layers = 1 + max(i for _, i in found)
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
    return ReLUNetwork(tuple(layers), source=source)


def save_npz(net: ReLUNetwork, path: str | os.PathLike) -> None:
    """Write ``net`` as an ``.npz`` (``W0, b0, ...``), atomically."""
    arrays = {}
    for i, (W, b) in enumerate(net.layers):
        arrays[f"W{i}"], arrays[f"b{i}"] = W, b
    atomic_savez(path, arrays)
