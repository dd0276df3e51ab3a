"""Loaders for ONNX and .nnet against onnxruntime and against each other (third-party files, tests/data)."""


import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import shallowrelu as sr
from tests.helpers import DATA

ACAS_ONNX = DATA / "ACASXU_run2a_1_1_batch_2000.onnx"
ACAS_NNET = DATA / "ACASXU_run2a_1_1_batch_2000.nnet"


@pytest.mark.parametrize("name", ["test_nano.onnx", "test_tiny.onnx", "test_small.onnx",
                                  "ACASXU_run2a_1_1_batch_2000.onnx", "vdp.onnx", "cartpole.onnx"])
def test_onnx_loader_agrees_with_onnxruntime(name, rng, tmp_path):
    path = DATA / name
    net = sr.load_network(path)
    X = rng.uniform(-1, 1, size=(50, net.n_inputs)).astype(np.float32)
    mine = net(X.astype(np.float64))
    # the file as it is (float32 arithmetic in onnxruntime, float64 here) ...
    Y32 = _run(path, X)
    assert np.abs(Y32 - mine).max() <= 1e-5 * max(1.0, np.abs(Y32).max())
    # ... and the same graph in float64, where the two must agree to rounding
    Y64 = _run(_as_float64(path, tmp_path), X.astype(np.float64))
    assert np.abs(Y64 - mine).max() <= 1e-10 * max(1.0, np.abs(Y64).max())


@pytest.mark.parametrize("name", ["mlp", "softmax", "leaky"])
def test_keras_models_exported_by_tf2onnx_read_to_keras_outputs(name):
    """Keras models as tf2onnx writes them (tests/data/README.md): the outputs Keras itself gave are the oracle,
    through the softmax head for the classifier (read up to its logits)."""
    net = sr.load_network(DATA / "keras" / f"{name}.onnx")
    X = np.load(DATA / "keras" / "X.npy").astype(np.float64)
    keras = np.load(DATA / "keras" / f"{name}_keras.npy")
    out = net(X)
    if name == "softmax":
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    assert out.shape == keras.shape
    assert np.abs(out - keras).max() <= 1e-5 * max(1.0, np.abs(keras).max())  # Keras computes in float32


def _run(path, X):
    session = ort.InferenceSession(str(path))
    inp = session.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
    return np.vstack([session.run(None, {inp.name: x.reshape(shape)})[0].ravel() for x in X])


def _as_float64(path, tmp_path):
    """The model with every float tensor turned into a double one."""
    from onnx import numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    for i, init in enumerate(list(g.initializer)):
        if init.data_type == TensorProto.FLOAT:
            g.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float64),
                                                              init.name))
    for v in list(g.input) + list(g.output) + list(g.value_info):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.DOUBLE
    out = tmp_path / f"{path.stem}.f64.onnx"
    onnx.save(model, str(out))
    return out


def test_acas_quirk_initializers_listed_as_inputs():
    graph = onnx.load(str(ACAS_ONNX)).graph
    assert len(graph.input) > 1  # the quirk is there
    net = sr.load_network(ACAS_ONNX)
    assert (net.n_inputs, net.hidden_sizes, net.n_outputs) == (5, (50,) * 6, 5)


def _model(tmp_path, nodes, inits, name="m.onnx"):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], inits)
    path = tmp_path / name
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_unsupported_op_is_named(tmp_path):
    W = helper.make_tensor("W", TensorProto.FLOAT, [2, 2], [1, 0, 0, 1])
    path = _model(tmp_path, [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
                             helper.make_node("Tanh", ["h"], ["t"], name="squash"),
                             helper.make_node("MatMul", ["t", "W"], ["y"], name="out")], [W])
    with pytest.raises(sr.NetworkFormatError, match="node 'squash' \\(op Tanh\\) is not supported"):
        sr.load_network(path)


def test_gemm_batchnorm_sub_and_mul_are_folded(tmp_path, rng):
    Wv = rng.normal(size=(2, 2)).astype(np.float32)
    inits = [helper.make_tensor("W", TensorProto.FLOAT, [2, 2], Wv.ravel()),
             helper.make_tensor("c", TensorProto.FLOAT, [2], [0.5, -0.25]),
             helper.make_tensor("m", TensorProto.FLOAT, [1, 2], [0.1, 0.2]),
             helper.make_tensor("s", TensorProto.FLOAT, [2], [2.0, 0.5]),
             helper.make_tensor("scale", TensorProto.FLOAT, [2], [1.5, 0.7]),
             helper.make_tensor("bias", TensorProto.FLOAT, [2], [0.1, -0.1]),
             helper.make_tensor("mean", TensorProto.FLOAT, [2], [0.2, 0.3]),
             helper.make_tensor("var", TensorProto.FLOAT, [2], [1.2, 0.8])]
    nodes = [helper.make_node("Sub", ["x", "m"], ["a"]),
             helper.make_node("Gemm", ["a", "W", "c"], ["b"], transB=1, alpha=0.5),
             helper.make_node("BatchNormalization", ["b", "scale", "bias", "mean", "var"], ["bn"], epsilon=1e-3),
             helper.make_node("Relu", ["bn"], ["r"]),
             helper.make_node("Mul", ["r", "s"], ["y"])]
    path = _model(tmp_path, nodes, inits)
    net = sr.load_network(path)
    session = ort.InferenceSession(str(path))
    X = rng.uniform(-1, 1, size=(30, 2)).astype(np.float32)
    Y = np.vstack([session.run(None, {"x": x[None]})[0] for x in X])
    np.testing.assert_allclose(net(X.astype(np.float64)), Y, atol=1e-5)


def test_bad_files_are_refused_with_the_file_named(tmp_path):
    (tmp_path / "text.onnx").write_text("not a model")
    with pytest.raises(sr.NetworkFormatError, match="text.onnx: not a readable ONNX file"):
        sr.load_network(tmp_path / "text.onnx")
    lines = ACAS_NNET.read_text().splitlines()
    (tmp_path / "cut.nnet").write_text("\n".join(lines[:40]))
    with pytest.raises(sr.NetworkFormatError, match="cut.nnet: file ends before the layer"):
        sr.load_network(tmp_path / "cut.nnet")
    (tmp_path / "bad.nnet").write_text("\n".join(lines[:12] + ["1.0,abc,2.0,"] + lines[13:]))
    with pytest.raises(sr.NetworkFormatError, match="bad.nnet: line 13"):
        sr.load_network(tmp_path / "bad.nnet")


def test_cli_enumerates_an_onnx_network(tmp_path):
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "enumerate", str(DATA / "test_small.onnx"),
                           "--box=-1,1", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["regions"] >= 1


@pytest.mark.parametrize("strides,pads,dilations,group", [([1, 1], [0, 0, 0, 0], [1, 1], 1),
                                                           ([2, 1], [1, 0, 1, 2], [1, 2], 1),
                                                           ([1, 2], [1, 1, 1, 1], [1, 1], 2)])
def test_conv_is_lowered_to_a_dense_layer(tmp_path, rng, strides, pads, dilations, group):
    # Conv -> Relu -> Flatten -> Gemm, on a (2, 5, 6) input, checked against onnxruntime
    Wc = rng.normal(size=(4, 2 // group, 3, 2)).astype(np.float32)
    bc = rng.normal(size=4).astype(np.float32)
    net0 = helper.make_graph(
        [helper.make_node("Conv", ["x", "Wc", "bc"], ["c"], strides=strides, pads=pads, dilations=dilations,
                          group=group, name="conv"),
         helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Flatten", ["r"], ["f"]),
         helper.make_node("Gemm", ["f", "Wg"], ["y"], transB=1)],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("Wc", TensorProto.FLOAT, Wc.shape, Wc.ravel()),
         helper.make_tensor("bc", TensorProto.FLOAT, [4], bc)])
    # the flattened size is whatever the convolution gives; ask onnxruntime for it first
    probe = tmp_path / "probe.onnx"
    g = helper.make_graph(list(net0.node)[:3], "p", list(net0.input),
                          [helper.make_tensor_value_info("f", TensorProto.FLOAT, None)], list(net0.initializer))
    onnx.save(helper.make_model(g), str(probe))
    width = ort.InferenceSession(str(probe)).run(None, {"x": np.zeros((1, 2, 5, 6), np.float32)})[0].shape[1]
    Wg = rng.normal(size=(3, width)).astype(np.float32)
    net0.initializer.append(helper.make_tensor("Wg", TensorProto.FLOAT, Wg.shape, Wg.ravel()))
    path = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(net0), str(path))
    net = sr.load_network(path)
    assert net.n_inputs == 60 and net.hidden_sizes == (width,) and net.n_outputs == 3
    X = rng.uniform(-1, 1, size=(40, 60)).astype(np.float32)
    Y = np.vstack([ort.InferenceSession(str(path)).run(None, {"x": x.reshape(1, 2, 5, 6)})[0] for x in X])
    assert np.abs(net(X.astype(np.float64)) - Y).max() <= 1e-5 * max(1.0, np.abs(Y).max())


def _dense(name, x, W, b, out):
    """MatMul + Add nodes computing ``out = x @ W + b`` and their initializers."""
    inits = [helper.make_tensor(f"{name}_W", TensorProto.FLOAT, W.shape, W.ravel()),
             helper.make_tensor(f"{name}_b", TensorProto.FLOAT, b.shape, b)]
    nodes = [helper.make_node("MatMul", [x, f"{name}_W"], [f"{name}_mm"], name=f"{name}_mm"),
             helper.make_node("Add", [f"{name}_mm", f"{name}_b"], [out], name=f"{name}_add")]
    return nodes, inits


def _graph_file(tmp_path, nodes, inits, n_in, name):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / name
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_nodes_are_read_in_data_flow_order_not_file_order(tmp_path, rng):
    W1, b1 = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    W2, b2 = rng.normal(size=(5, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)
    n1, i1 = _dense("l1", "x", W1, b1, "z1")
    n2, i2 = _dense("l2", "h1", W2, b2, "y")
    relu = helper.make_node("Relu", ["z1"], ["h1"], name="relu")
    unused = helper.make_node("Relu", ["x"], ["dead"], name="dead_end")  # not on the way to the output
    path = _graph_file(tmp_path, n2[::-1] + [relu, unused] + n1[::-1], i1 + i2, 3, "shuffled.onnx")
    net = sr.load_network(path)
    X = rng.normal(size=(20, 3))
    np.testing.assert_allclose(net(X), np.maximum(X @ W1 + b1, 0) @ W2 + b2, rtol=1e-12, atol=1e-12)


def test_a_skip_connection_is_read_exactly(tmp_path, rng):
    # y = c(relu(b(h)) + h), h = relu(a(x)): the graph of the report that used to load silently wrong
    Wa, ba = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    Wb, bb = rng.normal(size=(4, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    Wc, bc = rng.normal(size=(4, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)
    na, ia = _dense("a", "x", Wa, ba, "za")
    nb, ib = _dense("b", "h", Wb, bb, "zb")
    nc, ic = _dense("c", "s", Wc, bc, "y")
    nodes = na + [helper.make_node("Relu", ["za"], ["h"], name="r1")] + nb + [
        helper.make_node("Relu", ["zb"], ["g"], name="r2"), helper.make_node("Add", ["g", "h"], ["s"], name="skip")]
    path = _graph_file(tmp_path, nodes + nc, ia + ib + ic, 3, "skip.onnx")
    net = sr.load_network(path)
    assert net.hidden_sizes == (4, 8)  # h is carried past the second layer by units with no kink
    X = rng.normal(size=(50, 3))
    h = np.maximum(X @ Wa + ba, 0)
    np.testing.assert_allclose(net(X), (np.maximum(h @ Wb + bb, 0) + h) @ Wc + bc, rtol=1e-12, atol=1e-12)


def test_parallel_branches_are_read_exactly(tmp_path, rng):
    # y = relu(x A) @ B + relu(x C) @ D: the second ReLU reads the input after the first layer was made
    mats = [rng.normal(size=s).astype(np.float32) for s in [(2, 3), (3, 2), (2, 3), (3, 2)]]
    inits = [helper.make_tensor(k, TensorProto.FLOAT, m.shape, m.ravel()) for k, m in zip("ABCD", mats)]
    nodes = [helper.make_node("MatMul", ["x", "A"], ["a"]), helper.make_node("Relu", ["a"], ["ra"], name="left"),
             helper.make_node("MatMul", ["x", "C"], ["c"]), helper.make_node("Relu", ["c"], ["rc"], name="right"),
             helper.make_node("MatMul", ["ra", "B"], ["yb"]), helper.make_node("MatMul", ["rc", "D"], ["yd"]),
             helper.make_node("Add", ["yb", "yd"], ["y"], name="join")]
    path = _graph_file(tmp_path, nodes, inits, 2, "branches.onnx")
    net = sr.load_network(path)
    assert net.hidden_sizes == (6,)  # both branches in one layer
    X = rng.normal(size=(50, 2))
    A, B, C, D = mats
    np.testing.assert_allclose(net(X), np.maximum(X @ A, 0) @ B + np.maximum(X @ C, 0) @ D, rtol=1e-12,
                               atol=1e-12)


def test_a_graph_read_differently_from_onnxruntime_is_refused(monkeypatch):
    # The comparison with onnxruntime is the last line of defence: make the reader misread Relu on purpose.
    from shallowrelu.io import onnx_ops

    monkeypatch.setitem(onnx_ops.OPS, "Relu", onnx_ops.abs_)  # |z| where relu(z) is meant
    with pytest.raises(sr.NetworkFormatError, match="2000.onnx: the graph as read differs from onnxruntime"):
        sr.load_network(ACAS_ONNX)
