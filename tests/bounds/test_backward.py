"""The backward pass with free slopes, splits and multipliers: sound on samples, its gradient by finite differences."""

import numpy as np
import pytest

from shallowrelu.bounds import adjoint, apply_split, backward, hidden_bounds, relax
from shallowrelu.bounds.backward import output_rows
from shallowrelu.testing.nets import kinked_net, random_net


def _nets():
    return [random_net([4, 10, 9, 7, 3], seed=3, bias=0.3), kinked_net([4, 8, 7, 3], seed=5),
            kinked_net([3, 9, 8, 6, 2], seed=11)]


def _kinks(net):
    return list(net.kinks or [None] * (len(net.layers) - 1))


def _samples(net, lo, hi, rng, count=40_000):
    X = lo + (hi - lo) * rng.random((count, lo.size))
    return X, net.preactivations(X), net(X)


@pytest.mark.parametrize("which", range(3))
def test_any_slopes_and_multipliers_bound_the_split_domain_from_below(which, rng):
    """Split some units, tighten nothing else: every sample of the part of the box with those signs meets the
    bound, whatever the lower slopes in [0, 1] and the multipliers >= 0."""
    net = _nets()[which]
    kinks = _kinks(net)
    lo, hi = -np.ones(net.n_inputs), np.ones(net.n_inputs)
    pre, _ = hidden_bounds(list(net.layers), lo[None], hi[None], kinks)
    X, Z, Y = _samples(net, lo, hi, rng)
    C, e = rng.normal(size=(3, net.n_outputs)), rng.normal(size=3)
    for trial in range(6):
        # the signs of a sampled point, so that the part of the box they fix is not empty
        split, keep, at = [], np.ones(len(X), dtype=bool), rng.integers(len(X))
        for (l, u), k, z in zip(pre, kinks, Z):
            s = np.zeros((1, l.shape[1]), np.int8)
            elementwise = np.ones(l.shape[1], bool) if k is None else (k.group < 0) & (k.slope != 1.0)
            cand = np.flatnonzero((l[0] < 0) & (u[0] > 0) & elementwise)
            chosen = rng.choice(cand, size=min(2, cand.size), replace=False) if cand.size else cand
            s[0, chosen] = np.where(z[at, chosen] > 0, 1, -1)
            keep &= np.all((z[:, chosen] > 0) == (s[0, chosen] > 0), axis=1)
            split.append(s)
        rel = []
        for (l, u), k, s in zip(pre, kinks, split):
            l2, u2 = apply_split(l, u, s)
            alpha = rng.random((1, 3, l.shape[1]))
            rel.append(relax(l2, u2, k).with_alpha(alpha))
        betas = [-rng.exponential(size=(1, 3, s.shape[1])) * s[:, None, :] for s in split]
        A, c = output_rows(list(net.layers), C, e, 1)
        low = backward(A, c, list(net.layers[:-1]), rel, lo[None], hi[None], betas=betas).low[0]
        assert keep[at]
        vals = Y[keep] @ C.T - e
        assert np.all(vals.min(axis=0) >= low - 1e-9), trial


def test_the_adjoint_is_the_gradient_in_slopes_and_multipliers(rng):
    net = random_net([5, 12, 10, 8, 3], seed=1, bias=0.3)
    layers, kinks = list(net.layers), [None] * 3
    lo, hi = -np.ones((1, 5)), np.ones((1, 5))
    pre, rel = hidden_bounds(layers, lo, hi, kinks)
    A, c = output_rows(layers, rng.normal(size=(2, 3)), np.zeros(2), 1)
    split = [np.zeros((1, W.shape[0]), np.int8) for W, _ in layers[:-1]]
    for j in (0, 1):
        split[j][0, np.flatnonzero((pre[j][0][0] < 0) & (pre[j][1][0] > 0))[0]] = (-1, 1)[j]
    fixed = [R.fix(s) for R, s in zip(rel, split)]
    alpha = [rng.uniform(0, 1, size=(1, 2, W.shape[0])) for W, _ in layers[:-1]]
    beta = [rng.uniform(0, 1, size=(1, 2, s.shape[1])) * (s[:, None, :] != 0) for s in split]

    def bound(alpha, beta):
        R = [r.with_alpha(a) for r, a in zip(fixed, alpha)]
        return backward(A, c, layers[:-1], R, lo, hi, betas=[-b * s[:, None, :] for b, s in zip(beta, split)],
                        keep=True), R

    bw, R = bound(alpha, beta)
    zs = adjoint(bw, layers[:-1], R, lo, hi)
    eps, checked = 1e-6, 0
    for j in range(3):
        for i in range(alpha[j].shape[2]):
            if fixed[j].free[0, 0, i]:
                moved = [a.copy() for a in alpha]
                moved[j][0, 0, i] += eps
                numeric = (bound(moved, beta)[0].low[0, 0] - bw.low[0, 0]) / eps
                assert numeric == pytest.approx(max(bw.lams[j][0, 0, i], 0.0) * zs[j][0, 0, i], abs=1e-5)
                checked += 1
        for i in np.flatnonzero(split[j][0]):
            moved = [b.copy() for b in beta]
            moved[j][0, 0, i] += eps
            numeric = (bound(alpha, moved)[0].low[0, 0] - bw.low[0, 0]) / eps
            assert numeric == pytest.approx(-split[j][0, i] * zs[j][0, 0, i], abs=1e-5)
            checked += 1
    assert checked > 5


def test_max_groups_are_bounded_as_a_whole(rng):
    # y = max(x0, x1, x2) - 0.5 on [-1, 1]^3 (one group of three): CROWN per member would leave y <= sum of
    # their upper lines; the group's own relaxation gives max >= x_lead and max <= 1
    from shallowrelu.network import Kinks, ReLUNetwork

    net = ReLUNetwork([(np.eye(3), np.zeros(3)), (np.ones((1, 3)), np.array([-0.5]))],
                      kinks=[Kinks(np.zeros(3), np.zeros(3, dtype=int))])
    lo, hi = -np.ones((1, 3)), np.ones((1, 3))
    pre, rel = hidden_bounds(list(net.layers), lo, hi, _kinks(net))
    up = backward(*output_rows(list(net.layers), -np.ones((1, 1)), np.zeros(1), 1), list(net.layers[:-1]), rel,
                  lo, hi).low[0, 0]
    down = backward(*output_rows(list(net.layers), np.ones((1, 1)), np.zeros(1), 1), list(net.layers[:-1]), rel,
                    lo, hi).low[0, 0]
    assert -up == pytest.approx(0.5) and down == pytest.approx(-1.5)  # max <= 1 and max >= x_lead >= -1
    X = rng.uniform(-1, 1, size=(10_000, 3))
    assert np.all(net(X)[:, 0] <= -up + 1e-12) and np.all(net(X)[:, 0] >= down - 1e-12)


@pytest.mark.parametrize("which", range(3))
def test_a_node_given_by_its_vertices_is_bounded_over_itself_and_a_parents_bounds_only_tighten(which, rng):
    """A simplex inside the box: the bound over its vertices holds at every sample of it, is never below the
    box's bound, and the parent's (the box's) layer bounds intersected in change neither."""
    from shallowrelu.bounds import tail_bounds

    net = _nets()[which]
    n = net.n_inputs
    (W0, b0), rest = net.layers[0], list(net.layers[1:])
    C, e = rng.normal(size=(3, net.n_outputs)), rng.normal(size=3)
    lo, hi = -np.ones(n), np.ones(n)
    box = tail_bounds(W0, b0, lo, hi, rest, C, e, kinks=_kinks(net))
    for _ in range(5):
        V = rng.uniform(-1, 1, size=(n + 1, n))
        node = tail_bounds(W0, b0, V.min(axis=0), V.max(axis=0), rest, C, e, kinks=_kinks(net), vertices=[V])
        assert np.all(node.low >= box.low - 1e-9)
        weights = rng.dirichlet(np.ones(n + 1), size=20_000)
        X = weights @ V
        vals = net(X) @ C.T - e
        assert np.all(vals.min(axis=0) >= node.low - 1e-9)
        assert np.all(X @ node.coef[0].T + node.const[0] <= vals + 1e-9)  # the linear bound holds pointwise
        again = tail_bounds(W0, b0, V.min(axis=0), V.max(axis=0), rest, C, e, kinks=_kinks(net), vertices=[V],
                            known=box.pre)
        assert np.all(again.low >= node.low - 1e-9) and np.all(vals.min(axis=0) >= again.low - 1e-9)
        for (l, u), (l0, u0) in zip(again.pre, box.pre):
            assert np.all(l >= l0 - 1e-12) and np.all(u <= u0 + 1e-12)
