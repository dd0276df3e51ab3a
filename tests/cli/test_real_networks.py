"""The command line on networks as users bring them: classifier heads, labels, slices of many inputs."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import skl2onnx
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier

import shallowrelu as sr
from shallowrelu.testing.nets import random_net


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "shallowrelu", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A digits classifier exported by skl2onnx with its default head, and three images in the 8x8 shape."""
    folder = tmp_path_factory.mktemp("digits")
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, random_state=0).fit(X, y)
    (folder / "digits.onnx").write_bytes(skl2onnx.to_onnx(clf, X[:1].astype(np.float32)).SerializeToString())
    for i in range(3):
        np.save(folder / f"img{i}.npy", X[i].reshape(1, 8, 8))  # the model's input shape, as an image
    np.save(folder / "imgs.npy", X[:3].reshape(3, 1, 8, 8))
    return folder, clf, X


def test_a_head_is_read_up_to_the_logits_and_said_once(digits):
    folder, clf, X = digits
    proc = run("enumerate", folder / "digits.onnx", "--segment", folder / "img0.npy", folder / "img1.npy", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("read up to the logits") == 1 and "labels 0, 1, 2" in proc.stderr
    data = json.loads(proc.stdout)
    assert data["complete"] and data["dimension"] == 1 and data["regions"] >= 1


def test_planes_and_points_in_the_image_shape(digits, tmp_path):
    folder, clf, X = digits
    imgs = [folder / f"img{i}.npy" for i in range(3)]
    cat_path = tmp_path / "plane.npz"
    proc = run("enumerate", folder / "digits.onnx", "--plane", *imgs, "-o", cat_path)
    assert proc.returncode == 0, proc.stderr
    cat = sr.Catalogue.load(cat_path)
    assert cat.dim == 2 and cat.info["slice"]["kind"] == "plane" and cat.info["complete"]
    # full-space inputs on the plane are located; one off it is not
    assert np.all(cat.region_of(X[:3]) >= 0) and cat.region_of(X[5:6])[0] == -1
    proc = run("explain", cat_path, "--points", folder / "imgs.npy", "--no-shallow-gates", "--norms", "inf", "--json")
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)["explanations"]
    assert [e["class"] for e in found] == [str(v) for v in clf.predict(X[:3])]
    proc = run("stats", cat_path)
    assert proc.returncode == 0 and "regions per label" in proc.stdout
    proc = run("plot", cat_path, "-o", tmp_path / "p.png", "--point=0.3,0.3")
    assert proc.returncode == 0, proc.stderr


def test_a_ball_and_a_tensor_chosen_by_name(digits, tmp_path):
    folder, clf, X = digits
    proc = run("bounds", folder / "digits.onnx", "--ball", folder / "img0.npy", "0.002", "--box=0,1",
               "--tensor", "out_activations_result", "--json")
    # a Softmax output is not piecewise linear: read up to its logits all the same
    assert proc.returncode == 0, proc.stderr
    top = json.loads(proc.stdout)["bounds"]
    assert len(top) == 10 and all(b["min"] <= b["max"] for b in top)
    proc = run("enumerate", folder / "digits.onnx", "--tensor", "nothing_of_that_name", "--segment",
               folder / "img0.npy", folder / "img1.npy")
    assert proc.returncode == 1 and "no tensor 'nothing_of_that_name'" in proc.stderr


def test_bad_slice_inputs_give_one_line(digits, tmp_path):
    folder, _, _ = digits
    np.save(tmp_path / "short.npy", np.zeros(5))
    proc = run("enumerate", folder / "digits.onnx", "--segment", folder / "img0.npy", tmp_path / "short.npy")
    assert proc.returncode == 1 and "short.npy: --segment needs an input of 64 numbers" in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "read up to the logits" not in line]
    assert len(errors) == 1  # one line for the error (beside the reader's note)
    proc = run("enumerate", folder / "digits.onnx", "--plane", folder / "img0.npy", folder / "img0.npy",
               folder / "img1.npy")
    assert proc.returncode == 1 and "parallel" in proc.stderr


def test_a_pickled_torch_file_is_refused_in_one_line(tmp_path):
    import torch
    torch.save(torch.nn.Linear(2, 1), str(tmp_path / "m.pt"))
    proc = run("enumerate", tmp_path / "m.pt")
    assert proc.returncode == 1 and "loading it runs the code it holds" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_verify_names_the_label_of_its_counterexample(tmp_path):
    net = sr.ReLUNetwork(random_net([2, 6, 3], seed=3).layers, labels=["cat", "dog", "bird"])
    sr.save_network(net, tmp_path / "n.npz")
    (tmp_path / "p.vnnlib").write_text("(declare-const X_0 Real) (declare-const X_1 Real) (declare-const Y_0 Real) "
                                       "(declare-const Y_1 Real) (declare-const Y_2 Real) (assert (>= X_0 -1)) "
                                       "(assert (<= X_0 1)) (assert (>= X_1 -1)) (assert (<= X_1 1)) "
                                       "(assert (>= Y_0 Y_1)) (assert (>= Y_0 Y_2))")
    proc = run("verify", tmp_path / "n.npz", tmp_path / "p.vnnlib", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    if data["verdict"] == "sat":
        assert data["label"] == "cat"
    else:  # then no input of the box is labelled cat
        X = np.random.default_rng(0).uniform(-1, 1, (5000, 2))
        assert "cat" not in net.labels_of(net(X))
