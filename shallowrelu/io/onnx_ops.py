"""What each ONNX operator means for a traced tensor: an affine map, a kink block, or arithmetic on constants.

Owns one function per operator family, each taking the node's inputs
(:class:`Traced` tensors or numpy constants) and returning its outputs. A
traced tensor has no batch axis: an operator's axes are read in the full
tensor ``(N, *shape)`` and the batch axis is never mixed into the others.
Anything that cannot be mapped exactly raises :class:`UnsupportedOp`, which
the reader turns into a one-line refusal naming the node.
"""

from __future__ import annotations

from itertools import product
from typing import Callable

import numpy as np

from ..network import MAX_WEIGHTS, Kinks
from .trace import Traced, Tracer, concat

Value = Traced | np.ndarray


class UnsupportedOp(Exception):
    """A node the reader cannot map exactly; the message says why."""


def _attrs(node) -> dict:
    """The node's attributes as plain Python values (strings decoded)."""
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _const(v: Value, what: str) -> np.ndarray:
    """``v``, which must be a constant (``what`` names it in the refusal)."""
    if isinstance(v, Traced):
        raise UnsupportedOp(f"{what} must be a constant, not computed from the input")
    return v


def _axis(a: int, rank: int) -> int:
    """An ONNX axis of a traced tensor of ``rank`` axes (batch included) as an axis of our shape."""
    a = a + rank if a < 0 else a
    if not 1 <= a < rank:
        raise UnsupportedOp(f"axis {a} is the batch axis or out of range for rank {rank}")
    return a - 1


def _index(x: Traced) -> np.ndarray:
    """The flat indices of ``x``'s entries, in its shape."""
    return np.arange(x.size).reshape(x.shape)


def _full(x: Traced) -> np.ndarray:
    """The flat indices in the full shape ``(1, *shape)`` (batch 1)."""
    return _index(x)[None]


def _from_full(x: Traced, idx: np.ndarray, fill: float = 0.0) -> Traced:
    """A traced tensor whose entries are ``x``'s at ``idx`` (full shape, batch axis first and of size 1)."""
    if idx.ndim == 0 or idx.shape[0] != 1:
        raise UnsupportedOp(f"the result has shape {idx.shape}: the batch axis would be mixed into the others")
    return x.rows(idx.ravel(), idx.shape[1:], fill)


def _lift(v: Value, shape: tuple[int, ...]) -> Traced:
    """A constant as a traced tensor of ``shape`` (no block read)."""
    c = np.broadcast_to(np.asarray(v, dtype=np.float64), (1,) + tuple(shape))[0]
    return Traced({}, c.ravel().copy(), tuple(shape))


def _broadcast(x: Traced, shape: tuple[int, ...]) -> Traced:
    """``x`` broadcast to ``shape`` (numpy rules, batch kept)."""
    if x.shape == tuple(shape):
        return x
    return x.rows(np.broadcast_to(_index(x), shape).ravel(), shape)


def _shape_of(*vals: Value) -> tuple[int, ...]:
    """The broadcast shape (no batch axis) of traced tensors and constants."""
    shapes = [(1,) + v.shape if isinstance(v, Traced) else np.shape(v) for v in vals]
    full = np.broadcast_shapes(*shapes)
    if full[0] != 1 and any(isinstance(v, Traced) for v in vals):
        raise UnsupportedOp(f"a constant of shape {full} would broadcast over the batch axis")
    return tuple(full[1:])


def _flat_const(c: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A constant broadcast to ``shape`` (float64), flat in the order of a traced tensor's entries."""
    return np.broadcast_to(np.asarray(c, dtype=np.float64), (1,) + shape).ravel()


# -- elementwise arithmetic ---------------------------------------------------

def add_sub(sign: float) -> Callable:
    """Add (``sign`` 1) or Sub (-1), with numpy broadcasting."""
    def op(tr: Tracer, node, a: Value, b: Value) -> list[Value]:
        if not isinstance(a, Traced) and not isinstance(b, Traced):
            return [a + sign * b]
        shape = _shape_of(a, b)
        ta = _broadcast(a, shape) if isinstance(a, Traced) else _lift(a, shape)
        tb = _broadcast(b, shape) if isinstance(b, Traced) else _lift(b, shape)
        return [ta.plus(tb, sign)]
    return op


def mul(tr: Tracer, node, a: Value, b: Value) -> list[Value]:
    """Mul: a traced tensor scaled by a constant (two traced tensors are refused)."""
    if not isinstance(a, Traced) and not isinstance(b, Traced):
        return [a * b]
    if isinstance(a, Traced) and isinstance(b, Traced):
        raise UnsupportedOp("a product of two tensors computed from the input is not piecewise linear")
    x, c = (a, b) if isinstance(a, Traced) else (b, a)
    shape = _shape_of(x, c)
    return [_broadcast(x, shape).scale(_flat_const(c, shape))]


def div(tr: Tracer, node, a: Value, b: Value) -> list[Value]:
    """Div by a constant."""
    if not isinstance(a, Traced) and not isinstance(b, Traced):
        return [a / b]
    if isinstance(b, Traced):
        raise UnsupportedOp("dividing by a tensor computed from the input is not piecewise linear")
    shape = _shape_of(a, b)
    return [_broadcast(a, shape).scale(1.0 / _flat_const(b, shape))]


def neg(tr: Tracer, node, x: Value) -> list[Value]:
    """Neg."""
    return [x.scale(-1.0) if isinstance(x, Traced) else -x]


def sum_(tr: Tracer, node, *xs: Value) -> list[Value]:
    """Sum of any number of inputs."""
    out = xs[0]
    for x in xs[1:]:
        out = add_sub(1.0)(tr, node, out, x)[0]
    return [out]


# -- shapes -------------------------------------------------------------------

def identity(tr: Tracer, node, x: Value, *rest: Value) -> list[Value]:
    """Identity, and Dropout at inference (its mask output unused)."""
    return [x]


def cast(tr: Tracer, node, x: Value) -> list[Value]:
    """Cast: to a float type it changes nothing here (float64 throughout); otherwise only constants."""
    from onnx import TensorProto, helper

    to = _attrs(node)["to"]
    if isinstance(x, Traced):
        if to not in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16):
            raise UnsupportedOp(f"a cast of the traced tensor to {TensorProto.DataType.Name(to)} changes its values")
        return [x]  # we compute in float64 throughout
    return [x.astype(helper.tensor_dtype_to_np_dtype(to))]


def shape(tr: Tracer, node, x: Value) -> list[Value]:
    """Shape, batch axis of 1 included, as a constant."""
    full = (1,) + x.shape if isinstance(x, Traced) else np.shape(x)
    a = _attrs(node)
    return [np.array(full, dtype=np.int64)[a.get("start", 0):a.get("end", None)]]


def reshape(tr: Tracer, node, x: Value, target: Value) -> list[Value]:
    """Reshape to a constant target (0 keeps an axis unless ``allowzero``)."""
    target = [int(v) for v in _const(target, "the target shape")]
    if not isinstance(x, Traced):
        return [np.reshape(x, [x.shape[i] if t == 0 else t for i, t in enumerate(target)])]
    full = (1,) + x.shape
    target = [full[i] if t == 0 and not _attrs(node).get("allowzero", 0) else t for i, t in enumerate(target)]
    return [_from_full(x, _full(x).reshape(target))]


def flatten(tr: Tracer, node, x: Value) -> list[Value]:
    """Flatten at ``axis``."""
    axis = _attrs(node).get("axis", 1)
    if not isinstance(x, Traced):
        axis = axis + x.ndim if axis < 0 else axis
        return [x.reshape(int(np.prod(x.shape[:axis])), -1)]
    full = (1,) + x.shape
    axis = axis + len(full) if axis < 0 else axis
    return [_from_full(x, _full(x).reshape(int(np.prod(full[:axis])), -1))]


def transpose(tr: Tracer, node, x: Value) -> list[Value]:
    """Transpose by ``perm``, which must keep the batch axis first."""
    perm = _attrs(node).get("perm")
    if not isinstance(x, Traced):
        return [np.transpose(x, perm)]
    perm = list(range(len(x.shape) + 1))[::-1] if perm is None else list(perm)
    if perm[0] != 0:
        raise UnsupportedOp(f"perm {perm} moves the batch axis")
    return [_from_full(x, np.transpose(_full(x), perm))]


def _axes(node, given: Value | None) -> list[int] | None:
    """The axes of a node, from its input (newer opsets) or its attribute (older), None for all."""
    if given is not None:
        return [int(a) for a in _const(given, "the axes")]
    a = _attrs(node).get("axes")
    return None if a is None else list(a)


def squeeze(tr: Tracer, node, x: Value, axes: Value | None = None) -> list[Value]:
    """Squeeze."""
    ax = _axes(node, axes)
    if not isinstance(x, Traced):
        return [np.squeeze(x, axis=None if ax is None else tuple(ax))]
    full = _full(x)
    if ax is None:
        ax = [i for i in range(1, full.ndim) if full.shape[i] == 1]
    return [_from_full(x, np.squeeze(full, axis=tuple(a + full.ndim if a < 0 else a for a in ax)))]


def unsqueeze(tr: Tracer, node, x: Value, axes: Value | None = None) -> list[Value]:
    """Unsqueeze."""
    ax = _axes(node, axes)
    if not isinstance(x, Traced):
        return [np.expand_dims(x, tuple(ax))]
    full = _full(x)
    rank = full.ndim + len(ax)
    return [_from_full(x, np.expand_dims(full, tuple(a + rank if a < 0 else a for a in ax)))]


def concat_op(tr: Tracer, node, *xs: Value) -> list[Value]:
    """Concat of traced tensors and constants along one axis (not the batch axis)."""
    axis = _attrs(node)["axis"]
    if not any(isinstance(x, Traced) for x in xs):
        return [np.concatenate(xs, axis=axis)]
    rank = 1 + len(next(x for x in xs if isinstance(x, Traced)).shape)
    ax = _axis(axis, rank)
    pieces = [x if isinstance(x, Traced) else _lift(x, np.shape(x)[1:]) for x in xs]
    offsets = np.cumsum([0] + [p.size for p in pieces])
    idx = np.concatenate([_index(p) + o for p, o in zip(pieces, offsets)], axis=ax)
    return [concat(pieces, idx.shape, idx.ravel())]


def _slices(full_shape, starts, ends, axes, steps) -> tuple:
    """The numpy index of a Slice over an array of ``full_shape``."""
    sl = [slice(None)] * len(full_shape)
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = a + len(full_shape) if a < 0 else a
        sl[a] = slice(int(s), int(e), int(st))
    return tuple(sl)


def slice_op(tr: Tracer, node, x: Value, starts: Value, ends: Value, axes: Value | None = None,
             steps: Value | None = None) -> list[Value]:
    """Slice with constant starts, ends, axes and steps."""
    starts, ends = _const(starts, "starts"), _const(ends, "ends")
    axes = list(range(len(starts))) if axes is None else _const(axes, "axes")
    steps = [1] * len(starts) if steps is None else _const(steps, "steps")
    if not isinstance(x, Traced):
        return [x[_slices(x.shape, starts, ends, axes, steps)]]
    full = _full(x)
    return [_from_full(x, full[_slices(full.shape, starts, ends, axes, steps)])]


def gather(tr: Tracer, node, x: Value, indices: Value) -> list[Value]:
    """Gather with constant indices along an axis other than the batch axis."""
    axis = _attrs(node).get("axis", 0)
    indices = _const(indices, "the indices").astype(np.int64)
    if not isinstance(x, Traced):
        return [np.take(x, indices, axis=axis)]
    full = _full(x)
    _axis(axis, full.ndim)  # never the batch axis
    return [_from_full(x, np.take(full, indices, axis=axis))]


def split(tr: Tracer, node, x: Value, sizes: Value | None = None) -> list[Value]:
    """Split into the given sizes, or equal parts, one output each."""
    a = _attrs(node)
    axis = a.get("axis", 0)
    if not isinstance(x, Traced):
        raise UnsupportedOp("Split of a constant")
    full = _full(x)
    ax = axis + full.ndim if axis < 0 else axis
    _axis(ax, full.ndim)
    parts = a.get("split") if sizes is None else [int(v) for v in _const(sizes, "split")]
    if parts is None:
        k = len(node.output)
        parts = [full.shape[ax] // k] * k
    cuts = np.cumsum(parts)[:-1]
    return [_from_full(x, piece) for piece in np.split(full, cuts, axis=ax)]


def pad(tr: Tracer, node, x: Value, pads: Value | None = None, value: Value | None = None,
        axes: Value | None = None) -> list[Value]:
    """Pad with a constant (other modes are refused); the padding entries are constants of the map."""
    a = _attrs(node)
    if a.get("mode", "constant") != "constant":
        raise UnsupportedOp(f"pad mode {a['mode']!r} (only constant padding is supported)")
    pads = list(a.get("pads", [])) if pads is None else [int(v) for v in _const(pads, "pads")]
    fill = float(a.get("value", 0.0)) if value is None or np.size(value) == 0 else float(_const(value, "value"))
    if not isinstance(x, Traced):
        rank = x.ndim
        return [np.pad(x, [(pads[i], pads[i + rank]) for i in range(rank)], constant_values=fill)]
    full = _full(x)
    rank = full.ndim
    ax = list(range(rank)) if axes is None else [int(v) + rank if int(v) < 0 else int(v)
                                                 for v in _const(axes, "axes")]
    widths = [(0, 0)] * rank
    for i, k in enumerate(ax):
        widths[k] = (pads[i], pads[i + len(ax)])
    if widths[0] != (0, 0):
        raise UnsupportedOp("padding the batch axis")
    return [_from_full(x, np.pad(full, widths, constant_values=-1), fill)]


# -- linear layers ------------------------------------------------------------

def _check_size(rows: int, cols: int, what: str) -> None:
    """Refuse a layer whose dense matrix would exceed ``MAX_WEIGHTS`` weights."""
    if rows * cols > MAX_WEIGHTS:
        raise UnsupportedOp(f"{what} would take a {rows} x {cols} dense matrix, more than {MAX_WEIGHTS} weights")


def matmul(tr: Tracer, node, a: Value, b: Value) -> list[Value]:
    """MatMul of a traced tensor by a constant matrix, on either side, over any leading axes."""
    if not isinstance(a, Traced) and not isinstance(b, Traced):
        return [a @ b]
    if isinstance(a, Traced) and isinstance(b, Traced):
        raise UnsupportedOp("a product of two tensors computed from the input is not piecewise linear")
    if isinstance(a, Traced):
        W = np.asarray(b, dtype=np.float64)
        if W.ndim != 2 or a.shape[-1] != W.shape[0]:
            raise UnsupportedOp(f"MatMul of shape {a.shape} by {W.shape}")
        prefix = int(np.prod(a.shape[:-1]))
        WT = W.T
        T = WT if prefix == 1 else np.kron(np.eye(prefix), WT)
        return [a.map(T, 0.0, a.shape[:-1] + (W.shape[1],))]
    W = np.asarray(a, dtype=np.float64)  # W @ x: x's last two axes (K, P), or x of shape (K,)
    if W.ndim != 2 or len(b.shape) < 1:
        raise UnsupportedOp(f"MatMul of shape {W.shape} by {b.shape}")
    if len(b.shape) == 1:
        if W.shape[1] != b.shape[0]:
            raise UnsupportedOp(f"MatMul of shape {W.shape} by {b.shape}")
        return [b.map(W, 0.0, (W.shape[0],))]
    K, P = b.shape[-2:]
    if W.shape[1] != K:
        raise UnsupportedOp(f"MatMul of shape {W.shape} by {b.shape}")
    prefix = int(np.prod(b.shape[:-2]))
    T = np.kron(np.eye(prefix), np.kron(W, np.eye(P)))
    return [b.map(T, 0.0, b.shape[:-2] + (W.shape[0], P))]


def gemm(tr: Tracer, node, A: Value, B: Value, C: Value | None = None) -> list[Value]:
    """Gemm ``alpha A B' + beta C`` with constant ``B`` and ``C`` (``transA`` refused)."""
    a = _attrs(node)
    if not isinstance(A, Traced):
        raise UnsupportedOp("Gemm whose first input is a constant")
    if a.get("transA", 0):
        raise UnsupportedOp("transA is not supported")
    B = _const(B, "Gemm's B")
    B = B.T if a.get("transB", 0) else B
    alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
    C = np.zeros(B.shape[1]) if C is None else _const(C, "Gemm's C")
    BT = alpha * B.T
    return [A.map(BT, beta * np.broadcast_to(C, (B.shape[1],)), (B.shape[1],))]


def batch_norm(tr: Tracer, node, x: Value, scale, bias, mean, var, *rest) -> list[Value]:
    """Inference-mode batch normalisation, folded into the map (channels first)."""
    if not isinstance(x, Traced):
        raise UnsupportedOp("BatchNormalization of a constant")
    eps = _attrs(node).get("epsilon", 1e-5)
    s = np.asarray(scale, float) / np.sqrt(np.asarray(var, float) + eps)
    rep = x.size // s.size
    s_full = np.repeat(s, rep)
    shift = np.repeat(np.asarray(bias, float) - np.asarray(mean, float) * s, rep)
    return [x.scale(s_full, shift)]


def _window(node, spatial: tuple[int, ...], kernel: list[int]):
    """Output size and, per output position and kernel offset, the input position (or -1 in the padding)."""
    a = _attrs(node)
    k = len(kernel)
    strides = list(a.get("strides", [1] * k))
    dil = list(a.get("dilations", [1] * k))
    pads = list(a.get("pads", [0] * 2 * k))
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * 2 * k
        for i in range(k):
            out = -(-spatial[i] // strides[i])
            total = max((out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - spatial[i], 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + k] = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto not in ("NOTSET", "VALID"):
        raise UnsupportedOp(f"auto_pad {auto!r}")
    ceil = a.get("ceil_mode", 0)
    out = []
    for i in range(k):
        span = spatial[i] + pads[i] + pads[i + k] - dil[i] * (kernel[i] - 1) - 1
        out.append((-(-span // strides[i]) if ceil else span // strides[i]) + 1)
    if min(out) < 1:
        raise UnsupportedOp(f"the kernel {kernel} does not fit the input {spatial}")
    positions = []
    for o in product(*[range(n) for n in out]):
        row = []
        for off in product(*[range(n) for n in kernel]):
            pos = [o[i] * strides[i] - pads[i] + off[i] * dil[i] for i in range(k)]
            inside = all(0 <= pos[i] < spatial[i] for i in range(k))
            row.append(int(np.ravel_multi_index(pos, spatial)) if inside else -1)
        positions.append(row)
    return tuple(out), np.array(positions, dtype=np.int64).reshape(int(np.prod(out)), -1)


def conv(tr: Tracer, node, x: Value, weight: Value, bias: Value | None = None) -> list[Value]:
    """A convolution (any number of spatial axes, groups, dilations, padding) as one dense matrix."""
    if not isinstance(x, Traced):
        raise UnsupportedOp("Conv of a constant")
    weight = _const(weight, "the kernel")
    group = _attrs(node).get("group", 1)
    C, spatial = x.shape[0], x.shape[1:]
    O, Cg = weight.shape[:2]
    kernel = list(weight.shape[2:])
    if Cg * group != C or O % group or len(kernel) != len(spatial):
        raise UnsupportedOp(f"kernel {weight.shape} with group {group} does not fit the input {x.shape}")
    out, pos = _window(node, spatial, kernel)
    P, S = pos.shape[0], int(np.prod(spatial))
    _check_size(O * P, x.size, "the convolution")
    K = np.zeros((O, P, C, S))
    per_group = O // group
    wk = weight.reshape(O, Cg, -1)
    valid = pos >= 0
    p_idx, k_idx = np.nonzero(valid)
    for o in range(O):
        for c in range(Cg):
            ci = (o // per_group) * Cg + c
            np.add.at(K[o, :, ci], (p_idx, pos[p_idx, k_idx]), wk[o, c, k_idx])
    shift = np.repeat(np.zeros(O) if bias is None else np.asarray(_const(bias, "the bias"), float), P)
    return [x.map(K.reshape(O * P, C * S), shift, (O,) + out)]


def conv_transpose(tr: Tracer, node, x: Value, weight: Value, bias: Value | None = None) -> list[Value]:
    """A transposed convolution as one dense matrix: each input position scatters its kernel."""
    if not isinstance(x, Traced):
        raise UnsupportedOp("ConvTranspose of a constant")
    a = _attrs(node)
    weight = _const(weight, "the kernel")
    group = a.get("group", 1)
    C, spatial = x.shape[0], x.shape[1:]
    Cg_in, Og = weight.shape[:2]
    kernel = list(weight.shape[2:])
    k = len(kernel)
    if Cg_in * group != C or len(kernel) != len(spatial):
        raise UnsupportedOp(f"kernel {weight.shape} with group {group} does not fit the input {x.shape}")
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or "output_shape" in a:
        raise UnsupportedOp("ConvTranspose with auto_pad or output_shape")
    strides, dil = list(a.get("strides", [1] * k)), list(a.get("dilations", [1] * k))
    pads, extra = list(a.get("pads", [0] * 2 * k)), list(a.get("output_padding", [0] * k))
    out = [(spatial[i] - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 + extra[i] - pads[i] - pads[i + k]
           for i in range(k)]
    O = Og * group
    S, P = int(np.prod(spatial)), int(np.prod(out))
    _check_size(O * P, x.size, "the transposed convolution")
    K = np.zeros((O, P, C, S))
    for s_pos in product(*[range(n) for n in spatial]):
        s = int(np.ravel_multi_index(s_pos, spatial))
        for off in product(*[range(n) for n in kernel]):
            pos = [s_pos[i] * strides[i] - pads[i] + off[i] * dil[i] for i in range(k)]
            if all(0 <= pos[i] < out[i] for i in range(k)):
                p = int(np.ravel_multi_index(pos, out))
                for c in range(C):
                    g = c // Cg_in
                    K[g * Og:(g + 1) * Og, p, c, s] += weight[c, :, *off]
    shift = np.repeat(np.zeros(O) if bias is None else np.asarray(_const(bias, "the bias"), float), P)
    return [x.map(K.reshape(O * P, C * S), shift, (O,) + tuple(out))]


def average_pool(tr: Tracer, node, x: Value) -> list[Value]:
    """AveragePool as a dense map (padding counted or not, as ``count_include_pad`` says)."""
    if not isinstance(x, Traced):
        raise UnsupportedOp("AveragePool of a constant")
    a = _attrs(node)
    C, spatial = x.shape[0], x.shape[1:]
    out, pos = _window(node, spatial, list(a["kernel_shape"]))
    S = int(np.prod(spatial))
    counts = pos.shape[1] if a.get("count_include_pad", 0) else np.maximum((pos >= 0).sum(axis=1), 1)
    T = np.zeros((pos.shape[0], S))
    p_idx, k_idx = np.nonzero(pos >= 0)
    np.add.at(T, (p_idx, pos[p_idx, k_idx]), 1.0)
    T = T / np.reshape(counts, (-1, 1))
    return [x.map(np.kron(np.eye(C), T), 0.0, (C,) + out)]


def global_average_pool(tr: Tracer, node, x: Value) -> list[Value]:
    """GlobalAveragePool: each channel's mean."""
    C = x.shape[0]
    S = x.size // C
    return [x.map(np.kron(np.eye(C), np.full((1, S), 1.0 / S)), 0.0, (C,) + (1,) * (len(x.shape) - 1))]


def reduce_linear(mean: bool) -> Callable:
    """ReduceMean (``mean``) or ReduceSum over the given axes."""
    def op(tr: Tracer, node, x: Value, axes: Value | None = None) -> list[Value]:
        if not isinstance(x, Traced):
            ax = _axes(node, axes)
            f = np.mean if mean else np.sum
            return [f(x, axis=None if ax is None else tuple(ax), keepdims=bool(_attrs(node).get("keepdims", 1)))]
        groups, shape = _reduced_groups(node, x, axes)
        T = np.zeros((groups.shape[0], x.size))
        np.put_along_axis(T, groups, 1.0 / groups.shape[1] if mean else 1.0, axis=1)
        return [x.map(T, 0.0, shape)]
    return op


def _reduced_groups(node, x: Traced, axes: Value | None) -> tuple[np.ndarray, tuple[int, ...]]:
    """The entries of ``x`` that each output of a reduction over ``axes`` gathers (one row each), and its shape."""
    ax = _axes(node, axes)
    keep = _attrs(node).get("keepdims", 1)
    full = _full(x)
    ax = list(range(1, full.ndim)) if not ax else [_axis(a, full.ndim) + 1 for a in ax]
    moved = np.moveaxis(full, ax, list(range(full.ndim - len(ax), full.ndim)))
    groups = moved.reshape(-1, int(np.prod([full.shape[a] for a in ax])))
    kept = tuple(1 if i in ax else n for i, n in enumerate(full.shape))
    shape = kept[1:] if keep else tuple(n for i, n in enumerate(full.shape) if i not in ax and i > 0)
    return groups, shape


# -- kinks ----------------------------------------------------------------------

def _elementwise_kink(tr: Tracer, x: Traced, slope: np.ndarray, name: str) -> Traced:
    """A kink at 0 in every entry of ``x``, slope 1 above and ``slope`` below."""
    return tr.kink(x, Kinks(np.broadcast_to(slope, (x.size,)).copy(), np.full(x.size, -1)), name)


def relu(tr: Tracer, node, x: Value) -> list[Value]:
    """Relu."""
    return [np.maximum(x, 0) if not isinstance(x, Traced) else _elementwise_kink(tr, x, np.zeros(1), node.name)]


def leaky_relu(tr: Tracer, node, x: Value) -> list[Value]:
    """LeakyRelu with its fixed ``alpha`` (ONNX's default 0.01)."""
    alpha = float(_attrs(node).get("alpha", 0.01))
    if not isinstance(x, Traced):
        return [np.where(x > 0, x, alpha * x)]
    return [_elementwise_kink(tr, x, np.array([alpha]), node.name)]


def prelu(tr: Tracer, node, x: Value, slope: Value) -> list[Value]:
    """PRelu with constant (trained, then fixed) slopes."""
    slope = _const(slope, "the slope")
    if not isinstance(x, Traced):
        return [np.where(x > 0, x, slope * x)]
    return [_elementwise_kink(tr, x, _flat_const(slope, x.shape), node.name)]


def abs_(tr: Tracer, node, x: Value) -> list[Value]:
    """Abs: a kink of slope -1 below 0."""
    return [np.abs(x) if not isinstance(x, Traced) else _elementwise_kink(tr, x, np.array([-1.0]), node.name)]


def clip(tr: Tracer, node, x: Value, lo: Value | None = None, hi: Value | None = None) -> list[Value]:
    """Clip (also Hardtanh and ReLU6 as exported): a ReLU unit per finite bound."""
    a = _attrs(node)
    lo = a.get("min", -np.inf) if lo is None or np.size(lo) == 0 else float(_const(lo, "min"))
    hi = a.get("max", np.inf) if hi is None or np.size(hi) == 0 else float(_const(hi, "max"))
    if not isinstance(x, Traced):
        return [np.clip(x, lo, hi)]
    n = x.size
    if np.isfinite(lo) and np.isfinite(hi):
        # clip(z) = lo + relu(z - lo) - relu(z - hi): two ReLU units, a kink at each bound
        pre = concat([x, x], (2 * n,), np.arange(2 * n))
        pre = Traced(pre.parts, pre.v - np.concatenate([np.full(n, lo), np.full(n, hi)]), (2 * n,))
        out = np.hstack([np.eye(n), -np.eye(n)])
        return [tr.kink(pre, Kinks(np.zeros(2 * n), np.full(2 * n, -1)), node.name, out, x.shape, lo)]
    if np.isfinite(lo):  # lo + relu(z - lo)
        return [tr.kink(x.scale(1.0, -lo), Kinks(np.zeros(n), np.full(n, -1)), node.name, None, x.shape, lo)]
    if np.isfinite(hi):  # hi - relu(hi - z)
        return [tr.kink(x.scale(-1.0, hi), Kinks(np.zeros(n), np.full(n, -1)), node.name, -np.eye(n), x.shape, hi)]
    return [x]


def _max_groups(tr: Tracer, name: str, members: list[np.ndarray], x: Traced, shape: tuple[int, ...],
                sign: float = 1.0) -> Traced:
    """The maximum (``sign`` -1: the minimum) of each list of entries of ``x``: one max group per output."""
    order = np.concatenate(members)
    group = np.repeat(np.arange(len(members)), [m.size for m in members])
    pre = x.rows(order, (order.size,)).scale(sign)
    out = np.zeros((len(members), order.size))
    out[group, np.arange(order.size)] = sign
    return tr.kink(pre, Kinks(np.zeros(order.size), group), name, out, shape)


def max_min(sign: float) -> Callable:
    """Elementwise Max (``sign`` 1) or Min (-1) of any number of inputs: one max group per entry."""
    def op(tr: Tracer, node, *xs: Value) -> list[Value]:
        if not any(isinstance(x, Traced) for x in xs):
            return [np.max(np.stack(np.broadcast_arrays(*xs)), axis=0) if sign > 0
                    else np.min(np.stack(np.broadcast_arrays(*xs)), axis=0)]
        shape = _shape_of(*xs)
        pieces = [_broadcast(x, shape) if isinstance(x, Traced) else _lift(x, shape) for x in xs]
        if len(pieces) == 1:
            return [pieces[0]]
        size = int(np.prod(shape))
        stacked = concat(pieces, (len(pieces) * size,), np.arange(len(pieces) * size))
        members = [np.arange(len(pieces)) * size + i for i in range(size)]
        return [_max_groups(tr, node.name, members, stacked, shape, sign)]
    return op


def reduce_max_min(sign: float) -> Callable:
    """ReduceMax (``sign`` 1) or ReduceMin (-1): one max group per output entry."""
    def op(tr: Tracer, node, x: Value, axes: Value | None = None) -> list[Value]:
        if not isinstance(x, Traced):
            ax = _axes(node, axes)
            f = np.max if sign > 0 else np.min
            return [f(x, axis=None if ax is None else tuple(ax), keepdims=bool(_attrs(node).get("keepdims", 1)))]
        groups, shape = _reduced_groups(node, x, axes)
        return [_max_groups(tr, node.name, list(groups), x, shape, sign)]
    return op


def max_pool(tr: Tracer, node, x: Value, *rest: Value) -> list[Value]:
    """MaxPool: one max group per window (the indices output is refused)."""
    if not isinstance(x, Traced):
        raise UnsupportedOp("MaxPool of a constant")
    if len(node.output) > 1 and node.output[1]:
        raise UnsupportedOp("MaxPool's indices output")
    a = _attrs(node)
    if a.get("storage_order", 0):
        raise UnsupportedOp("MaxPool with storage_order 1")
    C, spatial = x.shape[0], x.shape[1:]
    out, pos = _window(node, spatial, list(a["kernel_shape"]))
    S = int(np.prod(spatial))
    members = [c * S + p[p >= 0] for c in range(C) for p in pos]  # the padding (-inf) never wins
    return [_max_groups(tr, node.name, members, x, (C,) + out)]


def global_max_pool(tr: Tracer, node, x: Value) -> list[Value]:
    """GlobalMaxPool: one max group per channel."""
    C = x.shape[0]
    S = x.size // C
    return [_max_groups(tr, node.name, [c * S + np.arange(S) for c in range(C)], x,
                        (C,) + (1,) * (len(x.shape) - 1))]


# -- constants ----------------------------------------------------------------

def constant(tr: Tracer, node) -> list[Value]:
    """Constant, from its tensor or numeric attribute."""
    from onnx import numpy_helper

    a = _attrs(node)
    if "value" in a:
        return [numpy_helper.to_array(a["value"])]
    for key, kind in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                      ("value_ints", np.int64)):
        if key in a:
            return [np.array(a[key], dtype=kind)]
    raise UnsupportedOp("a Constant without a numeric value")


def constant_of_shape(tr: Tracer, node, shape_: Value) -> list[Value]:
    """ConstantOfShape with a constant shape."""
    from onnx import numpy_helper

    value = _attrs(node).get("value")
    fill = numpy_helper.to_array(value) if value is not None else np.zeros(1, dtype=np.float32)
    return [np.full([int(v) for v in _const(shape_, "the shape")], fill.ravel()[0], dtype=fill.dtype)]


def _numpy(f: Callable) -> Callable:
    """An operator defined on constants only."""
    def op(tr: Tracer, node, *xs: Value) -> list[Value]:
        if any(isinstance(x, Traced) for x in xs):
            raise UnsupportedOp("it is computed from the input, and only constant arguments are supported")
        return [f(node, *xs)]
    return op


def _range(node, start, limit, delta):
    """Range."""
    return np.arange(start, limit, delta)


def _where(node, c, a, b):
    """Where."""
    return np.where(c, a, b)


def _equal(node, a, b):
    """Equal."""
    return np.equal(a, b)


def _expand(node, x, shape_):
    """Expand (numpy broadcasting of both shapes)."""
    return np.broadcast_to(x, np.broadcast_shapes(np.shape(x), tuple(int(v) for v in shape_))).copy()


OPS: dict[str, Callable] = {
    "Add": add_sub(1.0), "Sub": add_sub(-1.0), "Mul": mul, "Div": div, "Neg": neg, "Sum": sum_,
    "Identity": identity, "Dropout": identity, "Cast": cast, "Shape": shape, "Reshape": reshape,
    "Flatten": flatten, "Transpose": transpose, "Squeeze": squeeze, "Unsqueeze": unsqueeze, "Concat": concat_op,
    "Slice": slice_op, "Gather": gather, "Split": split, "Pad": pad,
    "MatMul": matmul, "Gemm": gemm, "BatchNormalization": batch_norm, "Conv": conv,
    "ConvTranspose": conv_transpose, "AveragePool": average_pool, "GlobalAveragePool": global_average_pool,
    "ReduceMean": reduce_linear(True), "ReduceSum": reduce_linear(False),
    "Relu": relu, "LeakyRelu": leaky_relu, "PRelu": prelu, "Abs": abs_, "Clip": clip,
    "Max": max_min(1.0), "Min": max_min(-1.0), "MaxPool": max_pool, "GlobalMaxPool": global_max_pool,
    "ReduceMax": reduce_max_min(1.0), "ReduceMin": reduce_max_min(-1.0),
    "Constant": constant, "ConstantOfShape": constant_of_shape,
    "Range": _numpy(_range), "Where": _numpy(_where), "Equal": _numpy(_equal), "Expand": _numpy(_expand),
}
"""Every operator the reader maps exactly, by ONNX op type."""
