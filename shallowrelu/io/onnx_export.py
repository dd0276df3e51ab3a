"""Networks as standard ONNX graphs (float64): the deep network, and the shallow one exactly.

Owns both graphs. In the shallow network's, a ``-inf`` weight on a layer-1 neuron ``u`` makes a layer-2
neuron ``relu(z - inf * u)`` equal to 0 where ``u > 0`` and to ``relu(z)``
where ``u = 0`` (``inf * 0 = 0``); the graph computes exactly that with a
comparison and ``Where``, never a big finite number in place of ``inf``.
Takes plain arrays, so it knows nothing of how the network was built.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import ShallowReLUError
from .files import atomic_path


def _initializer(name: str, value):
    """An initializer of a graph: ``value`` under ``name``."""
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value), name)


def shallow_onnx_model(W1: np.ndarray, b1: np.ndarray, maps: np.ndarray, offsets: np.ndarray,
                       guard_ptr: np.ndarray, guard: np.ndarray, coeff: np.ndarray, b3: np.ndarray,
                       opset: int | None = None, doc: str = "", *, chunk_bytes: int):
    """The ONNX model of a shallow network given gate by gate.

    The points go through the gates in chunks (a ``Scan`` over the batch,
    padded to whole chunks), so that the graph's memory does not grow with
    the batch beyond its input and output: onnxruntime holds a few of a
    chunk's intermediate arrays at once.

    Parameters
    ----------
    W1, b1 : ndarray
        Layer 1; its first ``2 n`` neurons are ``relu(x)`` and ``relu(-x)``.
    maps, offsets : ndarray, shapes (G, m, n) and (G, m)
        The affine map each gate passes (``A_G``, ``d_G``).
    guard_ptr, guard : ndarray of int
        Per gate, the layer-1 neurons with weight ``-inf`` in its layer-2 neurons.
    coeff : ndarray, shape (G,)
        The gates' coefficients ``c_G`` (layer 3 has ``+-c_G``).
    b3 : ndarray, shape (m,)
    opset : int, optional
        Default: the newest the installed ``onnx`` package knows.
    doc : str
        The model's doc string.
    chunk_bytes : int
        The working memory of one chunk of points (at least one point per chunk).

    Returns
    -------
    onnx.ModelProto
        Input ``x`` of shape ``(N, n)``, output ``y`` of shape ``(N, m)``, float64.
    """
    try:
        import onnx
        from onnx import helper
    except ImportError:  # pragma: no cover - onnx is a default dependency
        raise ShallowReLUError("exporting to ONNX needs the onnx package: pip install onnx") from None
    opset = opset or onnx.defs.onnx_opset_version()
    if opset < 18:
        raise ShallowReLUError(f"ONNX opset {opset} is too old; the graph needs opset 18 or newer")
    n, m = W1.shape[1], offsets.shape[1]
    inits, body, guard_entries = _gate_graph(W1, b1, maps, offsets, guard_ptr, guard, coeff, b3)
    # per point: the guard values twice (gathered, reduced), a dozen arrays of G x m, layer 1 twice
    per_point = 8 * (2 * guard_entries + 12 * offsets.size + 2 * W1.shape[0])
    chunk = max(1, chunk_bytes // per_point)
    # the gates' initializers one_col = [1], n0 = [0] and n1 = [n] serve the chunking too
    inits += [_initializer(name, np.array(values, dtype=np.int64)) for name, values in
              (("chunk_cap", [chunk]), ("chunk_cap_less_one", [chunk - 1]), ("rows_by_outputs", [-1, m]))]
    N = helper.make_node
    nodes = [
        # trips = max(ceil(N / cap), 1) chunks of ceil(N / trips) points: the padding is under one per trip
        N("Shape", ["x"], ["batch_shape"]), N("Slice", ["batch_shape", "n0", "one_col"], ["points"]),
        N("Add", ["points", "chunk_cap_less_one"], ["points_up"]), N("Div", ["points_up", "chunk_cap"], ["trips0"]),
        N("Max", ["trips0", "one_col"], ["trips"]),
        N("Add", ["points", "trips"], ["points_trips"]), N("Sub", ["points_trips", "one_col"], ["chunk_up"]),
        N("Div", ["chunk_up", "trips"], ["chunk"]),
        N("Mul", ["trips", "chunk"], ["padded_points"]), N("Sub", ["padded_points", "points"], ["pad_rows"]),
        N("Concat", ["n0", "n0", "pad_rows", "n0"], ["pads"], axis=0),
        N("Pad", ["x", "pads"], ["x_padded"]),
        N("Concat", ["trips", "chunk", "n1"], ["chunks_shape"], axis=0),
        N("Reshape", ["x_padded", "chunks_shape"], ["x_chunks"], allowzero=1),
        N("Scan", ["x_chunks"], ["y_chunks"], num_scan_inputs=1, body=body),
        N("Reshape", ["y_chunks", "rows_by_outputs"], ["y_padded"]),
        N("Slice", ["y_padded", "n0", "points"], ["y"]),
    ]
    return _model(nodes, inits, "shallowrelu_shallow_network", n, m, opset, doc)


def _gate_graph(W1: np.ndarray, b1: np.ndarray, maps: np.ndarray, offsets: np.ndarray, guard_ptr: np.ndarray,
                guard: np.ndarray, coeff: np.ndarray, b3: np.ndarray) -> tuple[list, object, int]:
    """The shallow network on one chunk of points: the outer graph's initializers, the ``Scan`` body
    and the number of guard entries per point (padding included).

    The body reads its weights from the outer graph (ONNX's outer scope),
    so they are stored once; its input is ``xc`` (points by inputs), its output ``yc``.
    """
    from onnx import TensorProto, helper

    H, n = W1.shape
    G, m = offsets.shape
    counts = np.diff(guard_ptr)
    # Gates go in groups by guard length (up to the next power of two), each group's guards padded
    # with a column of exact zeros appended to layer 1 (index H): memory per point is then about the
    # number of guard entries, not G times the longest guard.
    width = 2 ** np.ceil(np.log2(np.maximum(counts, 1))).astype(np.int64)
    groups, padded = [], []
    for k in np.unique(width):
        gates = np.flatnonzero(width == k)
        c = counts[gates]
        row = np.repeat(np.arange(gates.size), c)
        slot = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
        block = np.full((gates.size, int(k)), H, dtype=np.int64)
        block[row, slot] = guard[np.repeat(guard_ptr[gates], c) + slot]
        groups.append(gates)
        padded.append(block)
    back = np.argsort(np.concatenate(groups)) if groups else np.zeros(0, dtype=np.int64)

    const = _initializer
    inits = [const("W1T", W1.T.astype(np.float64)), const("b1", b1.astype(np.float64)),
             const("back", back),
             const("maps", maps.reshape(G * m, n).T.astype(np.float64)),
             const("offsets", offsets.ravel().astype(np.float64)),
             const("gates_by_outputs", np.array([-1, G, m], dtype=np.int64)),
             const("coeff", coeff.reshape(G, 1).astype(np.float64)), const("b3", b3.astype(np.float64)),
             const("zero", np.array(0.0)), const("one_col", np.array([1], dtype=np.int64)),
             const("axis1", np.array([1], dtype=np.int64)),
             const("axis2", np.array([2], dtype=np.int64)), const("n0", np.array([0], dtype=np.int64)),
             const("n1", np.array([n], dtype=np.int64)), const("n2", np.array([2 * n], dtype=np.int64))]
    for i, block in enumerate(padded):
        inits += [const(f"guard{i}", block.ravel()),
                  const(f"guard_shape{i}", np.array([-1, *block.shape], dtype=np.int64))]
    N = helper.make_node
    nodes = [
        # layer 1
        N("MatMul", ["xc", "W1T"], ["l1_lin"]), N("Add", ["l1_lin", "b1"], ["l1_pre"]), N("Relu", ["l1_pre"], ["h1"]),
        # which gates are closed: some guard neuron positive (padding reads a column of exact zeros)
        N("Shape", ["xc"], ["x_shape"]), N("Slice", ["x_shape", "n0", "one_col"], ["batch"]),
        N("Concat", ["batch", "one_col"], ["pad_shape"], axis=0),
        N("ConstantOfShape", ["pad_shape"], ["pad"], value=helper.make_tensor("v", TensorProto.DOUBLE, [1], [0.0])),
        N("Concat", ["h1", "pad"], ["h1_padded"], axis=1),
        *[node for i, block in enumerate(padded) for node in (
            N("Gather", ["h1_padded", f"guard{i}"], [f"guard_values{i}"], axis=1),
            N("Reshape", [f"guard_values{i}", f"guard_shape{i}"], [f"guard_grid{i}"]),
            N("ReduceMax", [f"guard_grid{i}", "axis2"], [f"guard_max{i}"], keepdims=0))],
        N("Concat", [f"guard_max{i}" for i in range(len(padded))], ["grouped_max"], axis=1),
        N("Gather", ["grouped_max", "back"], ["guard_max"], axis=1),
        N("Greater", ["guard_max", "zero"], ["closed"]),
        N("Unsqueeze", ["closed", "axis2"], ["closed3"]),
        # layer 2: the finite part reads relu(x) and relu(-x); a closed gate's neurons are relu(-inf) = 0
        N("Slice", ["h1", "n0", "n1", "axis1"], ["relu_x"]), N("Slice", ["h1", "n1", "n2", "axis1"], ["relu_neg_x"]),
        N("MatMul", ["relu_x", "maps"], ["from_pos"]), N("MatMul", ["relu_neg_x", "maps"], ["from_neg"]),
        N("Sub", ["from_pos", "from_neg"], ["lin"]), N("Add", ["lin", "offsets"], ["z_flat"]),
        N("Reshape", ["z_flat", "gates_by_outputs"], ["z"]), N("Neg", ["z"], ["neg_z"]),
        N("Relu", ["z"], ["p_open"]), N("Relu", ["neg_z"], ["q_open"]),
        N("Where", ["closed3", "zero", "p_open"], ["p"]), N("Where", ["closed3", "zero", "q_open"], ["q"]),
        # layer 3: y_j = sum_G c_G (p_Gj - q_Gj) + b3_j
        N("Sub", ["p", "q"], ["pq"]), N("Mul", ["pq", "coeff"], ["weighted"]),
        N("ReduceSum", ["weighted", "axis1"], ["summed"], keepdims=0), N("Add", ["summed", "b3"], ["yc"]),
    ]
    body = helper.make_graph(nodes, "shallowrelu_gates",
                             [helper.make_tensor_value_info("xc", TensorProto.DOUBLE, ["chunk", n])],
                             [helper.make_tensor_value_info("yc", TensorProto.DOUBLE, ["chunk", m])])
    return inits, body, sum(block.size for block in padded)


def deep_onnx_model(layers: list[tuple[np.ndarray, np.ndarray]], kinks: list | None = None,
                    opset: int | None = None, doc: str = ""):
    """The ONNX model of a deep network: per layer a MatMul and an Add, then its activation.

    A ReLU layer is a Relu; a layer with other kinks a PRelu of its
    elementwise units (slopes as they are: 0, 1, leaky) and, per max group,
    a ReduceMax of its members, which the next layer reads through one column
    per group. Float64, so that reading a ReLU network back gives the same
    weights bit for bit. Input ``x`` of shape ``(N, n)``, output ``y`` of shape ``(N, m)``.
    """
    import onnx
    from onnx import helper

    opset = opset or onnx.defs.onnx_opset_version()
    kinks = list(kinks) if kinks is not None else [None] * (len(layers) - 1)
    inits, nodes, h = [], [], "x"
    keep = None  # the columns of the next layer that read this layer's outputs, in their order

    def const(name: str, value) -> None:
        inits.append(_initializer(name, value))

    for i, (W, b) in enumerate(layers):
        W = W if keep is None else W[:, keep]
        const(f"W{i}T", np.ascontiguousarray(W.T, dtype=np.float64))
        const(f"b{i}", np.asarray(b, dtype=np.float64))
        out = "y" if i == len(layers) - 1 else f"z{i}"
        nodes += [helper.make_node("MatMul", [h, f"W{i}T"], [f"lin{i}"]),
                  helper.make_node("Add", [f"lin{i}", f"b{i}"], [out])]
        keep = None
        if out == "y":
            break
        h = f"h{i}"
        k = kinks[i]
        if k is None:
            nodes.append(helper.make_node("Relu", [out], [h]))
            continue
        units = np.flatnonzero(k.group < 0)
        const(f"units{i}", units.astype(np.int64))
        const(f"slope{i}", k.slope[units].astype(np.float64))
        nodes += [helper.make_node("Gather", [out, f"units{i}"], [f"zu{i}"], axis=1),
                  helper.make_node("PRelu", [f"zu{i}", f"slope{i}"], [f"hu{i}"])]
        parts, keep = [f"hu{i}"], list(units)
        sizes = np.array([m.size for m in k.groups])
        for s in np.unique(sizes):
            members = np.array([m for m in k.groups if m.size == s])
            const(f"group{i}_{s}", members.astype(np.int64))
            nodes += [helper.make_node("Gather", [out, f"group{i}_{s}"], [f"zg{i}_{s}"], axis=1),
                      helper.make_node("ReduceMax", [f"zg{i}_{s}"], [f"hg{i}_{s}"], axes=[2], keepdims=0)
                      if opset < 18 else
                      helper.make_node("ReduceMax", [f"zg{i}_{s}", "axis_two"], [f"hg{i}_{s}"], keepdims=0)]
            parts.append(f"hg{i}_{s}")
            keep += [int(m[0]) for m in members]
        if len(parts) > 1 and "axis_two" not in {t.name for t in inits}:
            const("axis_two", np.array([2], dtype=np.int64))
        nodes.append(helper.make_node("Concat", parts, [h], axis=1))
    return _model(nodes, inits, "shallowrelu_deep_network", layers[0][0].shape[1], layers[-1][0].shape[0], opset, doc)


def _model(nodes: list, inits: list, name: str, n: int, m: int, opset: int, doc: str):
    """A float64 model from ``x`` of shape ``(N, n)`` to ``y`` of shape ``(N, m)``, in the given opset."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", n])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", m])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="shallowrelu",
                              doc_string=doc)
    model.ir_version = min(model.ir_version, onnx.IR_VERSION)
    return model


def save_onnx_model(model, path: str | os.PathLike) -> None:
    """Check ``model`` fully (``onnx.checker``) and write it to ``path`` atomically.

    Raises
    ------
    ShallowReLUError
        If the checker refuses the model.
    """
    import onnx

    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ShallowReLUError(f"{path}: the ONNX graph does not pass onnx.checker: {exc}") from None
    with atomic_path(path) as tmp:
        onnx.save(model, tmp)
