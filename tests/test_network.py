import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.testing.nets import random_net


def test_forward_matches_hand_computation():
    net = sr.ReLUNetwork([(np.array([[1.0, -1.0], [2.0, 0.0]]), np.array([0.0, -1.0])),
                          (np.array([[1.0, 1.0]]), np.array([0.5]))])
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 2.0]])
    # hidden: relu([x0-x1, 2x0-1])
    expected = np.array([[1.0 + 1.0 + 0.5], [0.0 + 0.0 + 0.5], [0.0 + 1.0 + 0.5]])
    np.testing.assert_allclose(net(X), expected)
    np.testing.assert_array_equal(net.patterns(X), [[True, True], [False, False], [False, True]])


def test_zero_preactivation_counts_as_inactive():
    net = sr.ReLUNetwork([(np.array([[1.0]]), np.array([0.0])), (np.array([[1.0]]), np.array([0.0]))])
    assert not net.patterns(np.array([[0.0]]))[0, 0]


def test_affine_map_of_pattern_agrees_with_forward(rng):
    net = random_net([3, 7, 5, 2], seed=1)
    X = rng.normal(size=(200, 3))
    for x, s in zip(X, net.patterns(X)):
        A, d = net.affine_map(s)
        np.testing.assert_allclose(A @ x + d, net(x[None])[0], atol=1e-12)


def test_restrict_composes_with_an_affine_map(rng):
    net = random_net([3, 6, 1], seed=2)
    x0, B = rng.normal(size=3), rng.normal(size=(3, 2))
    T = rng.normal(size=(50, 2))
    np.testing.assert_allclose(net.restrict(x0, B)(T), net(T @ B.T + x0), atol=1e-12)


@pytest.mark.parametrize("layers,match", [
    ([(np.ones((2, 3)), np.ones(2)), (np.ones((1, 3)), np.ones(1))], "W1 has 3 inputs but layer 0 has 2 outputs"),
    ([(np.ones(3), np.ones(1))], "W0 must be 2-D"),
    ([(np.ones((2, 2)), np.ones(3))], "b0 must have shape"),
    ([(np.array([[np.nan, 1.0]]), np.ones(1))], "W0 contains NaN or inf"),
    ([(np.ones((1, 2)), np.array([np.inf]))], "b0 contains NaN or inf"),
    ([], "no layer"),
])
def test_invalid_networks_are_refused_with_the_layer_named(layers, match):
    with pytest.raises(sr.NetworkFormatError, match=match):
        sr.ReLUNetwork(layers)


def test_weights_are_read_only_copies():
    W = np.ones((1, 2))
    net = sr.ReLUNetwork([(W, np.zeros(1))])
    W[0, 0] = 5.0
    assert net.layers[0][0][0, 0] == 1.0
    with pytest.raises(ValueError):
        net.layers[0][0][0, 0] = 2.0


