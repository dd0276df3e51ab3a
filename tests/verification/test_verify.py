"""VNN-LIB verification against published verdicts, brute force, and an independent falsifier."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.polytope.vertices import vertices
from shallowrelu.testing.nets import random_net
from shallowrelu.verification import METHODS as VERIFY_METHODS
from tests.helpers import DATA, check_answer


def _vnncomp_rows():
    with open(DATA / "vnncomp_test_expected_verdicts.csv") as f:
        return [(r["onnx"], r["vnnlib"], r["expected"]) for r in csv.DictReader(f)]


# samples=0: the exact method decides, not the random falsifier that runs first.
@pytest.mark.parametrize("method", VERIFY_METHODS)
@pytest.mark.parametrize("onnx_name,prop_name,expected", _vnncomp_rows())
def test_vnncomp_test_set_agrees_with_published_verdicts(onnx_name, prop_name, expected, method):
    net, prop = sr.load_network(DATA / onnx_name), sr.load_vnnlib(DATA / prop_name)
    res = sr.verify(net, prop, timeout=120, samples=0, method=method)
    assert res.verdict.value == expected
    check_answer(net, prop, res)


def _tll_rows():
    with open(DATA / "tll" / "expected_verdicts.csv") as f:
        return [(r["onnx"], r["vnnlib"], r["expected"]) for r in csv.DictReader(f)]


# Not the neuron split: in two dimensions with deep nets splitting the input is the method (the default
# picks it), and branching on ReLUs takes minutes.
@pytest.mark.slow
@pytest.mark.parametrize("method", [m for m in VERIFY_METHODS if m != "neuron"])
@pytest.mark.parametrize("onnx_name,prop_name,expected", _tll_rows())
def test_tllverifybench_n8_agrees_with_published_verdicts(onnx_name, prop_name, expected, method):
    net = sr.load_network(DATA / "tll" / onnx_name)
    prop = sr.load_vnnlib(DATA / "tll" / prop_name)
    res = sr.verify(net, prop, timeout=300, samples=0, method=method)
    assert res.verdict.value == expected
    check_answer(net, prop, res)


@pytest.mark.slow
@pytest.mark.parametrize("onnx_name,prop_name,expected", _tll_rows())
def test_two_processes_give_the_same_verdicts(onnx_name, prop_name, expected, pool_from_the_start):
    # chunks in worker processes: a counterexample found there ends the search here
    net = sr.load_network(DATA / "tll" / onnx_name)
    prop = sr.load_vnnlib(DATA / "tll" / prop_name)
    res = sr.verify(net, prop, timeout=300, samples=0, jobs=2, method="tree")
    assert res.verdict.value == expected
    check_answer(net, prop, res)
    if expected == "unsat":
        assert res.regions + res.pruned > 0


@pytest.mark.parametrize("method", VERIFY_METHODS)
@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0, 1.5, 2.5])
def test_two_input_property_against_brute_force(threshold, method):
    # unsafe: y_0 >= threshold somewhere in [-1, 1]^2; the exact max comes from the catalogue's vertices
    net = random_net([2, 8, 6, 1], seed=17, bias=0.3)
    prop = sr.parse_vnnlib(f"""
        (declare-const X_0 Real) (declare-const X_1 Real) (declare-const Y_0 Real)
        (assert (>= X_0 -1)) (assert (<= X_0 1)) (assert (>= X_1 -1)) (assert (<= X_1 1))
        (assert (>= Y_0 {threshold}))""")
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    V = np.vstack([vertices(cat.table.facet_G[cat.facet_rows(i)], cat.table.facet_g[cat.facet_rows(i)],
                                        cat.table.interior[i]) for i in range(len(cat))])
    top = net(V)[:, 0].max()
    res = sr.verify(net, prop, samples=0, method=method)
    assert res.verdict.value == ("sat" if top >= threshold else "unsat"), top
    check_answer(net, prop, res)


def test_cli_verify_writes_the_vnncomp_result(tmp_path):
    out = tmp_path / "result.txt"
    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "verify", str(DATA / "test_small.onnx"),
                           str(DATA / "test_small.vnnlib"), "--json", "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "unsat"
    assert out.read_text() == "unsat\n"
    net = random_net([1, 4, 1], seed=2)
    sr.save_network(net, tmp_path / "n.npz")
    (tmp_path / "p.vnnlib").write_text("(declare-const X_0 Real)(declare-const Y_0 Real)"
                                       "(assert (>= X_0 -1))(assert (<= X_0 1))(assert (>= Y_0 -100))")
    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "verify", str(tmp_path / "n.npz"),
                           str(tmp_path / "p.vnnlib"), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("sat")
    lines = out.read_text().splitlines()
    assert lines[0] == "sat" and lines[1].startswith("((X_0 ") and lines[-1].endswith("))")


def _units(prop, jobs, monkeypatch):
    """The units the default would schedule for ``prop`` on ACAS Xu 1_1, after one step of each input split."""
    from shallowrelu.verification import api

    monkeypatch.setattr(api, "_INPUT_FIRST", 0.0)  # one batch of boxes: a fixed amount of work, not of time
    net = sr.load_network(DATA / "ACASXU_run2a_1_1_batch_2000.onnx")
    run = api._Run(net, prop, sr.Tolerances(), "bab", jobs, "local", float("inf"), 0.0)
    units, done = run._units()
    return [(u.disjuncts, type(u.make()).__name__, u.yields_after, getattr(u.make(), "jobs", None))
            for u in units], done


def test_few_disjuncts_race_each_with_the_region_search_on_every_core_and_many_run_side_by_side(monkeypatch):
    from shallowrelu.verification import api

    prop = sr.load_vnnlib(DATA / "prop_6.vnnlib")  # 8 disjuncts, none closed by one batch of boxes
    units, done = _units(prop, 2, monkeypatch)
    assert not done and len(units) == 16
    assert units[:8] == [((i,), "InputSplit", api._SIDE_BY_SIDE_YIELD, None) for i in range(8)]
    assert units[8:] == [((i,), "RegionSearch", None, 1) for i in range(8)]
    one = type(prop)(prop.n_inputs, prop.n_outputs, prop.terms[:1])
    units, _ = _units(one, 2, monkeypatch)
    assert units == [((0,), "InputSplit", api._INPUT_YIELD, None), ((0,), "RegionSearch", None, 2)]
    units, _ = _units(one, 1, monkeypatch)  # one job: turns in this process, nothing yields
    assert units == [((0,), "InputSplit", None, None), ((0,), "RegionSearch", None, 1)]


@pytest.mark.slow
def test_acas_prop_6_with_its_disjuncts_side_by_side_agrees_with_the_published_verdict():
    net = sr.load_network(DATA / "ACASXU_run2a_1_1_batch_2000.onnx")
    prop = sr.load_vnnlib(DATA / "prop_6.vnnlib")
    res = sr.verify(net, prop, timeout=600, jobs=2)
    assert res.verdict.value == "unsat"
    check_answer(net, prop, res)
