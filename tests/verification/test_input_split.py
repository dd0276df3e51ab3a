"""The branch-and-bound verifier: batched bounds, the input split, falsification, against independent oracles."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.bounds import box_bounds, linear_bounds
from shallowrelu.testing.nets import random_net
from shallowrelu.verification.input_split import InputSplit
from shallowrelu.verification.scheduler import Unit, decide
from shallowrelu.verification.strategy import bound_rows
from shallowrelu.verification.tree import RegionSearch
from shallowrelu.verification.vnnlib import Term
from tests.helpers import DATA, ROOT, check_answer, max_by_vertices, threshold_term


@pytest.mark.parametrize("sizes", [[3, 7, 2], [3, 6, 5, 2], [4, 8, 6, 5, 3]])
def test_batched_bounds_are_at_least_crowns_box_by_box_and_hold_on_samples(sizes, rng):
    """A batch tightens, with backward passes, every unit some box leaves open: never looser than one box alone."""
    net = random_net(sizes, seed=len(sizes))
    n, m = sizes[0], sizes[-1]
    C, e = rng.normal(size=(3, m)), rng.normal(size=3)
    centre = rng.uniform(-1, 1, size=(40, n))
    half = rng.uniform(0.01, 1.0, size=(40, n))
    lo, hi = centre - half, centre + half
    low, coef, const, unstable = box_bounds(net.layers, lo, hi, C, e)
    W0, b0 = net.layers[0]
    for i in range(len(lo)):
        assert np.all(low[i] >= linear_bounds(W0, b0, lo[i], hi[i], list(net.layers[1:]), C, e) - 1e-9)
    X = lo[:, None, :] + (hi - lo)[:, None, :] * rng.random((40, 500, n))
    vals = np.einsum("km,bsm->bsk", C, net(X.reshape(-1, n)).reshape(40, 500, m)) - e
    assert np.all(vals.min(axis=1) >= low - 1e-12)
    assert coef.shape == (40, 3, n) and unstable.shape == (40,) and np.all(unstable >= 0)





@pytest.mark.parametrize("sizes,seed", [([2, 10, 8, 1], 3), ([3, 8, 8, 1], 5)])
@pytest.mark.parametrize("above", [True, False])
@pytest.mark.parametrize("rows", [1, 2])
def test_a_hair_above_the_maximum_is_unsat_and_a_hair_below_is_sat(sizes, seed, above, rows):
    """The true maximum from every vertex of every region; each branching rule alone and verify as a whole."""
    net = random_net(sizes, seed=seed, bias=0.3)
    n = sizes[0]
    top = max_by_vertices(net, sr.Box(-1, 1))
    term = threshold_term(n, top, above, rows)
    tol = sr.Tolerances()
    # the input split alone, to the end (its small boxes by the region search)
    outcome = InputSplit(net, term, tol).run(np.inf)
    assert outcome.verdict.value == ("unsat" if above else "sat")
    # the race of both branchings, one job and two
    for jobs in (1, 2):
        units = [Unit((0,), lambda: InputSplit(net, term, tol)), Unit((0,), lambda: RegionSearch(net, term, tol))]
        found = decide(units, jobs, time.time() + 120)
        assert found.outcomes[0].verdict.value == ("unsat" if above else "sat")
    prop = sr.Property(n, 1, (term,))
    for method in ("bab", "input", "neuron", "tree"):  # a hair is below the MILP's proof margin
        res = sr.verify(net, prop, samples=0, method=method, timeout=120)
        assert res.verdict.value == ("unsat" if above else "sat"), (method, res)
        check_answer(net, prop, res)


def test_input_split_closes_boxes_by_bounds_and_splits_the_rest():
    net = sr.load_network(DATA / "ACASXU_run2a_1_1_batch_2000.onnx")
    prop = sr.load_vnnlib(DATA / "prop_1.vnnlib")
    res = sr.verify(net, prop, timeout=60)
    assert res.verdict is sr.Verdict.UNSAT
    assert res.decided_by == "input split" and res.boxes > 1
    check_answer(net, prop, res)


@pytest.mark.parametrize("onnx_name,prop_name", [("ACASXU_run2a_1_9_batch_2000.onnx", "prop_7.vnnlib"),
                                                 ("ACASXU_run2a_2_9_batch_2000.onnx", "prop_8.vnnlib")])
def test_acas_props_7_and_8_are_falsified_at_once(onnx_name, prop_name):
    # VNN-COMP: both sat; the counterexamples lie on the box's faces, where uniform samples never land
    net, prop = sr.load_network(DATA / onnx_name), sr.load_vnnlib(DATA / prop_name)
    start = time.monotonic()
    res = sr.verify(net, prop, timeout=60)
    assert res.verdict is sr.Verdict.SAT and res.decided_by == "falsified"
    assert time.monotonic() - start < 5.0
    check_answer(net, prop, res)


def test_cli_json_says_how_it_decided(tmp_path):
    net = str(DATA / "ACASXU_run2a_1_1_batch_2000.onnx")
    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "verify", net, str(DATA / "prop_1.vnnlib"), "--json",
                           "--timeout", "60"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "unsat" and out["decided_by"] == "input split" and out["boxes"] > 1


@pytest.mark.parametrize("onnx_name,vnnlib_name,expected", [("test_small.onnx", "test_small.vnnlib", "unsat"),
                                                            ("test_sat.onnx", "test_prop.vnnlib", "sat")])
def test_vnncomp_run_instance_writes_the_result_file(tmp_path, onnx_name, vnnlib_name, expected):
    """The competition's calling convention, with a gzipped network as VNN-COMP 2022 ships them."""
    import gzip

    scripts = ROOT / "scripts" / "vnncomp"
    onnx = tmp_path / (onnx_name + ".gz")
    onnx.write_bytes(gzip.compress((DATA / onnx_name).read_bytes()))
    env = {"PATH": "/usr/bin:/bin", "SHALLOWRELU_PYTHON": sys.executable, "SHALLOWRELU_JOBS": "1",
           "TMPDIR": str(tmp_path)}
    prep = subprocess.run(["bash", str(scripts / "prepare_instance.sh"), "v1", "test", str(onnx),
                           str(DATA / vnnlib_name)], capture_output=True, text=True, env=env, timeout=60)
    assert prep.returncode == 0, prep.stderr
    result = tmp_path / "out.txt"
    run = subprocess.run(["bash", str(scripts / "run_instance.sh"), "v1", "test", str(onnx), str(DATA / vnnlib_name),
                          str(result), "60"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = result.read_text().splitlines()
    assert lines[0] == expected
    assert not list(tmp_path.glob("shallowrelu_vnncomp_*.pid"))  # the run's pid file is gone with it
    if expected == "sat":  # the witness: X_i then Y_j, which the network's forward pass reproduces
        values = {k: float(v) for k, v in (ln.strip("() ").split() for ln in lines[1:])}
        net, prop = sr.load_network(DATA / onnx_name), sr.load_vnnlib(DATA / vnnlib_name)
        x = np.array([values[f"X_{i}"] for i in range(net.n_inputs)])
        y = net(x[None])[0]
        np.testing.assert_allclose(y, [values[f"Y_{j}"] for j in range(net.n_outputs)], rtol=1e-12)
        assert any(np.all(t.C @ y <= t.e + 1e-9) for t in prop.terms)
    bad = subprocess.run(["bash", str(scripts / "run_instance.sh"), "v2"], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "v1" in bad.stderr


def test_prepare_instance_stops_the_harness_run_left_over_and_nothing_else(tmp_path):
    """A run the previous instance left (noted in the pid file) is stopped; a user's own verify is not."""
    scripts = ROOT / "scripts" / "vnncomp"
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)}
    sleep = [sys.executable, "-c", "import time; time.sleep(120)"]
    left = subprocess.Popen(sleep)
    mine = subprocess.Popen(sleep + ["shallowrelu", "verify"])  # what a pattern match on the command would kill
    try:
        uid = subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip()
        (tmp_path / f"shallowrelu_vnncomp_{uid}.pid").write_text(f"{left.pid}\n")
        prep = subprocess.run(["bash", str(scripts / "prepare_instance.sh"), "v1", "test", str(DATA / "test_small.onnx"),
                               str(DATA / "test_small.vnnlib")], capture_output=True, text=True, env=env, timeout=60)
        assert prep.returncode == 0, prep.stderr
        assert left.wait(timeout=10) != 0
        assert mine.poll() is None
        assert not (tmp_path / f"shallowrelu_vnncomp_{uid}.pid").exists()
    finally:
        for proc in (left, mine):
            proc.kill()
            proc.wait()


def test_the_rows_together_close_a_box_no_row_and_no_average_closes():
    # y = x on [0, 1]^2; unsafe: y0 >= 0.5, y1 >= 0.5, 2 y0 + 2 y1 <= 1.8: each row holds somewhere,
    # no point meets all three, and neither a pair's average nor the mean of the three shows it
    net = sr.ReLUNetwork([(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]), np.zeros(4)),
                          (np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]]), np.zeros(2))])
    C, e = np.array([[-1.0, 0.0], [0.0, -1.0], [2.0, 2.0]]), np.array([-0.5, -0.5, 1.8])
    lo, hi = np.zeros((1, 2)), np.ones((1, 2))
    from shallowrelu.bounds import combined_lower
    Ca, ea = bound_rows(Term(lo[0], hi[0], C, e))
    low, coef, const, _ = box_bounds(net.layers, lo, hi, Ca, ea)
    assert low.max() < 0
    assert combined_lower(coef, const, lo, hi)[0] > 1e-3
    # and it never claims more than the truth: at most the least largest violation over samples
    rng = np.random.default_rng(0)
    for sizes in ([2, 6, 5, 3], [3, 8, 3]):
        net = random_net(sizes, seed=1)
        C, e = rng.normal(size=(4, sizes[-1])), rng.normal(size=4)
        lo = rng.uniform(-1, 0, size=(30, sizes[0]))
        hi = lo + rng.uniform(0.05, 1.0, size=(30, sizes[0]))
        low, coef, const, _ = box_bounds(net.layers, lo, hi, C, e)
        joint = combined_lower(coef, const, lo, hi)
        X = lo[:, None, :] + (hi - lo)[:, None, :] * rng.random((30, 400, sizes[0]))
        worst = (net(X.reshape(-1, sizes[0])) @ C.T - e).max(axis=1).reshape(30, 400)
        assert np.all(joint <= worst.min(axis=1) + 1e-12)
    # the input split closes the first box at once, with no split
    split = InputSplit(sr.ReLUNetwork([(np.eye(2), np.zeros(2)), (np.eye(2), np.zeros(2))]),
                       Term(np.zeros(2), np.ones(2), np.array([[-1.0, 0.0], [0.0, -1.0], [2.0, 2.0]]),
                            np.array([-0.5, -0.5, 1.8])), sr.Tolerances())
    outcome = split.run(np.inf)
    assert outcome.verdict is sr.Verdict.UNSAT and outcome.decided_by.value == "bound" and split.work.boxes == 1
