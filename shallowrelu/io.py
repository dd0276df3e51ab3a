"""Loading and saving networks. Files come from other people: nothing is unpickled."""

from __future__ import annotations

import os
import re
import tempfile
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


def read_npz(path: str | os.PathLike, error: type[Exception], what: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, refusing pickled objects.

    Raises
    ------
    error
        With the file name and the reason, if the file is missing or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such {what} file")
    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04":
        raise error(f"{path}: not a .npz {what} file (no zip header{'; the file is empty' if not head else ''})")
    try:
        # Opened here so that the handle is closed even when numpy fails on a bad zip.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise error(f"{path}: holds pickled Python objects, which are refused") from None
        raise error(f"{path}: not a readable .npz {what} file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise error(f"{path}: not a readable .npz {what} file ({exc})") from None


def _load_npz(path: Path) -> ReLUNetwork:
    return network_from_arrays(read_npz(path, NetworkFormatError, "network"), source=str(path))


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
    arrays = {}
    for i, (W, b) in enumerate(net.layers):
        arrays[f"W{i}"], arrays[f"b{i}"] = W, b
    atomic_savez(path, arrays)


def atomic_savez(path: str | os.PathLike, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` as a compressed ``.npz``, atomically and byte-reproducibly.

    The file is written under a temporary name in the same directory and
    renamed when complete. Zip entries carry a fixed timestamp, so the same
    arrays always give the same bytes (``np.savez`` stamps the current time).

    Raises
    ------
    OSError
        If the directory does not exist or is not writable; nothing is left behind.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(arrays):
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(arrays[name]), allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def example_path() -> Path:
    """Path of the example network shipped with the package (2 inputs, hidden 8-8, 2 outputs)."""
    return Path(__file__).parent / "data" / "example.npz"
