"""scikit-learn models, read directly and through skl2onnx, against scikit-learn's own answers."""

import warnings

import numpy as np
import pytest
import skl2onnx
from sklearn.datasets import load_digits, load_wine
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

import shallowrelu as sr


@pytest.fixture(scope="module")
def wine():
    return load_wine(return_X_y=True)


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of a short training
        return model.fit(X, y)


@pytest.mark.parametrize("scaler", [StandardScaler, MinMaxScaler, MaxAbsScaler])
def test_a_pipeline_classifier_has_the_same_labels_and_logits(scaler, wine):
    X, y = wine
    clf = _fit(make_pipeline(scaler(), MLPClassifier(hidden_layer_sizes=(16, 16), max_iter=300, random_state=0)),
               X, y)
    net = sr.from_sklearn(clf)
    assert net.labels == ("0", "1", "2")
    assert net.labels_of(net(X)) == [str(v) for v in clf.predict(X)]
    # softmax of the logits is predict_proba, to float64 rounding
    Z = net(X)
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(P / P.sum(axis=1, keepdims=True), clf.predict_proba(X), rtol=1e-12, atol=1e-12)


def test_a_binary_classifier_and_a_regressor(wine):
    X, y = wine
    binary = _fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0), X[y < 2], y[y < 2])
    net = sr.from_sklearn(binary)
    assert net.n_outputs == 2 and net.labels_of(net(X)) == [str(v) for v in binary.predict(X)]
    reg = _fit(make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(8,), max_iter=300, random_state=0)),
               X, y.astype(float))
    np.testing.assert_allclose(sr.from_sklearn(reg)(X)[:, 0], reg.predict(X), rtol=1e-12, atol=1e-12)


def test_skl2onnx_files_read_up_to_the_logits_with_their_labels(wine, tmp_path):
    X, y = wine
    for name, mask in (("multi", y >= 0), ("binary", y < 2)):
        clf = _fit(make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=300,
                                                                 random_state=0)), X[mask], y[mask])
        path = tmp_path / f"{name}.onnx"
        path.write_bytes(skl2onnx.to_onnx(clf, X[:1].astype(np.float32)).SerializeToString())
        net = sr.load_network(path)
        assert "read up to the logits" in net.note and net.labels is not None
        # float32 in onnxruntime: the same label on every training input
        inputs = X[mask].astype(np.float32).astype(np.float64)
        assert net.labels_of(net(inputs)) == [str(v) for v in clf.predict(X[mask])]


def test_other_objects_are_refused_with_a_type_error(wine):
    X, y = wine
    with pytest.raises(TypeError, match="not StandardScaler"):
        sr.from_sklearn(StandardScaler().fit(X))
    with pytest.raises(TypeError, match="read it with shallowrelu.from_sklearn"):
        sr.enumerate_regions(MLPClassifier())


def test_a_digits_classifier_on_the_plane_through_three_images():
    X, y = load_digits(return_X_y=True)
    clf = _fit(MLPClassifier(hidden_layer_sizes=(24,), max_iter=200, random_state=0), X / 16, y)
    net = sr.from_sklearn(clf)
    a, b, c = X[:3] / 16
    cat = sr.enumerate_regions(net, sr.Slice.plane(a, b, c))
    assert cat.info["complete"] and cat.info["slice"]["kind"] == "plane"
    found = cat.region_of(np.vstack([a, b, c, (a + b + c) / 3]))
    assert np.all(found >= 0)
    assert cat.region_of(X[10:11] / 16)[0] == -1  # off the plane
