"""alpha-CROWN: optimised bounds are sound on samples and never looser than CROWN's."""

import numpy as np
import pytest

from shallowrelu.bounds import backward, hidden_bounds
from shallowrelu.bounds.backward import output_rows
from shallowrelu.bounds.optimise import optimise_rows, optimised_hidden
from shallowrelu.testing.nets import kinked_net, random_net


@pytest.mark.parametrize("net", [random_net([6, 20, 16, 12, 4], seed=2, bias=0.2), kinked_net([5, 12, 10, 3], seed=7)],
                         ids=["relu", "kinked"])
def test_optimised_layer_and_row_bounds_hold_and_beat_crown(net, rng):
    layers = list(net.layers)
    kinks = list(net.kinks or [None] * (len(layers) - 1))
    lo, hi = -np.ones((1, net.n_inputs)), np.ones((1, net.n_inputs))
    crown, crown_rel = hidden_bounds(layers, lo, hi, kinks)
    tight = optimised_hidden(layers, lo, hi, kinks, iters=30)
    X = lo + (hi - lo) * rng.random((50_000, net.n_inputs))
    for (cl, cu), (l, u), z in zip(crown, tight.pre, net.preactivations(X)):
        assert np.all(l <= z.min(axis=0) + 1e-9) and np.all(u >= z.max(axis=0) - 1e-9)
        assert np.all(l >= cl - 1e-9) and np.all(u <= cu + 1e-9)
    assert sum(((l < 0) & (u > 0)).sum() for l, u in tight.pre) <= sum(((l < 0) & (u > 0)).sum() for l, u in crown)
    C, e = rng.normal(size=(4, net.n_outputs)), rng.normal(size=4)
    A, c = output_rows(layers, C, e, 1)
    plain = backward(A, c, layers[:-1], crown_rel, lo, hi).low[0]
    best = optimise_rows(A, c, layers[:-1], tight.relaxations, lo, hi, iters=30).low[0]
    assert np.all(best >= plain - 1e-9) and np.any(best > plain + 1e-6)
    assert np.all((net(X) @ C.T - e).min(axis=0) >= best - 1e-9)


def test_step_rate_per_domain_and_what_moved(rng):
    """A domain with rate 0 keeps its starting bound (nothing moved); the same domain at rate 1 moves."""
    net = random_net([6, 20, 16, 12, 4], seed=2, bias=0.2)
    layers = list(net.layers)
    lo, hi = -np.ones((1, net.n_inputs)), np.ones((1, net.n_inputs))
    tight = optimised_hidden(layers, lo, hi, [None] * (len(layers) - 1))
    C, e = rng.normal(size=(3, net.n_outputs)), rng.normal(size=3)
    A, c = output_rows(layers, C, e, 2)
    lo2, hi2 = np.repeat(lo, 2, axis=0), np.repeat(hi, 2, axis=0)
    rel = [R.with_alpha(np.zeros((2, 3, R.free.shape[2]))) for R in tight.relaxations]
    start = optimise_rows(A, c, layers[:-1], rel, lo2, hi2, iters=0)
    opt = optimise_rows(A, c, layers[:-1], rel, lo2, hi2, iters=10, rate=np.array([0.0, 1.0]))
    assert not start.moved.any()
    assert np.array_equal(opt.low[0], start.low[0]) and not opt.moved[0].any()
    assert opt.moved[1].any() and np.all(opt.low[1] >= start.low[1]) and np.any(opt.low[1] > start.low[1])
    np.testing.assert_array_equal(opt.moved[1], opt.low[1] > start.low[1])
