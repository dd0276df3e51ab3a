"""Loading and saving networks. Files come from other people: nothing is unpickled."""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import NetworkFormatError
from .network import MAX_WEIGHTS, ReLUNetwork

_KEY = re.compile(r"^([Wb])(\d+)$")


def load_network(path: str | os.PathLike, normalize: bool = False) -> ReLUNetwork:
    """Read a ReLU network from a file.

    Parameters
    ----------
    path : str or path
        ``.npz`` with arrays ``W0, b0, W1, b1, ...`` (``W`` shaped ``(out, in)``
        as in PyTorch; ReLU after every layer but the last); ``.onnx``
        (MatMul, Gemm, Conv, Add, Sub, Mul, Div by constants, Relu, Flatten,
        Reshape, Identity, BatchNormalization; needs ``pip install
        'shallowrelu[onnx]'``); or ``.nnet`` (the ACAS Xu text format).
    normalize : bool
        ``.nnet`` only: fold the file's input normalisation and output
        scaling into the network, so that it takes raw inputs and gives raw
        outputs. By default the network is the one the file stores (normalised
        inputs, as in the ACAS Xu ONNX files and VNN-LIB properties).

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
    if suffix == ".onnx":
        return _load_onnx(path)
    if suffix == ".nnet":
        return _load_nnet(path, normalize)
    raise NetworkFormatError(f"{path}: unknown network format {suffix or '(no extension)'!r}; "
                             "expected .npz, .onnx or .nnet")


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
    # Opened here so that the handle is closed even when numpy fails on a bad zip.
    with open(path, "rb") as f:
        return _npz_arrays(f, path, error, what)


def npz_arrays(data: bytes, label: str, error: type[Exception], what: str) -> dict[str, np.ndarray]:
    """Like :func:`read_npz`, for ``.npz`` bytes held in memory (``label`` names them in errors)."""
    return _npz_arrays(io.BytesIO(data), label, error, what)


def _npz_arrays(f, label, error: type[Exception], what: str) -> dict[str, np.ndarray]:
    head = f.read(4)
    f.seek(0)
    path = label
    if head != b"PK\x03\x04":
        raise error(f"{path}: not a .npz {what} file (no zip header{'; the file is empty' if not head else ''})")
    try:
        with np.load(f, allow_pickle=False) as z:
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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """A temporary path beside ``path``, renamed to it when the block ends without an error.

    On an error (or Ctrl-C) the temporary file is removed and ``path`` is
    left as it was: nothing is ever half-written.

    Raises
    ------
    OSError
        If the directory does not exist or is not writable.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_savez(path: str | os.PathLike, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` as a compressed ``.npz``, atomically and byte-reproducibly.

    Zip entries carry a fixed timestamp, so the same arrays always give the
    same bytes (``np.savez`` stamps the current time).
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        _write_npz(f, arrays)


def npz_bytes(arrays: dict) -> bytes:
    """``arrays`` as the bytes of a reproducible ``.npz`` (see :func:`atomic_savez`)."""
    buf = io.BytesIO()
    _write_npz(buf, arrays)
    return buf.getvalue()


def _write_npz(f, arrays: dict) -> None:
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arrays[name]), allow_pickle=False)


# A record log: an append-only file of records, each the magic, the payload
# length (8 bytes, little-endian), the payload and its CRC-32. A crash while
# appending leaves at most one incomplete record at the end, which readers skip.
_RECORD_MAGIC = b"SRLOG1\n\0"


def append_record(path: str | os.PathLike, payload: bytes) -> None:
    """Append one record to the log at ``path`` and force it to disk."""
    with open(path, "ab") as f:
        f.write(_RECORD_MAGIC + len(payload).to_bytes(8, "little") + payload
                + zlib.crc32(payload).to_bytes(4, "little"))
        f.flush()
        os.fsync(f.fileno())


def read_records(path: str | os.PathLike) -> tuple[list[bytes], int]:
    """The complete records of the log at ``path``, and the length of the file they fill.

    Reading stops at the first incomplete or damaged record (a crash while
    appending); everything before it is returned.
    """
    data = Path(path).read_bytes()
    out, pos, head = [], 0, len(_RECORD_MAGIC) + 8
    while pos + head <= len(data) and data[pos:pos + len(_RECORD_MAGIC)] == _RECORD_MAGIC:
        size = int.from_bytes(data[pos + len(_RECORD_MAGIC):pos + head], "little")
        end = pos + head + size + 4
        payload = data[pos + head:pos + head + size]
        if end > len(data) or zlib.crc32(payload).to_bytes(4, "little") != data[end - 4:end]:
            break
        out.append(payload)
        pos = end
    return out, pos


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def example_path() -> Path:
    """Path of the example network shipped with the package (2 inputs, hidden 8-8, 2 outputs)."""
    return Path(__file__).parent / "data" / "example.npz"


# ------------------------------------------------------------------ .nnet ---

def _load_nnet(path: Path, normalize: bool) -> ReLUNetwork:
    """The text format of the ACAS Xu networks (sisl/NNet): header, sizes, normalisation, weights."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise NetworkFormatError(f"{path}: not a readable .nnet text file ({exc})") from None
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip() and not ln.startswith("//")]
    pos = 0

    def numbers(what: str) -> list[float]:
        nonlocal pos
        if pos >= len(lines):
            raise NetworkFormatError(f"{path}: file ends before the {what}")
        number, line = lines[pos]
        pos += 1
        try:
            return [float(v) for v in line.replace(",", " ").split()]
        except ValueError:
            raise NetworkFormatError(f"{path}: line {number} ({what}) is not a list of numbers") from None

    head = numbers("header")
    if len(head) < 3:
        raise NetworkFormatError(f"{path}: the header needs layers, inputs, outputs")
    n_layers = int(head[0])
    sizes = [int(v) for v in numbers("layer sizes")]
    if len(sizes) != n_layers + 1 or min(sizes) < 1 or sum(a * b for a, b in zip(sizes, sizes[1:])) > MAX_WEIGHTS:
        raise NetworkFormatError(f"{path}: layer sizes {sizes} do not match {n_layers} layers")
    numbers("symmetric flag")
    mins, maxes, means, ranges = (numbers(w) for w in ("input minimums", "input maximums", "means", "ranges"))
    n = sizes[0]
    if not (len(mins) >= n and len(maxes) >= n and len(means) >= n + 1 and len(ranges) >= n + 1):
        raise NetworkFormatError(f"{path}: normalisation lines need {n} inputs and one output entry")
    layers = []
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        W = np.array([numbers(f"layer {k} weight row {r}")[:a] for r in range(b)])
        bias = np.array([numbers(f"layer {k} bias {r}")[0] for r in range(b)])
        if W.shape != (b, a):
            raise NetworkFormatError(f"{path}: layer {k} weights do not have shape ({b}, {a})")
        layers.append((W, bias))
    if normalize:
        mean, rng = np.array(means[:n]), np.array(ranges[:n])
        W, b = layers[0]
        layers[0] = (W / rng, b - (W / rng) @ mean)
        W, b = layers[-1]
        layers[-1] = (W * ranges[n], b * ranges[n] + means[n])
    return ReLUNetwork(tuple(layers), source=str(path))


# ------------------------------------------------------------------ .onnx ---

class _Affine:
    """A tensor that is an affine function ``M h + v`` of the current ReLU input ``h``."""

    def __init__(self, M: np.ndarray, v: np.ndarray, shape: tuple[int, ...]) -> None:
        self.M, self.v, self.shape = M, v, shape


def _load_onnx(path: Path) -> ReLUNetwork:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise NetworkFormatError(f"{path}: reading ONNX needs the onnx package: pip install 'shallowrelu[onnx]'") \
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
    values[inputs[0].name] = _Affine(np.eye(n), np.zeros(n), shape)
    layers: list = []
    for node in g.node:
        where = f"{path}: node {node.name or node.output[0]!r} (op {node.op_type})"
        args = [values.get(name) for name in node.input if name]
        if any(a is None for a in args):
            raise NetworkFormatError(f"{where}: an input is not computed before it")
        out = _onnx_op(node, args, layers, where, numpy_helper)
        values[node.output[0]] = out
    result = values.get(g.output[0].name)
    if not isinstance(result, _Affine):
        raise NetworkFormatError(f"{path}: the output does not depend on the input")
    layers.append((result.M, result.v))
    return ReLUNetwork(tuple(layers), source=str(path))


def _attr(node, name: str, default):
    for a in node.attribute:
        if a.name == name:
            return {1: a.f, 2: a.i, 3: a.s, 7: list(a.ints), 6: list(a.floats)}.get(a.type, default)
    return default


def _elementwise(x, c: np.ndarray, where: str, op) -> "_Affine":
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
        return _Affine(np.eye(k), np.zeros(k), x.shape)
    if op in ("Flatten", "Reshape"):
        x = args[0]
        return _Affine(x.M, x.v, (x.v.size,))
    if op in ("Add", "Sub"):
        x, y = args
        sign = 1.0 if op == "Add" else -1.0
        if isinstance(x, _Affine) and isinstance(y, _Affine):
            if x.v.size != y.v.size:
                raise NetworkFormatError(f"{where}: operands of different sizes")
            return _Affine(x.M + sign * y.M, x.v + sign * y.v, x.shape)
        if isinstance(x, _Affine):
            return _elementwise(x, y, where, lambda c: _Affine(x.M, x.v + sign * c, x.shape))
        return _elementwise(y, x, where, lambda c: _Affine(sign * y.M, sign * y.v + c, y.shape))
    if op in ("Mul", "Div") and sum(isinstance(a, _Affine) for a in args) == 1:
        x, c = (args[0], args[1]) if isinstance(args[0], _Affine) else (args[1], args[0])
        if op == "Div" and not isinstance(args[0], _Affine):
            raise NetworkFormatError(f"{where}: dividing by the input is not affine")
        c = 1.0 / c if op == "Div" else c
        return _elementwise(x, c, where, lambda s: _Affine(x.M * s[:, None], x.v * s, x.shape))
    if op == "MatMul" and isinstance(args[0], _Affine) and isinstance(args[1], np.ndarray) and args[1].ndim == 2:
        x, W = args
        if W.shape[0] != x.shape[-1]:
            raise NetworkFormatError(f"{where}: MatMul of shape {x.shape} by {W.shape}")
        WT = W.T
        return _Affine(WT @ x.M, WT @ x.v, x.shape[:-1] + (W.shape[1],))
    if op == "MatMul" and isinstance(args[0], np.ndarray) and isinstance(args[1], _Affine) and args[0].ndim == 2:
        W, x = args  # a column vector on the right: W @ x
        if W.shape[1] != x.v.size:
            raise NetworkFormatError(f"{where}: MatMul of shape {W.shape} by {x.shape}")
        return _Affine(W @ x.M, W @ x.v, (W.shape[0],))
    if op == "Gemm" and isinstance(args[0], _Affine):
        x, B = args[0], args[1]
        if _attr(node, "transA", 0):
            raise NetworkFormatError(f"{where}: transA is not supported")
        B = B.T if _attr(node, "transB", 0) else B
        alpha, beta = _attr(node, "alpha", 1.0), _attr(node, "beta", 1.0)
        C = args[2] if len(args) > 2 else np.zeros(B.shape[1])
        BT = alpha * B.T
        return _Affine(BT @ x.M, BT @ x.v + beta * np.broadcast_to(C, (B.shape[1],)), (B.shape[1],))
    if op == "BatchNormalization" and isinstance(args[0], _Affine):
        return _batch_norm(args[0], *args[1:5], _attr(node, "epsilon", 1e-5))
    if op == "Conv" and isinstance(args[0], _Affine) and all(isinstance(a, np.ndarray) for a in args[1:]):
        x, weight = args[0], args[1]
        k = weight.ndim - 2
        if _attr(node, "auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
            raise NetworkFormatError(f"{where}: auto_pad other than NOTSET/VALID is not supported")
        return _conv(x, weight, args[2] if len(args) > 2 else None, _attr(node, "strides", [1] * k),
                     _attr(node, "pads", [0] * 2 * k), _attr(node, "dilations", [1] * k), _attr(node, "group", 1),
                     where)
    raise NetworkFormatError(f"{where} is not supported (supported: MatMul, Gemm, Conv, Add, Sub, Mul, Div by "
                             "constants, Relu, Flatten, Reshape, Identity, Constant, BatchNormalization)")


def _batch_norm(x: _Affine, scale, bias, mean, var, eps: float) -> _Affine:
    """Inference-mode batch normalisation folded into the affine map (channels first)."""
    s = np.asarray(scale, float) / np.sqrt(np.asarray(var, float) + eps)
    rep = x.v.size // s.size
    s_full, shift = np.repeat(s, rep), np.repeat(np.asarray(bias, float) - np.asarray(mean, float) * s, rep)
    return _Affine(x.M * s_full[:, None], x.v * s_full + shift, x.shape)


def _conv(x: _Affine, weight: np.ndarray, bias: np.ndarray | None, strides, pads, dilations, group: int,
          where: str) -> _Affine:
    """A 2-D convolution (channels first, no batch axis) lowered to one dense matrix."""
    if weight.ndim != 4 or len(x.shape) != 3:
        raise NetworkFormatError(f"{where}: only 2-D convolutions of a (C, H, W) input are supported, "
                                 f"got weight {weight.shape} on input {x.shape}")
    C, H, Wd = x.shape
    O, Cg, kh, kw = weight.shape
    if Cg * group != C or O % group:
        raise NetworkFormatError(f"{where}: weight {weight.shape} with group {group} does not fit {C} channels")
    (sh, sw), (dh, dw), (pt, pl) = strides, dilations, pads[:2]
    Ho = (H + pads[0] + pads[2] - dh * (kh - 1) - 1) // sh + 1
    Wo = (Wd + pads[1] + pads[3] - dw * (kw - 1) - 1) // sw + 1
    if Ho < 1 or Wo < 1:
        raise NetworkFormatError(f"{where}: the kernel does not fit the input {x.shape}")
    if O * Ho * Wo * C * H * Wd > MAX_WEIGHTS:
        raise NetworkFormatError(f"{where}: too large to lower to a dense matrix")
    K = np.zeros((O, Ho, Wo, C, H, Wd))
    per_group = O // group
    for o in range(O):
        for c in range(Cg):
            ci = (o // per_group) * Cg + c
            for a in range(kh):
                rows = np.arange(Ho) * sh - pt + a * dh
                for b in range(kw):
                    cols = np.arange(Wo) * sw - pl + b * dw
                    oi, oj = np.nonzero(((rows >= 0) & (rows < H))[:, None] & ((cols >= 0) & (cols < Wd))[None, :])
                    K[o, oi, oj, ci, rows[oi], cols[oj]] += weight[o, c, a, b]
    K = K.reshape(O * Ho * Wo, C * H * Wd)
    shift = np.repeat(np.zeros(O) if bias is None else np.asarray(bias, float), Ho * Wo)
    return _Affine(K @ x.M, K @ x.v + shift, (O, Ho, Wo))


# -------------------------------------------------------------- PyTorch ---

def from_torch(module, input_shape: tuple[int, ...] | None = None) -> ReLUNetwork:
    """The network of a PyTorch ``nn.Sequential`` (in eval mode) of Linear, Conv2d, ReLU, ...

    Duck-typed: modules are read by class name and their ``weight``/``bias``
    tensors, so this module never imports torch. Supported: Linear, Conv2d,
    ReLU, Flatten, Identity, Dropout (inference: identity), BatchNorm1d/2d
    (running statistics folded into the preceding map); nested Sequential.

    Parameters
    ----------
    module : torch.nn.Module
    input_shape : tuple of int, optional
        Shape of one input without the batch axis, e.g. ``(1, 8, 8)``;
        needed when the first layer is a convolution.

    Raises
    ------
    NetworkFormatError
        Naming the module at fault.
    """
    def tensor(t) -> np.ndarray:
        return np.asarray(t.detach().cpu().numpy(), dtype=np.float64)

    mods = []

    def walk(m) -> None:
        if type(m).__name__ == "Sequential":
            for child in m:
                walk(child)
        else:
            mods.append(m)

    walk(module)
    x = None
    if input_shape is not None:
        n = int(np.prod(input_shape))
        x = _Affine(np.eye(n), np.zeros(n), tuple(input_shape))
    layers: list = []
    for k, m in enumerate(mods):
        name = type(m).__name__
        where = f"torch module {k} ({name})"
        if name == "Linear":
            W = tensor(m.weight)
            b = tensor(m.bias) if m.bias is not None else np.zeros(W.shape[0])
            if x is None:
                x = _Affine(np.eye(W.shape[1]), np.zeros(W.shape[1]), (W.shape[1],))
            if x.v.size != W.shape[1]:
                raise NetworkFormatError(f"{where}: takes {W.shape[1]} inputs but gets {x.v.size}")
            x = _Affine(W @ x.M, W @ x.v + b, (W.shape[0],))
        elif x is None:
            raise NetworkFormatError(f"{where}: give input_shape when the first layer is not Linear")
        elif name == "ReLU":
            layers.append((x.M, x.v))
            x = _Affine(np.eye(x.v.size), np.zeros(x.v.size), x.shape)
        elif name == "Flatten":
            x = _Affine(x.M, x.v, (x.v.size,))
        elif name in ("Identity", "Dropout"):
            continue
        elif name in ("BatchNorm1d", "BatchNorm2d"):
            x = _batch_norm(x, tensor(m.weight), tensor(m.bias), tensor(m.running_mean), tensor(m.running_var),
                            float(m.eps))
        elif name == "Conv2d":
            if m.padding_mode != "zeros" or isinstance(m.padding, str):
                raise NetworkFormatError(f"{where}: only explicit zero padding is supported")
            ph, pw = m.padding
            x = _conv(x, tensor(m.weight), None if m.bias is None else tensor(m.bias), m.stride, [ph, pw, ph, pw],
                      m.dilation, m.groups, where)
        else:
            raise NetworkFormatError(f"{where} is not supported (supported: Linear, Conv2d, ReLU, Flatten, "
                                     "Identity, Dropout, BatchNorm1d/2d)")
    if x is None:
        raise NetworkFormatError("torch module: no layers")
    layers.append((x.M, x.v))
    return ReLUNetwork(tuple(layers), source=f"torch {type(module).__name__}")
