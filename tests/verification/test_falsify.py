"""Falsification: the gradient attack and the region walk, against vertex enumeration."""

import time

import numpy as np

import shallowrelu as sr
from shallowrelu.verification.falsify import attack, region_walk
from tests.helpers import DATA, max_by_vertices, threshold_term


def test_attack_descends_to_a_counterexample_uniform_samples_miss():
    net = sr.load_network(DATA / "ACASXU_run2a_1_9_batch_2000.onnx")
    term = sr.load_vnnlib(DATA / "prop_7.vnnlib").terms[0]
    rng = np.random.default_rng(0)
    X = term.lo + (term.hi - term.lo) * rng.random((20_000, 5))
    assert not np.any(np.all(net(X) @ term.C.T <= term.e, axis=1))
    x, _ = attack(net, term, np.random.default_rng(1))
    assert x is not None and np.all(term.C @ net(x[None])[0] <= term.e + 1e-9)


def test_region_walk_reaches_the_maximum_of_a_concave_network(rng):
    # y = -sum c_i relu(w_i . x + b_i) with c > 0 is concave, so the walk's local optimum is global
    W = rng.normal(size=(12, 3))
    net = sr.ReLUNetwork([(W, rng.normal(size=12) * 0.5), (-rng.uniform(0.5, 1.5, size=(1, 12)), np.zeros(1))])
    top = max_by_vertices(net, sr.Box(-1, 1))
    below = threshold_term(3, top, above=False)
    x = region_walk(net, below, np.array([0.9, -0.9, 0.9]), time.time() + 30)
    assert x is not None and net(x[None])[0, 0] >= top - 1e-6
    assert region_walk(net, threshold_term(3, top, above=True), np.zeros(3), time.time() + 30) is None
