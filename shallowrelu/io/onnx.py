"""ONNX graphs of affine layers and ReLUs read into a network (onnx is a default dependency).

Owns the walk over the graph's nodes and each supported operator's meaning
as an affine map. The onnx package is imported only when a file is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import NetworkFormatError
from ..network import ReLUNetwork
from ..tolerances import RUNTIME_AGREE_F32, RUNTIME_AGREE_F64
from .affine import Affine, batch_norm, conv

# Points at which the graph as read is compared with onnxruntime.
_CHECK_POINTS = 8
_CHECK_RTOL = {np.float32: RUNTIME_AGREE_F32, np.float64: RUNTIME_AGREE_F64}
# The ONNX specification's default epsilon of BatchNormalization.
_BN_EPSILON = 1e-5


def load_onnx(path: Path) -> ReLUNetwork:
    """A network from an ONNX file: the graph traced from its input to its first output."""
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
    output = g.output[0].name
    for node in _data_flow_order(g, output, set(values), path):
        where = f"{path}: node {node.name or node.output[0]!r} (op {node.op_type})"
        args = [values[name] for name in node.input if name]
        out = _onnx_op(node, args, layers, where, numpy_helper)
        values[node.output[0]] = out
    result = values[output]
    if not isinstance(result, Affine):
        raise NetworkFormatError(f"{path}: the output does not depend on the input")
    if result.stamp != len(layers):
        raise NetworkFormatError(f"{path}: output {output!r} reads the output of hidden layer {result.stamp}, "
                                 f"not the last one ({len(layers)}): a skip connection is not supported")
    layers.append((result.M, result.v))
    net = ReLUNetwork(tuple(layers), source=str(path))
    _compare_with_onnxruntime(path, model, inputs[0], net)
    return net


def _data_flow_order(graph, output: str, known: set[str], path: Path) -> list:
    """The nodes the output depends on, each after the nodes that compute its inputs.

    The order of ``graph.node`` is not trusted: each input is found by name.
    """
    producer = {}
    for node in graph.node:
        for name in node.output:
            producer[name] = node
    order, state = [], {}  # state: 1 while a node's inputs are being visited, 2 once it is placed
    stack = [(output, False)]
    while stack:
        name, ready = stack.pop()
        if name in known:
            continue
        node = producer.get(name)
        if node is None:
            raise NetworkFormatError(f"{path}: tensor {name!r} is neither an input, an initializer nor "
                                     "the output of a node")
        key = id(node)
        if ready:
            if state.get(key) != 2:
                state[key] = 2
                order.append(node)
                known.update(node.output)
            continue
        if state.get(key) == 1:
            raise NetworkFormatError(f"{path}: node {node.name or node.output[0]!r} depends on its own output")
        if state.get(key) == 2:
            continue
        state[key] = 1
        stack.append((name, True))
        stack.extend((i, False) for i in reversed(node.input) if i)
    return order


def _compare_with_onnxruntime(path: Path, model, graph_input, net: ReLUNetwork) -> None:
    """Refuse the network if onnxruntime (where installed) computes something else at a few points.

    The walk over the graph is the reader's own understanding of it; an
    independent runtime catches a graph it has misread.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        return
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - a graph onnxruntime cannot run cannot be compared
        return
    inp = session.get_inputs()[0]
    dtype = {"tensor(float)": np.float32, "tensor(double)": np.float64}.get(inp.type)
    if dtype is None or inp.name != graph_input.name:
        return
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
    X = np.random.default_rng(0).normal(size=(_CHECK_POINTS, net.n_inputs)).astype(dtype)
    try:
        Y = np.vstack([np.asarray(session.run(None, {inp.name: x.reshape(shape)})[0], np.float64).reshape(1, -1)
                       for x in X])
    except Exception:  # noqa: BLE001
        return
    if Y.shape != (_CHECK_POINTS, net.n_outputs):
        raise NetworkFormatError(f"{path}: onnxruntime gives {Y.shape[1]} outputs per point, the graph as read "
                                 f"{net.n_outputs}")
    mine = net(X.astype(np.float64))
    err = float(np.abs(mine - Y).max())
    scale = max(1.0, float(np.abs(Y).max()))
    if not err <= _CHECK_RTOL[dtype] * scale:
        raise NetworkFormatError(f"{path}: the graph as read differs from onnxruntime by {err:.3g} at random "
                                 "points; refused rather than analysed wrongly")


def _attr(node, name: str, default):
    """A node attribute's value, or ``default``."""
    for a in node.attribute:
        if a.name == name:
            return {1: a.f, 2: a.i, 3: a.s, 7: list(a.ints), 6: list(a.floats)}.get(a.type, default)
    return default


def _elementwise(x, c: np.ndarray, where: str, op) -> "Affine":
    """``op`` applied with the constant ``c`` broadcast to the traced tensor ``x``."""
    try:
        cb = np.broadcast_to(c.reshape(c.shape[-len(x.shape):]) if c.ndim > len(x.shape) else c, x.shape)
    except ValueError:
        raise NetworkFormatError(f"{where}: constant of shape {c.shape} does not broadcast to {x.shape}") from None
    return op(cb.reshape(-1))


def _onnx_op(node, args, layers, where, numpy_helper):
    """One node's output: a constant, or an :class:`Affine` map (a Relu also closes a layer)."""
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
        if x.stamp != len(layers):
            raise NetworkFormatError(f"{where}: reads the output of hidden layer {x.stamp} after hidden layer "
                                     f"{len(layers)} was computed: parallel branches are not supported")
        layers.append((x.M, x.v))
        k = x.v.size
        return Affine(np.eye(k), np.zeros(k), x.shape, len(layers))
    if op in ("Flatten", "Reshape"):
        x = args[0]
        return x.like(x.M, x.v, (x.v.size,))
    if op in ("Add", "Sub"):
        x, y = args
        sign = 1.0 if op == "Add" else -1.0
        if isinstance(x, Affine) and isinstance(y, Affine):
            if x.stamp != y.stamp:
                raise NetworkFormatError(f"{where}: adds the outputs of hidden layers {x.stamp} and {y.stamp}: "
                                         "a skip connection is not supported")
            if x.v.size != y.v.size:
                raise NetworkFormatError(f"{where}: operands of different sizes")
            return x.like(x.M + sign * y.M, x.v + sign * y.v)
        if isinstance(x, Affine):
            return _elementwise(x, y, where, lambda c: x.like(x.M, x.v + sign * c))
        return _elementwise(y, x, where, lambda c: y.like(sign * y.M, sign * y.v + c))
    if op in ("Mul", "Div") and sum(isinstance(a, Affine) for a in args) == 1:
        x, c = (args[0], args[1]) if isinstance(args[0], Affine) else (args[1], args[0])
        if op == "Div" and not isinstance(args[0], Affine):
            raise NetworkFormatError(f"{where}: dividing by the input is not affine")
        c = 1.0 / c if op == "Div" else c
        return _elementwise(x, c, where, lambda s: x.like(x.M * s[:, None], x.v * s))
    if op == "MatMul" and isinstance(args[0], Affine) and isinstance(args[1], np.ndarray) and args[1].ndim == 2:
        x, W = args
        if W.shape[0] != x.shape[-1]:
            raise NetworkFormatError(f"{where}: MatMul of shape {x.shape} by {W.shape}")
        WT = W.T
        return x.like(WT @ x.M, WT @ x.v, x.shape[:-1] + (W.shape[1],))
    if op == "MatMul" and isinstance(args[0], np.ndarray) and isinstance(args[1], Affine) and args[0].ndim == 2:
        W, x = args  # a column vector on the right: W @ x
        if W.shape[1] != x.v.size:
            raise NetworkFormatError(f"{where}: MatMul of shape {W.shape} by {x.shape}")
        return x.like(W @ x.M, W @ x.v, (W.shape[0],))
    if op == "Gemm" and isinstance(args[0], Affine):
        x, B = args[0], args[1]
        if _attr(node, "transA", 0):
            raise NetworkFormatError(f"{where}: transA is not supported")
        B = B.T if _attr(node, "transB", 0) else B
        alpha, beta = _attr(node, "alpha", 1.0), _attr(node, "beta", 1.0)
        C = args[2] if len(args) > 2 else np.zeros(B.shape[1])
        BT = alpha * B.T
        return x.like(BT @ x.M, BT @ x.v + beta * np.broadcast_to(C, (B.shape[1],)), (B.shape[1],))
    if op == "BatchNormalization" and isinstance(args[0], Affine):
        return batch_norm(args[0], *args[1:5], _attr(node, "epsilon", _BN_EPSILON))
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
