"""The neuron split (beta-CROWN branch-and-bound), the attack and the MILP race on many inputs, against
independent oracles: the maximum over every region's vertices, and the published VNN-COMP verdicts."""

import json

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.testing.nets import kinked_net, random_net
from shallowrelu.verification.neuron_split import NeuronSplit
from shallowrelu.verification.result import Decider
from tests.helpers import DATA, check_answer, max_by_vertices, run_cli, threshold_term

MNIST = DATA / "mnist-net_256x2.onnx"


@pytest.mark.parametrize("make", [lambda: random_net([3, 8, 8, 1], seed=5, bias=0.3),
                                  lambda: random_net([2, 10, 8, 1], seed=3, bias=0.3),
                                  lambda: kinked_net([3, 8, 8, 1], seed=2, pool=2)],
                         ids=["relu-3", "relu-2", "kinked"])
@pytest.mark.parametrize("above", [True, False])
def test_a_hair_either_side_of_the_maximum_is_decided_by_splitting_neurons(make, above):
    """No bound closes 1e-6 above the true maximum: the split runs down to exact domains (LP or MILP)."""
    net = make()
    n = net.n_inputs
    top = max_by_vertices(net, sr.Box(-1, 1))
    # a max group's MILP proves only beyond its margin: a wider hair there
    gap = 1e-6 if not any(k.groups for k in net.kinks or []) else 1e-3
    term = threshold_term(n, top + (gap - 1e-6 if above else 1e-6 - gap), above)
    split = NeuronSplit(net, term, sr.Tolerances())
    outcome = split.run(np.inf)
    assert outcome.verdict.value == ("unsat" if above else "sat")
    if above:
        assert outcome.decided_by is Decider.NEURON_SPLIT and split.work.domains > 1
    else:
        y = net(outcome.x[None])[0]
        assert np.all(outcome.x >= -1) and np.all(outcome.x <= 1) and y[0] >= top - gap - 1e-9


@pytest.mark.parametrize("above", [True, False])
def test_a_domain_with_every_relu_fixed_is_decided_by_one_lp(above, rng):
    """The exact finish: the region of the best sampled point, fixed unit by unit, holds a point above a
    threshold just below that point's value, and none above the true maximum."""
    net = random_net([3, 8, 8, 1], seed=5, bias=0.3)
    X = rng.uniform(-1, 1, size=(20_000, 3))
    best = X[np.argmax(net(X)[:, 0])]
    top = max_by_vertices(net, sr.Box(-1, 1)) if above else float(net(best[None])[0, 0])
    split = NeuronSplit(net, threshold_term(3, top, above), sr.Tolerances())
    assert split.run(0.0) is None or above  # the root is bounded; the pool starts
    pattern = [np.where(z[0] > 0, 1, -1).astype(np.int8) for z in net.preactivations(best[None])]
    x = split._exact(pattern)
    assert split.work.lps == 1
    if above:
        assert x is None
    else:
        assert x is not None and net(x[None])[0, 0] >= top - 1e-6


def test_a_root_bound_closes_what_is_far_above_the_maximum():
    net = random_net([3, 8, 8, 1], seed=5, bias=0.3)
    top = max_by_vertices(net, sr.Box(-1, 1))
    split = NeuronSplit(net, threshold_term(3, top + 10.0, True), sr.Tolerances())
    outcome = split.run(np.inf)
    assert outcome.decided_by is Decider.BOUND and split.work.domains == 1


def test_mnist_256x2_needs_branching_and_is_proved():
    """Published unsat by seven tools; alpha-CROWN at the root leaves it open, the split closes it."""
    net, prop = sr.load_network(MNIST), sr.load_vnnlib(DATA / "prop_6_0.03.vnnlib")
    res = sr.verify(net, prop, timeout=300, method="neuron", jobs=1)
    assert res.verdict is sr.Verdict.UNSAT
    assert "neuron split" in res.decided_by and res.work.domains > 1
    assert sr.verify(net, prop, timeout=300, jobs=2).verdict is sr.Verdict.UNSAT


def test_the_attack_finds_the_counterexample_onnxruntime_confirms():
    """Published sat; the first round of restarts misses it, the output-diversified round finds it."""
    net, prop = sr.load_network(MNIST), sr.load_vnnlib(DATA / "prop_2_0.03.vnnlib")
    res = sr.verify(net, prop, timeout=120, samples=0)
    assert res.verdict is sr.Verdict.SAT and res.decided_by == "falsified"
    assert res.runtime_checked  # onnxruntime, in float32, agrees within VNN-COMP's tolerance
    check_answer(net, prop, res)


def test_one_milp_covers_the_disjuncts_the_root_leaves_open_and_their_splits_take_turns():
    from shallowrelu.verification import api

    net, prop = sr.load_network(MNIST), sr.load_vnnlib(DATA / "prop_6_0.03.vnnlib")
    for jobs, yields in ((2, api._NEURON_YIELD), (1, None)):
        run = api._Run(net, prop, sr.Tolerances(), "bab", jobs, "local", float("inf"), 0.0)
        units, done = run._units()
        milp, splits = units[0], units[1:]
        assert type(milp.make()).__name__ == "Milp" and milp.yields_after is None
        assert milp.disjuncts == tuple(u.disjuncts[0] for u in splits)  # every disjunct left open, nothing else
        assert sorted(set(done) | set(milp.disjuncts)) == list(range(len(prop.terms)))
        assert all(type(u.make()).__name__ == "NeuronSplit" and u.yields_after == yields for u in splits)


def test_the_milp_alone_agrees_with_the_published_verdict():
    net, prop = sr.load_network(MNIST), sr.load_vnnlib(DATA / "prop_6_0.03.vnnlib")
    res = sr.verify(net, prop, timeout=300, method="milp", jobs=1)
    assert res.verdict is sr.Verdict.UNSAT and res.decided_by == "MILP" and res.work.milps >= 1


def test_cli_json_names_what_decided_and_the_work():
    proc = run_cli("verify", str(MNIST), str(DATA / "prop_6_0.03.vnnlib"), "--json", "--timeout", "300",
                   "--jobs", "1", "--method", "neuron")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "unsat" and "neuron split" in out["decided_by"]
    assert out["domains"] > 1 and out["points"] > 0 and out["regions_checked"] == 0


@pytest.mark.parametrize("stuck", [False, True])
def test_children_are_bounded_again_only_where_their_parents_split_gained_nothing(stuck, rng):
    """A child keeps its parent's layer bounds (but for the split unit) unless the parent was stuck; then the
    layers after the split are bounded again, inside the parent's bounds and somewhere strictly tighter."""
    net = random_net([6, 32, 32, 32, 1], seed=11, bias=0.2)
    X = rng.uniform(-1, 1, size=(20_000, 6))
    split = NeuronSplit(net, threshold_term(6, float(net(X)[:, 0].max()), True), sr.Tolerances())
    assert split.run(0.0) is None and len(split.pool) == 1
    split.pool.stuck[:] = stuck
    parent = split.pool.pop(1)
    split.pool.push(parent)
    first = int(np.flatnonzero(split.branchable[0])[0])
    split._branch = lambda *args: (np.zeros(1, dtype=np.int64), np.full(1, first))  # a unit of the first layer
    split._step()
    kids = split.pool.pop(len(split.pool))
    assert len(kids) >= 1
    assert kids.split[0][:, first].tolist() in ([1, -1], [-1, 1], [1], [-1])
    tighter = False
    for j, (l, u, pl, pu) in enumerate(zip(kids.lower, kids.upper, parent.lower, parent.upper)):
        free = (kids.split[j] == 0)
        assert np.all(l[free] >= np.broadcast_to(pl, l.shape)[free] - 1e-12)
        assert np.all(u[free] <= np.broadcast_to(pu, u.shape)[free] + 1e-12)
        moved = np.any(l[free] > np.broadcast_to(pl, l.shape)[free] + 1e-9) or \
            np.any(u[free] < np.broadcast_to(pu, u.shape)[free] - 1e-9)
        assert not moved or (stuck and j > 0)
        tighter |= moved
    assert tighter == stuck
    assert np.all((kids.rate > 0) & (kids.rate <= 1))
    # a child not bounded again remembers that its layers from the split's on are due
    assert np.all(kids.since == (len(split.hidden) if stuck else 0))
