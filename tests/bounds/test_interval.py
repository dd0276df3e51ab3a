"""Sound bounds: every sampled value lies inside them (the bounds module has no other oracle)."""

import numpy as np
import pytest

from shallowrelu.bounds import affine_range, interval_bounds, linear_bounds, tighten_box
from shallowrelu.testing.nets import random_net


def test_affine_range_is_exact_over_a_box(rng):
    a, c = rng.normal(size=4), 0.3
    lo, hi = -rng.random(4), rng.random(4)
    corners = np.array(np.meshgrid(*zip(lo, hi))).reshape(4, -1).T
    vals = corners @ a + c
    assert affine_range(a, c, lo, hi) == pytest.approx((vals.min(), vals.max()))
    # a zero coefficient against an infinite side contributes nothing
    assert affine_range(np.array([0.0, 1.0]), 0.0, np.array([-np.inf, 0.0]), np.array([np.inf, 2.0])) == (0.0, 2.0)


def test_tighten_box_keeps_every_feasible_point(rng):
    for _ in range(50):
        a, c = rng.normal(size=3), rng.normal()
        lo, hi = -np.ones(3), np.ones(3)
        nlo, nhi = tighten_box(lo, hi, a, c)
        X = rng.uniform(-1, 1, size=(5000, 3))
        ok = X[X @ a + c <= 0]
        assert np.all(ok >= nlo - 1e-12) and np.all(ok <= nhi + 1e-12)
        assert np.all(nlo >= lo) and np.all(nhi <= hi)


@pytest.mark.parametrize("seed", range(10))
def test_linear_bounds_are_sound_and_no_looser_than_intervals(seed, rng):
    net = random_net([3, 10, 8, 6, 2], seed=seed, bias=0.3)
    lo, hi = -rng.random(3), rng.random(3)
    C, e = rng.normal(size=(5, 2)), rng.normal(size=5)
    W0, b0 = net.layers[0]
    X = lo + (hi - lo) * rng.random((20_000, 3))
    vals = net(X) @ C.T - e
    lb = linear_bounds(W0, b0, lo, hi, list(net.layers[1:]), C, e)
    assert np.all(vals.min(axis=0) >= lb - 1e-9)
    ylo, yhi = interval_bounds(net, lo, hi)[-1]
    W, b = net.layers[-1]
    interval_lb = affine_range(C, -e, *affine_range(W, b, np.maximum(ylo, 0), np.maximum(yhi, 0)))[0]
    assert np.all(lb >= interval_lb - 1e-9)
    # fixing the signs of the first neurons, as the search does, stays sound on that part of the box
    Z = X @ W0.T + b0
    signs = [bool(s) for s in (Z[0, :3] > 0)]
    keep = np.all((Z[:, :3] > 0) == np.array(signs), axis=1)
    lb2 = linear_bounds(W0, b0, lo, hi, list(net.layers[1:]), C, e, signs)
    assert np.all(vals[keep].min(axis=0) >= lb2 - 1e-9)
