"""The exact oracles themselves: rational interval and polygon splitting find every region, however thin."""

from fractions import Fraction

import numpy as np
import pytest

from shallowrelu.testing.nets import random_net
from shallowrelu.testing.oracles import (
    interval_regions,
    polygon_pieces,
    polygon_regions,
)

SQUARE = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


def relu_net(W: list, b: list) -> list:
    """One hidden layer with rows ``W``, biases ``b``, summed by the output."""
    W = np.array(W, dtype=float)
    return [(W, np.array(b, dtype=float)), (np.ones((1, len(b))), np.zeros(1))]


@pytest.mark.parametrize("n,seed", [(1, 1), (2, 2), (2, 3)])
def test_exact_and_float_oracles_agree_on_generic_nets(n, seed):
    net = random_net([n, 6, 5, 1], seed=seed)
    if n == 1:
        exact, plain = interval_regions(net.layers, -1.0, 1.0, exact=True), interval_regions(net.layers, -1.0, 1.0)
    else:
        exact, plain = polygon_regions(net.layers, SQUARE, exact=True), polygon_regions(net.layers, SQUARE)
    assert set(exact) == set(plain) and len(exact) > 5
    assert all(isinstance(v, Fraction) for v in exact.values())
    assert abs(float(sum(exact.values())) - (2.0 if n == 1 else 4.0)) == 0.0  # the pieces tile the domain exactly
    for p, size in plain.items():
        assert abs(float(exact[p]) - size) <= 1e-12


@pytest.mark.parametrize("gap", [1e-10, 1e-13, 1e-300])
def test_a_sliver_of_any_width_is_a_region_in_exact_arithmetic(gap):
    layers = relu_net([[1.0], [1.0]], [0.0, -gap])        # relu(x), relu(x - gap)
    exact = interval_regions(layers, -1.0, 1.0, exact=True)
    assert exact[(1, 0)] == Fraction(gap)                  # 0 < x < gap: the first on, the second off
    assert len(exact) == 3
    plain = interval_regions(layers, -1.0, 1.0)
    assert (gap > 1e-12) == ((1, 0) in plain)              # the float oracle cannot see below its 1e-12


def test_a_region_that_is_only_a_face_is_not_a_region():
    # a line twice, and three lines through the origin: no zero-area piece may appear
    layers = relu_net([[1.0, 1.0], [1.0, 1.0], [1.0, -1.0], [0.0, 1.0]], [0.0, 0.0, 0.0, 0.0])
    pieces = polygon_pieces(layers, SQUARE, exact=True)
    assert all(p[0] == p[1] for p in pieces)                # the duplicate neurons always agree
    areas = polygon_regions(layers, SQUARE, exact=True)
    assert min(areas.values()) > 0 and sum(areas.values()) == 4
    assert len(pieces) == 6                                 # three concurrent lines: six sectors


def test_a_thin_wedge_in_the_plane_is_found_exactly():
    eps = 1e-14
    layers = relu_net([[1.0, 1.0], [1.0, 1.0]], [0.0, -eps])    # the strip 0 < x + y < eps
    areas = polygon_regions(layers, SQUARE, exact=True)
    assert 0 < areas[(1, 0)] < 3 * eps
    assert (1, 0) not in polygon_regions(layers, SQUARE)       # below the float oracle's area threshold
