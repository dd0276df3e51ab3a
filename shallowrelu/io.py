"""Loading and saving networks. Files come from other people: nothing is unpickled."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import numpy as np

from .errors import NetworkFormatError
from .network import ReLUNetwork

_KEY = re.compile(r"^([Wb])(\d+)$")


def load_network(path: str | os.PathLike) -> ReLUNetwork:
    """Read a ReLU network from a file.

    Parameters
    ----------
    path : str or path
        ``.npz`` with arrays ``W0, b0, W1, b1, ...``; ``W`` shaped ``(out, in)``
        as in PyTorch; ReLU after every layer but the last.

    Returns
    -------
    ReLUNetwork

    Raises
    ------
    NetworkFormatError
        If the file is missing, unreadable, or not a valid network; the
        message names the file and the array at fault.

    Examples
    --------
    >>> import shallowrelu as sr
    >>> net = sr.load_network(sr.example_path())
    >>> net.n_inputs, net.hidden_sizes
    (2, (8, 8))
    """
    path = Path(path)
    if not path.exists():
        raise NetworkFormatError(f"{path}: no such file")
    if path.is_dir():
        raise NetworkFormatError(f"{path}: is a directory, not a network file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path)
    raise NetworkFormatError(f"{path}: unknown network format {suffix or '(no extension)'!r}; expected .npz")


def _load_npz(path: Path) -> ReLUNetwork:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise NetworkFormatError(f"{path}: holds pickled Python objects, which are refused") from None
        raise NetworkFormatError(f"{path}: not a readable .npz file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise NetworkFormatError(f"{path}: not a readable .npz file ({exc})") from None
    return network_from_arrays(arrays, source=str(path))


def network_from_arrays(arrays: dict[str, np.ndarray], source: str = "<memory>") -> ReLUNetwork:
    """Build a network from ``{"W0": ..., "b0": ..., "W1": ...}``.

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


def save_network(net: ReLUNetwork, path: str | os.PathLike) -> None:
    """Write ``net`` as an ``.npz`` (``W0, b0, ...``), atomically."""
    from .catalogue import atomic_savez

    arrays = {}
    for i, (W, b) in enumerate(net.layers):
        arrays[f"W{i}"], arrays[f"b{i}"] = W, b
    atomic_savez(path, arrays)


def example_path() -> Path:
    """Path of the example network shipped with the package (2 inputs, hidden 8-8, 2 outputs)."""
    return Path(__file__).parent / "data" / "example.npz"
