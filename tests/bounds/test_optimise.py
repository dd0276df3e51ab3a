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
