"""ONNX graphs read into a network: traced in data-flow order, lowered to layers, checked by onnxruntime.

Owns the walk over the graph (each node's inputs found by name, only the
nodes the analysed tensor depends on), the classifier heads read up to the
logits (Softmax, ArgMax, ZipMap, a binary Sigmoid, with their class labels),
skl2onnx's Scaler, and the comparison with onnxruntime that refuses a graph
read differently from how onnxruntime runs it. What each operator means is
:mod:`.onnx_ops`'s, the lowering to layers :mod:`.trace`'s. The onnx package
is imported only when a file is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import NetworkFormatError
from ..network import ReLUNetwork
from ..tolerances import RUNTIME_AGREE_F32, RUNTIME_AGREE_F64
from .onnx_ops import OPS, UnsupportedOp, Value
from .trace import Traced, Tracer

# Points at which the graph as read is compared with onnxruntime.
_CHECK_POINTS = 8
_CHECK_RTOL = {np.float32: RUNTIME_AGREE_F32, np.float64: RUNTIME_AGREE_F64}
# Operators of a classifier's head, read up to the logits before them.
_HEAD_OPS = ("ArgMax", "ZipMap", "ArrayFeatureExtractor", "Softmax", "LogSoftmax", "Sigmoid")
# Operators that pass a head's values on unchanged (a label cast, reshaped).
_PASS_OPS = ("Cast", "Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten")


def load_onnx(path: Path, tensor: str | None = None) -> ReLUNetwork:
    """A network from an ONNX file: the graph traced from its input to ``tensor`` (default: its first output).

    A classifier's head is read up to the logits (``net.note`` says so) and
    its class labels are kept.
    """
    try:
        import onnx
    except ImportError:
        raise NetworkFormatError(f"{path}: reading ONNX needs the onnx package: pip install onnx") \
            from None
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - onnx raises many types on malformed files
        raise NetworkFormatError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
    return read_onnx_model(model, str(path), tensor)


def read_onnx_model(model, path: str, tensor: str | None = None) -> ReLUNetwork:
    """:func:`load_onnx` of a model already in memory (``path`` names it in messages)."""
    from onnx import numpy_helper

    g = model.graph
    consts: dict[str, Value] = {}
    for init in g.initializer:
        a = numpy_helper.to_array(init)
        consts[init.name] = a.astype(np.float64) if a.dtype.kind == "f" else a
    inputs = [i for i in g.input if i.name not in consts]  # ACAS Xu lists initializers as inputs too
    if len(inputs) != 1:
        raise NetworkFormatError(f"{path}: expected one graph input, found {[i.name for i in inputs]}")
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in inputs[0].type.tensor_type.shape.dim]
    shape = tuple(d for d in dims[1:]) if len(dims) > 1 else tuple(dims)
    shape = tuple(d if d > 0 else 1 for d in shape) or (1,)
    n = int(np.prod(shape))
    if n <= 0 or n > 10**6:
        raise NetworkFormatError(f"{path}: input {inputs[0].name!r} has unusable shape {dims}")
    producer = {name: node for node in g.node for name in node.output}
    target = tensor or g.output[0].name
    if target not in producer and target != inputs[0].name:
        raise NetworkFormatError(f"{path}: no tensor {target!r} in the graph (outputs: "
                                 f"{', '.join(o.name for o in g.output)})")
    logits, binary, labels, head = _read_head(target, producer, consts)
    tracer = Tracer(n, path)
    values: dict[str, Value] = dict(consts)
    values[inputs[0].name] = tracer.input(shape)
    for node in _data_flow_order(g, logits, set(values), path):
        where = f"{path}: node {node.name or node.output[0]!r} (op {node.op_type})"
        args = [values[name] if name else None for name in node.input]
        while args and args[-1] is None:
            args.pop()
        try:
            outs = _apply(tracer, node, args)
        except UnsupportedOp as exc:
            raise NetworkFormatError(f"{where} is not supported: {exc}") from None
        except (ValueError, IndexError, TypeError) as exc:
            raise NetworkFormatError(f"{where}: {exc}") from None
        for name, out in zip(node.output, outs):
            if name:
                values[name] = out
    result = values[logits]
    if not isinstance(result, Traced):
        raise NetworkFormatError(f"{path}: tensor {logits!r} does not depend on the input")
    flat = result.reshape((result.size,))
    binary = binary and flat.size == 1  # a Sigmoid on several logits (multi-label) leaves them as they are
    if binary:  # one logit z of class 1: the outputs (0, z) have the classifier's argmax
        flat = Traced({b: np.vstack([np.zeros_like(P), P]) for b, P in flat.parts.items()},
                      np.array([0.0, flat.v[0]]), (2,))
    if labels is not None and len(labels) != flat.size:
        labels = None
    note = ""
    if head:
        kept = f"; labels {', '.join(labels)}" if labels is not None else ""
        note = f"read up to the logits {logits!r} (the {head} head left out){kept}"
    net = tracer.network(flat, str(path), labels, note)
    _compare_with_onnxruntime(path, model, inputs[0], net, logits, binary)
    return net


def _apply(tracer: Tracer, node, args: list) -> list[Value]:
    """The outputs of one node."""
    if node.domain == "ai.onnx.ml":
        if node.op_type == "Scaler":
            return [_scaler(node, args[0])]
        if node.op_type == "Normalizer":
            raise UnsupportedOp("Normalizer divides by a norm of the input: not piecewise linear")
        raise UnsupportedOp("an ai.onnx.ml operator other than Scaler")
    if node.domain not in ("", "ai.onnx"):
        raise UnsupportedOp(f"the operator domain {node.domain!r}")
    op = OPS.get(node.op_type)
    if op is None:
        raise UnsupportedOp(f"{node.op_type} is not piecewise linear, or has no exact reading here "
                            "(docs/formats.md lists the operators read)")
    return op(tracer, node, *args)


def _scaler(node, x: Value) -> Value:
    """skl2onnx's Scaler: ``(x - offset) * scale``, per feature or one for all."""
    from .onnx_ops import _attrs, _flat_const

    a = _attrs(node)
    offset, scale = np.asarray(a.get("offset", [0.0]), float), np.asarray(a.get("scale", [1.0]), float)
    if not isinstance(x, Traced):
        return (x - offset) * scale
    s = _flat_const(scale, x.shape)
    return x.scale(s, -_flat_const(offset, x.shape) * s)


def _read_head(target: str, producer: dict, consts: dict) -> tuple[str, bool, tuple[str, ...] | None, str]:
    """Walk back from ``target`` through a classifier's head to its logits.

    Returns the logits' name, whether they are one logit of a binary
    classifier (a Sigmoid head), the class labels where the head names them,
    and the head's operators in words ("" where there is no head).
    """
    labels, binary, seen = None, False, []

    def is_head(name: str) -> bool:
        node = producer.get(name)
        if node is None:
            return False
        if node.op_type in _HEAD_OPS:
            return True
        if node.op_type in _PASS_OPS or node.op_type == "Concat":
            return any(is_head(i) for i in node.input if i)
        return False

    t = target
    while is_head(t):
        node = producer[t]
        op = node.op_type
        if op not in seen and op not in _PASS_OPS:
            seen.append(op)
        if op == "ArrayFeatureExtractor":
            classes = consts.get(node.input[0])
            if classes is not None:
                labels = tuple(str(v.decode() if isinstance(v, bytes) else v) for v in np.ravel(classes))
            t = node.input[1]
        elif op == "ZipMap":
            for a in node.attribute:
                if a.name in ("classlabels_int64s", "classlabels_strings"):
                    values = a.ints if a.name.endswith("int64s") else [s.decode() for s in a.strings]
                    labels = labels or tuple(str(v) for v in values)
            t = node.input[0]
        elif op == "Concat":
            # skl2onnx's binary head: Concat(1 - p, p) of p = Sigmoid(z)
            heads = [i for i in node.input if is_head(i)]
            t = heads[-1]
        elif op == "Sigmoid":
            binary = True
            t = node.input[0]
        else:  # ArgMax, Softmax, LogSoftmax and the passes keep the argmax of their input
            t = next(i for i in node.input if i)
    return t, binary, labels, ", ".join(seen)


def _data_flow_order(graph, output: str, known: set[str], path: str) -> list:
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


def _runtime_session(model, logits: str, graph_input):
    """An onnxruntime session computing ``logits`` (made an output of a copy of the graph, so that a head
    left out is no obstacle), with its input's precision and shape; None where onnxruntime is not installed
    or cannot run the graph."""
    try:
        import onnxruntime as ort
        from onnx import helper
    except ImportError:
        return None
    probe = type(model)()
    probe.CopyFrom(model)
    if logits not in [o.name for o in probe.graph.output]:
        probe.graph.output.append(helper.make_empty_tensor_value_info(logits))
    try:
        session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - a graph onnxruntime cannot run cannot be compared
        return None
    inp = session.get_inputs()[0]
    dtype = {"tensor(float)": np.float32, "tensor(double)": np.float64}.get(inp.type)
    if dtype is None or inp.name != graph_input.name:
        return None
    return session, inp.name, dtype, [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]


def _run(runtime, logits: str, X: np.ndarray, binary: bool) -> np.ndarray | None:
    """The runtime's ``logits`` at the rows of ``X`` (in the model's precision), as our outputs are laid out."""
    session, name, dtype, shape = runtime
    try:
        Y = np.vstack([np.asarray(session.run([logits], {name: x.astype(dtype).reshape(shape)})[0],
                                  np.float64).reshape(1, -1) for x in X])
    except Exception:  # noqa: BLE001
        return None
    return np.hstack([np.zeros_like(Y), Y]) if binary and Y.shape[1] == 1 else Y


def runtime_outputs(path: str, X: np.ndarray, tensor: str | None = None) -> np.ndarray | None:
    """onnxruntime's outputs of the ONNX file ``path`` at the rows of ``X``, in the model's own precision.

    The tensor is the one :func:`load_onnx` reads (``tensor``, or the
    logits before a classifier's head). None where the file is not ONNX or
    onnxruntime cannot run it.
    """
    if not str(path).endswith(".onnx"):
        return None
    try:
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(path))
    except Exception:  # noqa: BLE001 - the file was read before; a failure here only means no check
        return None
    g = model.graph
    consts = {init.name for init in g.initializer}
    inputs = [i for i in g.input if i.name not in consts]
    producer = {name: node for node in g.node for name in node.output}
    try:
        logits, binary, _, _ = _read_head(tensor or g.output[0].name, producer,
                                          {i.name: numpy_helper.to_array(i) for i in g.initializer})
    except (NetworkFormatError, StopIteration):
        return None
    runtime = _runtime_session(model, logits, inputs[0]) if len(inputs) == 1 else None
    return None if runtime is None else _run(runtime, logits, X, binary)


def _compare_with_onnxruntime(path: str, model, graph_input, net: ReLUNetwork, logits: str, binary: bool) -> None:
    """Refuse the network if onnxruntime (where installed) computes another ``logits`` at a few points.

    The walk over the graph is the reader's own understanding of it; an
    independent runtime catches a graph it has misread.
    """
    runtime = _runtime_session(model, logits, graph_input)
    if runtime is None:
        return
    X = np.random.default_rng(0).normal(size=(_CHECK_POINTS, net.n_inputs)).astype(runtime[2])
    Y = _run(runtime, logits, X, False)
    if Y is None:
        return
    mine = net(X.astype(np.float64))
    if binary:
        mine = mine[:, 1:] - mine[:, :1]
    if Y.shape != mine.shape:
        raise NetworkFormatError(f"{path}: onnxruntime gives {Y.shape[1]} values per point for {logits!r}, the "
                                 f"graph as read {mine.shape[1]}")
    err = float(np.abs(mine - Y).max())
    scale = max(1.0, float(np.abs(Y).max()))
    if not err <= _CHECK_RTOL[runtime[2]] * scale:
        raise NetworkFormatError(f"{path}: the graph as read differs from onnxruntime by {err:.3g} at random "
                                 "points; refused rather than analysed wrongly")
