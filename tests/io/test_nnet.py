"""The ACAS Xu ``.nnet`` reader against the same network's ONNX file."""

import numpy as np

import shallowrelu as sr
from tests.helpers import DATA

ACAS_ONNX = DATA / "ACASXU_run2a_1_1_batch_2000.onnx"
ACAS_NNET = DATA / "ACASXU_run2a_1_1_batch_2000.nnet"


def test_nnet_holds_the_same_network_as_the_onnx_file(rng):
    X = rng.uniform(-0.5, 0.5, size=(200, 5))
    np.testing.assert_allclose(sr.load_network(ACAS_NNET)(X), sr.load_network(ACAS_ONNX)(X), atol=1e-6)


def test_nnet_normalisation_is_folded_in(rng):
    # the .nnet file's own arithmetic: x_norm = (x - mean) / range; y = y_norm * range + mean
    lines = [ln for ln in ACAS_NNET.read_text().splitlines() if not ln.startswith("//")]
    mean = np.array([float(v) for v in lines[5].split(",") if v.strip()])
    rng_ = np.array([float(v) for v in lines[6].split(",") if v.strip()])
    raw_net = sr.load_network(ACAS_NNET, normalize=True)
    plain = sr.load_network(ACAS_NNET)
    X = rng.uniform(-0.5, 0.5, size=(100, 5))
    raw = X * rng_[:5] + mean[:5]
    np.testing.assert_allclose(raw_net(raw), plain(X) * rng_[5] + mean[5], rtol=1e-9, atol=1e-9)
