"""The one way in and out for network files: the format by suffix (an ``.npz`` also by its content), and the
example that ships with the package."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import NetworkFormatError
from ..network import ReLUNetwork
from .files import is_npz
from .nnet import load_nnet
from .npz import load_npz, save_npz
from .onnx import load_onnx


def load_network(path: str | os.PathLike, normalize: bool = False, *, tensor: str | None = None) -> ReLUNetwork:
    """Read a network from a file.

    Parameters
    ----------
    path : str or path
        ``.npz`` with arrays ``W0, b0, W1, b1, ...`` (``W`` shaped ``(out, in)``
        as in PyTorch; ReLU after every layer but the last unless arrays
        ``slope{i}``, ``group{i}`` give other kinks); ``.onnx`` (as exported by
        PyTorch, scikit-learn or other tools: affine layers, convolutions,
        pooling, normalisation, ReLU and other piecewise-linear activations,
        skip connections; a classifier's head is read up to its logits);
        ``.pt2`` (a ``torch.export`` program); or ``.nnet`` (the ACAS Xu text
        format). Pickled PyTorch files (``.pt``, ``.pth``) are refused: loading
        them runs code. A file with no (or another) extension is read as an
        ``.npz`` when its content is one.
    normalize : bool
        ``.nnet`` only: fold the file's input normalisation and output
        scaling into the network, so that it takes raw inputs and gives raw
        outputs. By default the network is the one the file stores (normalised
        inputs, as in the ACAS Xu ONNX files and VNN-LIB properties).
    tensor : str, optional
        ``.onnx`` only: the tensor to analyse (default: the first output).

    Returns
    -------
    ReLUNetwork

    Raises
    ------
    NetworkFormatError
        If the file is missing, unreadable, or not a valid network; the
        message names the file and the array or node at fault.

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
    if tensor is not None and suffix != ".onnx":
        raise NetworkFormatError(f"{path}: a tensor to analyse can only be chosen in an ONNX file")
    if suffix == ".npz":
        return load_npz(path)
    if suffix == ".onnx":
        return load_onnx(path, tensor)
    if suffix == ".nnet":
        return load_nnet(path, normalize)
    if suffix == ".pt2":
        from .torch import load_pt2

        return load_pt2(path)
    if suffix in (".pt", ".pth", ".pkl", ".pickle"):
        from .torch import PICKLE_REFUSAL

        raise NetworkFormatError(f"{path}: {PICKLE_REFUSAL}")
    if is_npz(path):  # an .npz under a name without its extension (renamed, or written by another tool)
        return load_npz(path)
    raise NetworkFormatError(f"{path}: unknown network format {suffix or '(no extension)'!r}; "
                             "expected .npz, .onnx, .pt2 or .nnet")


def example_path() -> Path:
    """Path of the example network shipped with the package (2 inputs, hidden 8-8, 2 outputs)."""
    return Path(__file__).parent.parent / "data" / "example.npz"


def save_network(net: ReLUNetwork, path: str | os.PathLike) -> None:
    """Write ``net`` to a file, atomically, in the format its suffix names.

    Parameters
    ----------
    net : ReLUNetwork
    path : str or path
        ``.npz`` (arrays ``W0, b0, W1, b1, ...``, the project's own format)
        or ``.onnx`` (a float64 graph of MatMul, Add and its activations,
        Relu or PRelu and ReduceMax, that :func:`load_network`, onnxruntime
        and verification tools read; class labels are not kept in it).

    Raises
    ------
    NetworkFormatError
        For any other suffix.

    Examples
    --------
    >>> import tempfile, pathlib, shallowrelu as sr
    >>> net = sr.load_network(sr.example_path())
    >>> with tempfile.TemporaryDirectory() as d:
    ...     sr.save_network(net, pathlib.Path(d) / "net.onnx")
    ...     sr.load_network(pathlib.Path(d) / "net.onnx").fingerprint() == net.fingerprint()
    True
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        save_npz(net, path)
    elif suffix == ".onnx":
        from .onnx_export import deep_onnx_model, save_onnx_model

        save_onnx_model(deep_onnx_model(list(net.layers), net.kinks, doc=f"from {net.source}"), path)
    else:
        raise NetworkFormatError(f"{path}: cannot write networks as {suffix or '(no extension)'!r}; "
                                 "use .npz or .onnx")
