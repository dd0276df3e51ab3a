"""ONNX graphs of affine layers and ReLUs read into a network (onnx is a default dependency).

Owns the walk over the graph's nodes and each supported operator's meaning
as an affine map. The onnx package is imported only when a file is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import NetworkFormatError
from ..network import ReLUNetwork
from .affine import Affine, batch_norm, conv


def load_onnx(path: Path) -> ReLUNetwork:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise NetworkFormatError(f"{path}: reading ONNX needs the onnx package: pip install onnx") \
            from None
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - onnx raises many types on malformed files
        raise NetworkFormatError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
    g = model.graph
    values: dict[str, object] = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in g.initializer}
    inputs = [i for i in g.input if i.name not in values]  # ACAS Xu lists initializers as inputs too
    if len(inputs) != 1:
        raise NetworkFormatError(f"{path}: expected one graph input, found {[i.name for i in inputs]}")
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in inputs[0].type.tensor_type.shape.dim]
    shape = tuple(d for d in dims[1:]) if len(dims) > 1 else tuple(dims)
    shape = tuple(d if d > 0 else 1 for d in shape) or (1,)
    n = int(np.prod(shape))
    if n <= 0 or n > 10**6:
        raise NetworkFormatError(f"{path}: input {inputs[0].name!r} has unusable shape {dims}")
    values[inputs[0].name] = Affine(np.eye(n), np.zeros(n), shape)
    layers: list = []
    for node in g.node:
        where = f"{path}: node {node.name or node.output[0]!r} (op {node.op_type})"
        args = [values.get(name) for name in node.input if name]
        if any(a is None for a in args):
            raise NetworkFormatError(f"{where}: an input is not computed before it")
        out = _onnx_op(node, args, layers, where, numpy_helper)
        values[node.output[0]] = out
    result = values.get(g.output[0].name)
    if not isinstance(result, Affine):
        raise NetworkFormatError(f"{path}: the output does not depend on the input")
    layers.append((result.M, result.v))
    return ReLUNetwork(tuple(layers), source=str(path))


def _attr(node, name: str, default):
    for a in node.attribute:
        if a.name == name:
            return {1: a.f, 2: a.i, 3: a.s, 7: list(a.ints), 6: list(a.floats)}.get(a.type, default)
    return default


def _elementwise(x, c: np.ndarray, where: str, op) -> "Affine":
    try:
        cb = np.broadcast_to(c.reshape(c.shape[-len(x.shape):]) if c.ndim > len(x.shape) else c, x.shape)
    except ValueError:
        raise NetworkFormatError(f"{where}: constant of shape {c.shape} does not broadcast to {x.shape}") from None
    return op(cb.reshape(-1))


def _onnx_op(node, args, layers, where, numpy_helper):
    op = node.op_type
    consts = all(isinstance(a, np.ndarray) for a in args)
    if op == "Constant":
        return numpy_helper.to_array(node.attribute[0].t).astype(np.float64)
    if op == "Identity":
        return args[0]
    if consts and op in ("Add", "Sub", "Mul", "Div", "MatMul", "Reshape", "Flatten"):
        a = args
        return {"Add": lambda: a[0] + a[1], "Sub": lambda: a[0] - a[1], "Mul": lambda: a[0] * a[1],
                "Div": lambda: a[0] / a[1], "MatMul": lambda: a[0] @ a[1],
                "Reshape": lambda: a[0].reshape([int(v) for v in a[1]]),
                "Flatten": lambda: a[0].reshape(a[0].shape[0], -1)}[op]()
    if op == "Relu":
        x = args[0]
        layers.append((x.M, x.v))
        k = x.v.size
        return Affine(np.eye(k), np.zeros(k), x.shape)
    if op in ("Flatten", "Reshape"):
        x = args[0]
        return Affine(x.M, x.v, (x.v.size,))
    if op in ("Add", "Sub"):
        x, y = args
        sign = 1.0 if op == "Add" else -1.0
        if isinstance(x, Affine) and isinstance(y, Affine):
            if x.v.size != y.v.size:
                raise NetworkFormatError(f"{where}: operands of different sizes")
            return Affine(x.M + sign * y.M, x.v + sign * y.v, x.shape)
        if isinstance(x, Affine):
            return _elementwise(x, y, where, lambda c: Affine(x.M, x.v + sign * c, x.shape))
        return _elementwise(y, x, where, lambda c: Affine(sign * y.M, sign * y.v + c, y.shape))
    if op in ("Mul", "Div") and sum(isinstance(a, Affine) for a in args) == 1:
        x, c = (args[0], args[1]) if isinstance(args[0], Affine) else (args[1], args[0])
        if op == "Div" and not isinstance(args[0], Affine):
            raise NetworkFormatError(f"{where}: dividing by the input is not affine")
        c = 1.0 / c if op == "Div" else c
        return _elementwise(x, c, where, lambda s: Affine(x.M * s[:, None], x.v * s, x.shape))
    if op == "MatMul" and isinstance(args[0], Affine) and isinstance(args[1], np.ndarray) and args[1].ndim == 2:
        x, W = args
        if W.shape[0] != x.shape[-1]:
            raise NetworkFormatError(f"{where}: MatMul of shape {x.shape} by {W.shape}")
        WT = W.T
        return Affine(WT @ x.M, WT @ x.v, x.shape[:-1] + (W.shape[1],))
    if op == "MatMul" and isinstance(args[0], np.ndarray) and isinstance(args[1], Affine) and args[0].ndim == 2:
        W, x = args  # a column vector on the right: W @ x
        if W.shape[1] != x.v.size:
            raise NetworkFormatError(f"{where}: MatMul of shape {W.shape} by {x.shape}")
        return Affine(W @ x.M, W @ x.v, (W.shape[0],))
    if op == "Gemm" and isinstance(args[0], Affine):
        x, B = args[0], args[1]
        if _attr(node, "transA", 0):
            raise NetworkFormatError(f"{where}: transA is not supported")
        B = B.T if _attr(node, "transB", 0) else B
        alpha, beta = _attr(node, "alpha", 1.0), _attr(node, "beta", 1.0)
        C = args[2] if len(args) > 2 else np.zeros(B.shape[1])
        BT = alpha * B.T
        return Affine(BT @ x.M, BT @ x.v + beta * np.broadcast_to(C, (B.shape[1],)), (B.shape[1],))
    if op == "BatchNormalization" and isinstance(args[0], Affine):
        return batch_norm(args[0], *args[1:5], _attr(node, "epsilon", 1e-5))
    if op == "Conv" and isinstance(args[0], Affine) and all(isinstance(a, np.ndarray) for a in args[1:]):
        x, weight = args[0], args[1]
        k = weight.ndim - 2
        if _attr(node, "auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
            raise NetworkFormatError(f"{where}: auto_pad other than NOTSET/VALID is not supported")
        return conv(x, weight, args[2] if len(args) > 2 else None, _attr(node, "strides", [1] * k),
                    _attr(node, "pads", [0] * 2 * k), _attr(node, "dilations", [1] * k), _attr(node, "group", 1),
                    where)
    raise NetworkFormatError(f"{where} is not supported (supported: MatMul, Gemm, Conv, Add, Sub, Mul, Div by "
                             "constants, Relu, Flatten, Reshape, Identity, Constant, BatchNormalization)")
