"""PyTorch models read into a network: exported to ONNX in memory, read by the ONNX reader, checked against torch.

Owns :func:`from_torch` and the reading of ``torch.export`` programs
(``.pt2``). One reader, the ONNX one, gives every operator its meaning, so a
model means the same whether it comes as a module, a ``.pt2`` or an
``.onnx`` file. Pickled ``.pt`` files are refused: loading them runs code.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import NetworkFormatError
from ..network import ReLUNetwork
from ..tolerances import RUNTIME_AGREE_F32

# Random points at which the network read is compared with the model itself.
_CHECK_POINTS = 8

PICKLE_REFUSAL = ("a pickled PyTorch file: loading it runs the code it holds, so it is not read. Export the "
                  "model instead: torch.onnx.export(model, example, 'model.onnx') or "
                  "torch.export.save(torch.export.export(model, (example,)), 'model.pt2')")


def _torch():
    try:
        import torch
    except ImportError:
        raise NetworkFormatError("reading PyTorch models needs torch: pip install 'shallowrelu[torch]'") from None
    return torch


def from_torch(module, example_input=None, *, input_shape: tuple[int, ...] | None = None) -> ReLUNetwork:
    """The network a PyTorch module computes (in eval mode), read exactly or refused by operator.

    The module is exported to ONNX in memory (``torch.onnx.export``) and read
    by the ONNX reader: any module torch can export, a Sequential or not, with
    skip connections, LeakyReLU, PReLU, max-pooling, Hardtanh, ReLU6,
    elementwise max and min, convolutions, pooling and batch norm. A
    classifier's head (a final Softmax, LogSoftmax, Sigmoid or argmax) is read
    up to the logits, as in an ONNX file: their argmax is the module's
    prediction, and ``net.note`` says so. The network read is compared with the module (with
    its logits, where a head was left out) at random points.

    Parameters
    ----------
    module : torch.nn.Module
    example_input : torch.Tensor or tuple of int, optional
        An input with its batch axis, or the shape of one input without it
        (e.g. ``(1, 8, 8)``). Default: one input of the first Linear layer's width.
    input_shape : tuple of int, optional
        The same as giving a shape as ``example_input`` (older name).

    Returns
    -------
    ReLUNetwork
        On the flattened input.

    Raises
    ------
    TypeError
        If ``module`` is not a PyTorch module (a scikit-learn model goes to
        :func:`from_sklearn`).
    NetworkFormatError
        Naming the operator that cannot be read exactly, or if the network
        read differs from the module.
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        hint = " (a scikit-learn model: use shallowrelu.from_sklearn)" if hasattr(module, "get_params") else ""
        raise TypeError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}{hint}")
    example = _example(torch, module, input_shape if example_input is None else example_input)
    source = f"torch {type(module).__name__}"
    training = module.training
    module.eval()
    try:
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
            torch.onnx.export(module, (example,), buffer, dynamo=False, input_names=["x"])
        net = _read_bytes(buffer.getvalue(), source)
        _check(torch, module, example, net, source)
    except NetworkFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types for what it cannot export
        raise NetworkFormatError(f"{source}: torch could not export it to ONNX ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    finally:
        module.train(training)
    return net


def _example(torch, module, given):
    """An example input (batch axis first) from a tensor, a shape, or the first Linear layer."""
    if given is None:
        first = next((m for m in module.modules() if isinstance(m, torch.nn.Linear)), None)
        if first is None or next((m for m in module.modules()
                                  if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d))), None):
            raise NetworkFormatError(f"torch {type(module).__name__}: give example_input (an input, or its shape "
                                     "without the batch axis), e.g. from_torch(model, (1, 8, 8))")
        return torch.zeros(1, first.in_features)
    if isinstance(given, torch.Tensor):
        return given.detach().to(torch.float32)
    return torch.zeros((1, *[int(d) for d in given]))


def _read_bytes(data: bytes, source: str) -> ReLUNetwork:
    import onnx

    from .onnx import read_onnx_model

    return read_onnx_model(onnx.load_from_string(data), source)


def _check(torch, module, example, net: ReLUNetwork, source: str) -> None:
    """Refuse the network if the module computes something else at a few random points.

    Where the reader left a classifier's head out (its note says so), the
    network is the module's logits: it is compared with the input of the
    module's final Softmax or LogSoftmax module, or, where torch applies the
    head in ``forward`` and no module holds the logits, by its argmax with the
    module's prediction.
    """
    X = np.random.default_rng(0).normal(size=(_CHECK_POINTS, net.n_inputs))
    Y, logits = _module_outputs(torch, module, example, X)
    head = bool(net.note)
    if head and logits is not None:
        Y = logits
    mine = net(X)
    if mine.shape != Y.shape:
        return  # a head that changes the shape (ArgMax, a binary Sigmoid's one output): nothing alike to compare
    if head and logits is None:
        if not np.array_equal(mine.argmax(axis=1), Y.argmax(axis=1)):
            raise NetworkFormatError(f"{source}: the logits read predict other classes than the module; refused")
        return
    err = float(np.abs(mine - Y).max())
    if not err <= RUNTIME_AGREE_F32 * max(1.0, float(np.abs(Y).max())):
        raise NetworkFormatError(f"{source}: the network read differs from the module by {err:.3g}; refused")


def _module_outputs(torch, module, example, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The module's outputs at the rows of ``X``, and its logits where its output is that of a Softmax or
    LogSoftmax module (the input of that module; else None)."""
    last: list = []  # (output, input) of the latest head module run

    def keep(_, args, out) -> None:
        last[:] = [out, args[0]]

    heads = [m.register_forward_hook(keep) for m in module.modules()
             if isinstance(m, (torch.nn.Softmax, torch.nn.LogSoftmax))]
    rows, logits = [], []
    try:
        with torch.no_grad():
            for x in X:
                last.clear()
                out = module(torch.tensor(x, dtype=example.dtype).reshape(example.shape[1:])[None])
                rows.append(out.detach().double().numpy().reshape(1, -1))
                # the identical tensor, not an equal one: the head module is the module's last operation
                logits.append(last[1].detach().double().numpy().reshape(1, -1) if last and last[0] is out else None)
    finally:
        for handle in heads:
            handle.remove()
    return np.vstack(rows), None if any(z is None for z in logits) else np.vstack(logits)


def load_pt2(path: str | os.PathLike) -> ReLUNetwork:
    """A ``torch.export`` program (``.pt2``) read into a network (through the ONNX exporter, which needs
    onnxscript)."""
    torch = _torch()
    path = Path(path)
    try:
        program = torch.export.load(str(path))
    except Exception as exc:  # noqa: BLE001
        raise NetworkFormatError(f"{path}: not a readable torch.export program ({type(exc).__name__})") from None
    example = tuple(program.example_inputs[0]) if program.example_inputs else None
    if not example:
        raise NetworkFormatError(f"{path}: the program keeps no example input to export it with")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            onnx_program = torch.onnx.export(program, example, dynamo=True, verbose=False)
    except ImportError:
        raise NetworkFormatError(f"{path}: exporting a torch.export program needs onnxscript: "
                                 "pip install 'shallowrelu[torch]'") from None
    except Exception as exc:  # noqa: BLE001
        raise NetworkFormatError(f"{path}: torch could not export it to ONNX ({type(exc).__name__})") from None
    net = _read_bytes(onnx_program.model_proto.SerializeToString(), str(path))
    _check(torch, program.module(), example[0], net, str(path))
    return net
