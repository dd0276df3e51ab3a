"""VNN-LIB verification against published verdicts, brute force, and an independent falsifier."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.polytope.vertices import vertices
from nets import random_net
from shallowrelu.verify import METHODS as VERIFY_METHODS

DATA = Path(__file__).parent / "data"


def falsify(net, prop, seed=0, samples=20_000, steps=300):
    """An independent search for a counterexample: random points, then coordinate descent on the
    largest constraint violation from the best of them. Returns a point or None."""
    rng = np.random.default_rng(seed)
    for t in prop.terms:
        def worst(X, t=t):
            return (net(X) @ t.C.T - t.e).max(axis=1)
        X = t.lo + (t.hi - t.lo) * rng.random((samples, t.lo.size))
        v = worst(X)
        if v.min() <= 0:
            return X[np.argmin(v)]
        x = X[np.argmin(v)]
        step = (t.hi - t.lo) / 4
        for _ in range(steps):
            cand = np.clip(x + step * rng.choice([-1.0, 0.0, 1.0], size=(64, x.size)), t.lo, t.hi)
            cv = worst(cand)
            if cv.min() < worst(x[None])[0]:
                x = cand[np.argmin(cv)]
            else:
                step = step / 2
            if worst(x[None])[0] <= 0:
                return x
    return None


def check_answer(net, prop, res):
    if res.verdict is sr.Verdict.SAT:
        t_ok = [np.all(np.abs(net(res.x[None])[0] - res.y) < 1e-12)]
        assert all(t_ok)
        assert any(np.all((res.x >= t.lo) & (res.x <= t.hi)) and np.all(t.C @ res.y <= t.e + 1e-9)
                   for t in prop.terms)
    elif res.verdict is sr.Verdict.UNSAT:
        assert falsify(net, prop) is None


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


@pytest.mark.slow
@pytest.mark.parametrize("method", VERIFY_METHODS)
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
    # subtrees in worker processes: a counterexample found there ends the search here
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


def test_prop6_style_disjunction_of_input_boxes():
    prop = sr.load_vnnlib(DATA / "prop_6.vnnlib")
    assert len(prop.terms) == 8  # 2 input boxes x 4 output alternatives
    assert len({tuple(t.lo) for t in prop.terms}) == 2
    assert len({tuple(t.C.ravel()) for t in prop.terms}) == 4


@pytest.mark.parametrize("text,match", [
    ("(declare-const X_0 Real)\n(assert (<= X_0 1)", "unbalanced"),
    ("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_3 1))", "line 3: unknown variable X_3"),
    ("(declare-const X_0 Real)\n(assert (<= X_0 foo))", "unknown symbol 'foo'"),
    ("(declare-const X_0 Real)\n(assert (= X_0 1))", "unsupported operator '='"),
    ("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 Y_0))", "mixes inputs and outputs"),
    ("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= Y_0 1))", "X_0 has no lower and upper"),
])
def test_vnnlib_errors_name_the_line(text, match):
    with pytest.raises(sr.VnnlibError, match=match):
        sr.parse_vnnlib(text, "p.vnnlib")


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
