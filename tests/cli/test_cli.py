"""The command line, run as a user would: a subprocess, its stdout, stderr and exit code."""

import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.testing.nets import random_net
from tests.helpers import DATA, assert_chunks_agree, wait_for_chunk

EXAMPLE = str(sr.example_path())


def run(*args, check_code=None):
    proc = subprocess.run([sys.executable, "-m", "shallowrelu", *args], capture_output=True, text=True,
                          timeout=300)
    if check_code is not None:
        assert proc.returncode == check_code, proc.stderr
    return proc


def test_enumerate_json_has_the_contract_keys(tmp_path):
    out = tmp_path / "cat.npz"
    proc = run("enumerate", EXAMPLE, "--box=-1,1", "-o", str(out), "--json", check_code=0)
    data = json.loads(proc.stdout)
    for key in ("regions", "lps", "seconds", "thin", "complete"):
        assert key in data
    cat = sr.Catalogue.load(out)
    assert data["regions"] == len(cat) and data["complete"] is True
    # the same run from the API gives the same catalogue
    api = sr.enumerate_regions(sr.load_network(EXAMPLE), sr.Box(-1, 1))
    np.testing.assert_array_equal(api.table.patterns, cat.table.patterns)


def test_box_with_a_space_before_a_negative_value(tmp_path):
    a = json.loads(run("enumerate", EXAMPLE, "--box", "-1,1", "--json", check_code=0).stdout)
    b = json.loads(run("enumerate", EXAMPLE, "--box=-1,1", "--json", check_code=0).stdout)
    assert a["regions"] == b["regions"]


def test_bounds_and_polytope_files(tmp_path):
    np.savez(tmp_path / "b.npz", lo=np.array([-1.0, -0.5]), hi=np.array([0.5, 1.0]))
    np.savez(tmp_path / "p.npz", P=np.vstack([np.eye(2), -np.eye(2)]), p=np.array([0.5, 1.0, 1.0, 0.5]))
    a = json.loads(run("enumerate", EXAMPLE, "--bounds", str(tmp_path / "b.npz"), "--json", check_code=0).stdout)
    b = json.loads(run("enumerate", EXAMPLE, "--polytope", str(tmp_path / "p.npz"), "--json", check_code=0).stdout)
    assert a["regions"] == b["regions"] > 1


def test_human_summary_over_Rn():
    proc = run("enumerate", EXAMPLE, check_code=0)
    assert "regions over all of R^2" in proc.stdout and "complete: yes" in proc.stdout


def test_human_summary_counts_the_lps_in_words_that_do_not_read_as_the_work():
    first = run("enumerate", EXAMPLE, "--box=-1,1", check_code=0).stdout.splitlines()[0]
    found = re.search(r"^example.npz: ([\d,]+) regions .* s, ([\d,]+) (LPs?)( \(all other decisions from vertices, "
                      r"bounds or sample points\))?$", first)
    assert found, first
    regions, lps = (int(v.replace(",", "")) for v in found.group(1, 2))
    assert found.group(3) == ("LP" if lps == 1 else "LPs")
    # a bounded 2-D search settles its nodes from their vertices: far fewer LPs than regions, and it says why
    assert lps < regions and found.group(4)


def test_an_output_without_an_extension_gets_the_one_its_format_needs(tmp_path):
    proc = run("enumerate", EXAMPLE, "--box=-1,1", "-o", str(tmp_path / "plane_cat"), "--json", check_code=0)
    assert json.loads(proc.stdout)["output"] == str(tmp_path / "plane_cat.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plane_cat.npz"]
    # a catalogue under a name without the extension is still read, by its content
    (tmp_path / "plane_cat.npz").rename(tmp_path / "renamed")
    proc = run("convert", str(tmp_path / "renamed"), "-o", str(tmp_path / "shallow"), check_code=0)
    assert f"wrote {tmp_path / 'shallow.npz'}" in proc.stdout
    run("export", str(tmp_path / "shallow.npz"), "-o", str(tmp_path / "graph"), check_code=0)
    run("plot", str(tmp_path / "renamed"), "-o", str(tmp_path / "picture"), check_code=0)
    assert {p.name for p in tmp_path.iterdir()} >= {"graph.onnx", "picture.png"}


def test_demo_runs_and_agrees_with_the_network():
    proc = run("demo", check_code=0)
    assert "complete: yes" in proc.stdout
    assert "region of x" in proc.stdout
    # just below the exact maximum a counterexample exists, just above none, by both methods
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("verify:")]
    assert len(lines) == 2
    assert "sat by tree" in lines[0] and "sat by milp" in lines[0] and "unsat" not in lines[0]
    assert lines[1].endswith("unsat by tree, unsat by milp")


@pytest.mark.parametrize("command", ["enumerate", "convert", "check", "explain", "stats", "plot", "bounds",
                                     "verify", "demo"])
def test_help_has_an_example(command):
    assert "example:" in run(command, "--help", check_code=0).stdout


def _bad(tmp_path):
    """(name, argv, text the one-line error must contain)."""
    net = tmp_path / "net.npz"
    sr.save_network(random_net([2, 3, 1]), net)
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "text.npz").write_text("W0 = [[1, 2]]\n")
    np.savez(tmp_path / "nob1.npz", W0=np.ones((2, 2)), b0=np.ones(2), W1=np.ones((1, 2)))
    np.savez(tmp_path / "chain.npz", W0=np.ones((3, 2)), b0=np.ones(3), W1=np.ones((1, 2)), b1=np.ones(1))
    np.savez(tmp_path / "nan.npz", W0=np.array([[np.nan, 1.0]]), b0=np.ones(1), W1=np.ones((1, 1)), b1=np.ones(1))
    np.savez(tmp_path / "onedim.npz", W0=np.ones(2), b0=np.ones(1))
    np.savez(tmp_path / "bounds3.npz", lo=-np.ones(3), hi=np.ones(3))
    np.savez(tmp_path / "emptypoly.npz", P=np.array([[1.0, 0.0], [-1.0, 0.0]]), p=np.array([-1.0, -1.0]))
    np.savez(tmp_path / "halfplane.npz", P=np.array([[1.0, 0.0]]), p=np.array([1.0]))
    np.savez(tmp_path / "pickled.npz", W0=np.array([object()], dtype=object), b0=np.ones(1))
    (tmp_path / "text.onnx").write_text("graph { node: relu }")
    (tmp_path / "empty.nnet").write_text("")
    (tmp_path / "dir.npz").mkdir()
    cat = tmp_path / "cat.npz"
    sr.enumerate_regions(random_net([2, 3, 1]), sr.Box(-1, 1)).save(cat)
    (tmp_path / "cut_cat.npz").write_bytes(cat.read_bytes()[:300])
    sr.build_shallow(sr.enumerate_regions(random_net([2, 3, 1], seed=3), sr.Box(-1, 1))).save(tmp_path / "sh.npz")
    (tmp_path / "cut_sh.npz").write_bytes((tmp_path / "sh.npz").read_bytes()[:400])
    arrays = dict(np.load(tmp_path / "sh.npz"))
    np.savez(tmp_path / "old_sh.npz", **(arrays | {"format": np.array("shallowrelu-shallow/1")}))
    np.savez(tmp_path / "bad_sh.npz", **(arrays | {"guard": arrays["guard"] + 1000}))
    np.save(tmp_path / "pts3.npy", np.zeros((2, 3)))
    np.save(tmp_path / "o.npy", np.ones(2))
    (tmp_path / "syntax.vnnlib").write_text("(declare-const X_0 Real)\n(assert (<= X_0 1)\n")
    other = tmp_path / "other.npz"
    sr.enumerate_regions(random_net([2, 5, 1], seed=8), sr.Box(-1, 1)).save(other)
    # not a log (a log cut inside its first record is an early interrupt: --resume starts again)
    (tmp_path / "junk.npz.part").write_bytes(b"PK\x03\x04" + b"\x05" * 11)
    (tmp_path / "unknown.vnnlib").write_text("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n"
                                             "(assert (<= X_0 1))\n(assert (>= X_0 -1))\n(assert (<= Y_7 0))\n")
    return [
        ("missing file", ["enumerate", str(tmp_path / "nope.npz")], "nope.npz: no such"),
        ("empty file", ["enumerate", str(tmp_path / "empty.npz")],
         "empty.npz: not a .npz network file (no zip header; the file is empty)"),
        ("text file", ["enumerate", str(tmp_path / "text.npz")], "text.npz: not a .npz network file"),
        ("no b1", ["enumerate", str(tmp_path / "nob1.npz")], "b1 is missing"),
        ("shapes", ["enumerate", str(tmp_path / "chain.npz")], "W1 has 2 inputs but layer 0 has 3 outputs"),
        ("nan", ["enumerate", str(tmp_path / "nan.npz")], "W0 contains NaN"),
        ("1-D weight", ["enumerate", str(tmp_path / "onedim.npz")], "W0 must be 2-D"),
        ("lo > hi", ["enumerate", str(net), "--box=1,-1"], "lo > hi"),
        ("box syntax", ["enumerate", str(net), "--box=a,b"], "--box"),
        ("box dimension", ["enumerate", str(net), "--bounds", str(tmp_path / "bounds3.npz")], "3 coordinates"),
        ("empty polytope", ["enumerate", str(net), "--polytope", str(tmp_path / "emptypoly.npz")], "empty"),
        ("output dir", ["enumerate", str(net), "-o", str(tmp_path / "no" / "cat.npz")], "does not exist"),
        ("unbounded for milp", ["bounds", str(net), "--polytope", str(tmp_path / "halfplane.npz")], "bounded"),
        ("no domain for milp", ["enumerate", str(net), "--method", "milp"], "bounded domain"),
        ("pickled npz", ["enumerate", str(tmp_path / "pickled.npz")], "pickled Python objects"),
        ("text onnx", ["enumerate", str(tmp_path / "text.onnx")], "text.onnx: not a readable ONNX file"),
        ("empty nnet", ["enumerate", str(tmp_path / "empty.nnet")], "empty.nnet: file ends before the header"),
        ("directory", ["enumerate", str(tmp_path / "dir.npz")], "is a directory"),
        ("unknown format", ["enumerate", str(tmp_path / "pts3.npy")], "unknown network format '.npy'"),
        ("truncated catalogue", ["convert", str(tmp_path / "cut_cat.npz"), "-o", str(tmp_path / "s.npz")],
         "cut_cat.npz"),
        ("shallow of another net", ["check", str(cat), str(tmp_path / "sh.npz")], "another network"),
        ("shallow file is a network", ["check", str(cat), str(net)], "not a shallowrelu shallow network"),
        ("truncated shallow", ["check", str(cat), str(tmp_path / "cut_sh.npz")], "cut_sh.npz"),
        ("old shallow format", ["export", str(tmp_path / "old_sh.npz"), "-o", str(tmp_path / "o.onnx")],
         "old_sh.npz: written in the older format shallowrelu-shallow/1; convert the catalogue again"),
        ("inconsistent shallow", ["check", str(cat), str(tmp_path / "bad_sh.npz")],
         "bad_sh.npz: incomplete or inconsistent shallow network (a guard names a layer-1 neuron"),
        ("point outside", ["explain", str(cat), "--point=3,3"], "outside the catalogue's domain"),
        ("point dimension", ["explain", str(cat), "--points", str(tmp_path / "pts3.npy")], "2 coordinates"),
        ("plot 1-D", ["plot", str(tmp_path / "nob1.npz"), "-o", str(tmp_path / "p.png")], "b1 is missing"),
        ("stats table suffix", ["stats", str(cat), "-o", str(tmp_path / "t.xlsx")], ".csv or .parquet"),
        ("output index", ["bounds", str(net), "--box=-1,1", "--output-index", "5"], "1 outputs"),
        ("negative samples", ["enumerate", str(net), "--samples", "-3"], "--samples -3"),
        ("zero jobs", ["enumerate", str(net), "--jobs", "0"], "--jobs 0: must be 1 or more"),
        ("negative jobs", ["enumerate", str(net), "--jobs=-2"], "--jobs -2: must be 1 or more"),
        ("verify zero jobs", ["verify", str(net), str(tmp_path / "unknown.vnnlib"), "--jobs", "0"], "--jobs 0"),
        ("resume without -o", ["enumerate", str(net), "--resume"], "give -o"),
        ("resume another network", ["enumerate", str(net), "--box=-1,1", "-o", str(other), "--resume"],
         "cannot resume: the catalogue to resume is of another network"),
        ("resume a damaged log", ["enumerate", str(net), "-o", str(tmp_path / "junk.npz"), "--resume"],
         "junk.npz.part: not a shallowrelu chunk log"),
        ("zero tolerance", ["enumerate", str(net), "--min-inradius", "0"], "--min-inradius 0"),
        ("bad time limit", ["bounds", str(net), "--box=-1,1", "--time-limit", "-1"], "--time-limit -1"),
        ("vnnlib syntax", ["verify", str(net), str(tmp_path / "syntax.vnnlib")], "syntax.vnnlib: unbalanced"),
        ("vnnlib variable", ["verify", str(net), str(tmp_path / "unknown.vnnlib")],
         "unknown.vnnlib: line 5: unknown variable Y_7"),
        ("vnnlib of other size", ["verify", str(net), str(DATA / "test_small.vnnlib"), "-o", str(tmp_path / "r.txt")],
         "the property has 1 inputs"),
        ("parallel slice", ["plot", str(net), "--box=-1,1", "--slice", str(tmp_path / "o.npy"), str(tmp_path / "o.npy"),
                            str(tmp_path / "o.npy"), "-o", str(tmp_path / "p.png")], "parallel"),
    ]


def test_bad_inputs_give_one_line_and_exit_1(tmp_path):
    cases = _bad(tmp_path)
    assert len(cases) >= 28
    for name, argv, text in cases:
        proc = run(*argv)
        assert proc.returncode == 1, (name, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, (name, proc.stderr)
        assert text in lines[0], (name, lines[0])
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "no").exists() and not (tmp_path / "s.npz").exists()
    assert not (tmp_path / "p.png").exists() and not (tmp_path / "r.txt").exists()


def test_usage_error_exits_2():
    assert run("enumerate").returncode == 2


def test_convert_and_check_round_trip(tmp_path):
    cat, shallow = tmp_path / "cat.npz", tmp_path / "shallow.npz"
    run("enumerate", EXAMPLE, "--box=-1,1", "-o", str(cat), check_code=0)
    data = json.loads(run("convert", str(cat), "-o", str(shallow), "--json", check_code=0).stdout)
    assert data["mode"] == "faces" and data["sizes"]["inf_weights"] > 0
    report = json.loads(run("check", EXAMPLE, str(shallow), "--box=-1,1", "--json", check_code=0).stdout)
    assert report["passed"] and report["max_rel"] <= 1e-9 and report["counts"]["vertex"] > 0
    # the same from the catalogue file, no re-enumeration
    assert run("check", str(cat), str(shallow), check_code=0).stdout.startswith("equivalent")


def test_check_reports_a_difference_with_exit_4(tmp_path):
    import dataclasses

    path = tmp_path / "s.npz"
    run("convert", EXAMPLE, "--box=-1,1", "-o", str(path), check_code=0)
    good = sr.ShallowNetwork.load(path)
    dataclasses.replace(good, b3=good.b3 + 1e-6).save(path)
    proc = run("check", EXAMPLE, str(path), "--box=-1,1", "--json")
    assert proc.returncode == 4
    assert json.loads(proc.stdout)["passed"] is False


def test_check_refuses_the_shallow_network_of_another_net(tmp_path):
    other = tmp_path / "other.npz"
    sr.save_network(random_net([2, 8, 8, 2], seed=99), other)
    shallow = tmp_path / "s.npz"
    run("convert", str(other), "--box=-1,1", "-o", str(shallow), check_code=0)
    proc = run("check", EXAMPLE, str(shallow), "--box=-1,1")
    assert proc.returncode == 1 and "another network" in proc.stderr


def test_cells_mode_passes_its_own_semantics(tmp_path):
    shallow = tmp_path / "c.npz"
    run("convert", EXAMPLE, "--box=-1,1", "--mode", "cells", "-o", str(shallow), check_code=0)
    assert run("check", EXAMPLE, str(shallow), "--box=-1,1", check_code=0).stdout.startswith("equivalent")


def test_catalogue_with_domain_options_is_a_usage_error(tmp_path):
    cat = tmp_path / "cat.npz"
    run("enumerate", EXAMPLE, "--box=-1,1", "-o", str(cat), check_code=0)
    proc = run("convert", str(cat), "--box=-1,1", "-o", str(tmp_path / "s.npz"))
    assert proc.returncode == 1 and "carries its own domain" in proc.stderr
    assert not (tmp_path / "s.npz").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_keeps_the_regions_found_so_far(tmp_path, sig):
    net = random_net([3, 30, 30, 1], seed=5)  # about 10 s of search: still running when signalled
    sr.save_network(net, tmp_path / "n.npz")
    out = tmp_path / "cat.npz"
    proc = subprocess.Popen([sys.executable, "-m", "shallowrelu", "enumerate", str(tmp_path / "n.npz"), "--box=-1,1",
                             "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_chunk(str(out) + ".part", 0, proc)
    start = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - start < 5.0  # stops promptly (the partial file is written too)
    assert proc.returncode == (130 if sig == signal.SIGINT else 143), err
    assert ("interrupted after" if sig == signal.SIGINT else "terminated after") in err and str(out) in err
    partial = sr.Catalogue.load(out)
    assert partial.info["interrupted"] and not partial.info["complete"]
    assert 0 < len(partial)
    # every region kept is where an uninterrupted run has it: chunk by chunk, in order
    full = sr.enumerate_regions(net, sr.Box(-1, 1), jobs=2)
    assert len(partial) < len(full)
    assert_chunks_agree(partial, full)


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"shallowrelu {version('shallowrelu')}"
    assert sr.__version__ == version("shallowrelu")


HEAVY = ("scipy.sparse", "scipy.spatial", "pulp", "highspy", "onnx", "numba", "matplotlib", "torch")


@pytest.mark.parametrize("code,allowed", [
    ("import shallowrelu", ()),
    ("from shallowrelu.cli import main; main(['--help'])", ()),
    # verify on a tiny ONNX net: the solver and the ONNX reader, nothing of the shallow network or the MILP
    ("from shallowrelu.cli import main; main(['verify', r'{onnx}', r'{prop}'])", ("highspy", "onnx", "scipy.spatial")),
])
def test_start_up_imports_only_what_the_command_runs(code, allowed):
    code = code.format(onnx=DATA / "test_nano.onnx", prop=DATA / "test_nano.vnnlib")
    probe = (f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
             f"print('LOADED', *[m for m in {HEAVY!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.strip().splitlines()[-1].split()[1:])
    assert loaded <= set(allowed), loaded


def test_the_lazy_api_keeps_every_name_and_the_functions_named_like_subpackages():
    code = "import shallowrelu as sr, shallowrelu.verification.api, shallowrelu.explanation\n"
    proc = subprocess.run([sys.executable, "-c", code +
                           "assert all(getattr(sr, n) is not None for n in sr.__all__)\n"
                           "assert callable(sr.verify) and callable(sr.explain) and sr.verify.__name__ == 'verify'\n"
                           "print(len(sr.__all__))"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == len(sr.__all__) and {"from_sklearn", "Slice"} <= set(sr.__all__)
