"""Every operator the ONNX reader maps, against onnxruntime: at random points and on the kinks.

Each case is a small graph built here; the network read must agree with
onnxruntime (float64 graphs, so to rounding), its regions must be those its
kinks say (the catalogue is complete and its maps agree with the network),
and its shallow network must equal it.
"""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import shallowrelu as sr

R = np.random.default_rng(3)


def _t(name, a, dtype=np.float64):
    return numpy_helper.from_array(np.asarray(a, dtype=dtype), name)


def _f(name, a):
    """A float32 constant: onnxruntime has no float64 Conv, ConvTranspose or AveragePool."""
    return _t(name, a, np.float32)


def _i(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.int64), name)


def _dense(x, out, n_in, n_out, tag, const=_t):
    """A MatMul + Add of random weights."""
    return ([helper.make_node("MatMul", [x, f"W{tag}"], [f"m{tag}"]),
             helper.make_node("Add", [f"m{tag}", f"b{tag}"], [out])],
            [const(f"W{tag}", R.normal(size=(n_in, n_out))), const(f"b{tag}", R.normal(size=n_out) * 0.3)])


def _mlp_case(middle, width=4, out_width=None, inits=()):
    """x (2 inputs) -> dense -> ``middle`` (nodes from 'a' to 'k') -> dense -> y."""
    out_width = out_width or width
    n1, i1 = _dense("x", "a", 2, width, 1)
    n2, i2 = _dense("k", "y", out_width, 2, 2)
    return n1 + middle + n2, i1 + i2 + list(inits), (2,)


def _image_case(middle, out_size, inits=()):
    """x (1x4x4 image, float32) -> ``middle`` (from 'x' to 'k') -> Flatten -> dense -> y."""
    n2, i2 = _dense("f", "y", out_size, 2, 2, _f)
    return middle + [helper.make_node("Flatten", ["k"], ["f"])] + n2, i2 + list(inits), (1, 4, 4)


CASES = {
    "relu": _mlp_case([helper.make_node("Relu", ["a"], ["k"])]),
    "leaky_relu": _mlp_case([helper.make_node("LeakyRelu", ["a"], ["k"], alpha=0.2)]),
    "prelu": _mlp_case([helper.make_node("PRelu", ["a", "s"], ["k"])], inits=[_t("s", [0.1, -0.3, 0.5, 1.5])]),
    "abs": _mlp_case([helper.make_node("Abs", ["a"], ["k"])]),
    "clip": _mlp_case([helper.make_node("Clip", ["a", "lo", "hi"], ["k"])], inits=[_t("lo", -0.5), _t("hi", 0.7)]),
    "relu6_one_sided": _mlp_case([helper.make_node("Clip", ["a", "lo"], ["k"])], inits=[_t("lo", 0.1)]),
    "max": _mlp_case([helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Max", ["a", "r", "c"], ["k"])],
                     inits=[_t("c", [0.2, -0.1, 0.0, 0.3])]),
    "min": _mlp_case([helper.make_node("Neg", ["a"], ["n"]), helper.make_node("Min", ["a", "n"], ["k"])]),
    "skip_add_sub": _mlp_case([helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Relu", ["r"], ["r2"]),
                               helper.make_node("Sub", ["r2", "a"], ["k"])]),
    "concat_split_slice": _mlp_case([
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Split", ["r", "sp"], ["p", "q"], axis=1),
        helper.make_node("Concat", ["q", "a", "p"], ["c"], axis=1),
        helper.make_node("Slice", ["c", "st", "en", "ax"], ["k"])], out_width=5,
        inits=[_i("sp", [1, 3]), _i("st", [1]), _i("en", [6]), _i("ax", [1])]),
    "reshape_transpose_gather": _mlp_case([
        helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Reshape", ["r", "shp"], ["s"]),
        helper.make_node("Transpose", ["s"], ["t"], perm=[0, 2, 1]),
        helper.make_node("Reshape", ["t", "flat"], ["u"]),
        helper.make_node("Gather", ["u", "idx"], ["k"], axis=1)], out_width=3,
        inits=[_i("shp", [1, 2, 2]), _i("flat", [1, 4]), _i("idx", [3, 0, 2])]),
    "gemm_mul_div": _mlp_case([
        helper.make_node("Gemm", ["a", "G", "gb"], ["g"], transB=1, alpha=0.7, beta=1.3),
        helper.make_node("Relu", ["g"], ["r"]), helper.make_node("Mul", ["r", "two"], ["m"]),
        helper.make_node("Div", ["m", "three"], ["k"])], out_width=3,
        inits=[_t("G", R.normal(size=(3, 4))), _t("gb", R.normal(size=3)), _t("two", 2.0),
               _t("three", [3.0, 1.0, 2.0])]),
    "conv_maxpool": _image_case([
        helper.make_node("Conv", ["x", "K", "kb"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]), helper.make_node("MaxPool", ["r"], ["k"], kernel_shape=[2, 2],
                                                                  strides=[2, 2])],
        8, inits=[_f("K", R.normal(size=(2, 1, 3, 3))), _f("kb", R.normal(size=2) * 0.2)]),
    "maxpool_padded_overlapping": _image_case([
        helper.make_node("MaxPool", ["x"], ["k"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], 4),
    "conv_transpose_batchnorm": _image_case([
        helper.make_node("ConvTranspose", ["x", "K"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "sc", "bi", "mu", "var"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["k"])], 2 * 7 * 7,
        inits=[_f("K", R.normal(size=(1, 2, 3, 3))), _f("sc", [1.2, 0.7]), _f("bi", [0.1, -0.2]),
               _f("mu", [0.05, 0.1]), _f("var", [1.5, 0.8])]),
    "average_pools": _image_case([
        helper.make_node("AveragePool", ["x"], ["p"], kernel_shape=[2, 2], pads=[1, 1, 0, 0]),
        helper.make_node("Relu", ["p"], ["r"]), helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("GlobalMaxPool", ["x"], ["m"]), helper.make_node("Concat", ["g", "m"], ["k"], axis=1)], 2),
    "reduce_max_min": _image_case([
        helper.make_node("ReduceMax", ["x", "ax3"], ["m"], keepdims=1), helper.make_node("Relu", ["m"], ["r"]),
        helper.make_node("ReduceMin", ["x", "ax2"], ["n"], keepdims=0), helper.make_node("Flatten", ["n"], ["nf"]),
        helper.make_node("Flatten", ["r"], ["rf"]), helper.make_node("Concat", ["rf", "nf"], ["k"], axis=1)], 8,
        inits=[_i("ax3", [3]), _i("ax2", [2])]),
    "pad_reduce": _image_case([
        helper.make_node("Pad", ["x", "pads", "val"], ["p"]), helper.make_node("Relu", ["p"], ["r"]),
        helper.make_node("ReduceMean", ["r", "axes"], ["k"], keepdims=1)], 5,
        inits=[_i("pads", [0, 0, 1, 0, 0, 0, 0, 1]), _f("val", 0.5), _i("axes", [2])]),
}


def _file(tmp_path, name):
    nodes, inits, shape = CASES[name]
    kind = TensorProto.FLOAT if len(shape) == 3 else TensorProto.DOUBLE
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", kind, [1, *shape])],
                              [helper.make_tensor_value_info("y", kind, [1, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path, shape


def _run(path, X, shape):
    """onnxruntime's outputs, and the error allowed: rounding of float64, or of float32 images."""
    session = ort.InferenceSession(str(path))
    dtype = np.float32 if len(shape) == 3 else np.float64
    Y = np.vstack([session.run(None, {"x": x.reshape(1, *shape).astype(dtype)})[0].reshape(1, -1) for x in X])
    return Y.astype(np.float64)


def _close(net, path, X, shape):
    expected = _run(path, X, shape)
    tol = 1e-5 if len(shape) == 3 else 1e-12
    np.testing.assert_allclose(net(X), expected, rtol=tol, atol=tol * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_operator_agrees_with_onnxruntime(name, tmp_path, rng):
    path, shape = _file(tmp_path, name)
    net = sr.load_network(path)
    n = net.n_inputs
    X = rng.normal(size=(40, n)).astype(np.float32).astype(np.float64)
    _close(net, path, X, shape)
    # on the kinks: points of the region boundaries, where a misread kink would show first
    if n == 2:
        cat = sr.enumerate_regions(net, sr.Box(-2, 2))
        assert cat.info["complete"]
        on_kinks = cat.table.facet_point[cat.table.facet_layer > 0]
        _close(net, path, on_kinks, shape)
        report = sr.check_equivalence(net, sr.build_shallow(cat), cat)
        assert report.passed, report


@pytest.mark.parametrize("name", ["conv_maxpool", "maxpool_padded_overlapping"])
def test_image_operators_on_a_plane_through_three_images(name, tmp_path, rng):
    path, shape = _file(tmp_path, name)
    net = sr.load_network(path)
    a, b, c = rng.uniform(0, 1, size=(3, net.n_inputs))
    cat = sr.enumerate_regions(net, sr.Slice.plane(a, b, c))
    assert cat.info["complete"]
    P = rng.uniform(-0.25, 1.25, size=(300, 2))
    X = a + P[:, :1] * (b - a) + P[:, 1:] * (c - a)
    found = cat.region_of(X)
    assert np.all(found >= 0)
    np.testing.assert_array_equal(cat.patterns()[found], net.patterns(X))
    X = X.astype(np.float32).astype(np.float64)
    _close(net, path, X, shape)


@pytest.mark.parametrize("seed", range(3))
def test_a_network_with_kinks_written_as_onnx_reads_back_the_same(seed, tmp_path, rng):
    from shallowrelu.testing.nets import kinked_net

    net = kinked_net([3, 6, 5, 2], seed=seed)
    sr.save_network(net, tmp_path / "k.onnx")
    back = sr.load_network(tmp_path / "k.onnx")
    X = rng.normal(size=(300, 3))
    np.testing.assert_allclose(back(X), net(X), rtol=1e-12, atol=1e-12)
    assert len(sr.enumerate_regions(back, sr.Box(-1, 1))) == len(sr.enumerate_regions(net, sr.Box(-1, 1)))
