"""The shallow network as an ONNX graph, run by onnxruntime against the deep network."""

import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import shallowrelu as sr
from shallowrelu.builder.check import cells_reference, equivalence_probes
from shallowrelu.testing.nets import random_net
from shallowrelu.verification.vnnlib import load_vnnlib
from tests.helpers import DATA


def acas_flat_case() -> tuple[sr.ReLUNetwork, sr.Box]:
    """ACAS Xu 1_1 on a tenth of the prop_4 input set around its centre: 4-D (X_2 fixed), 156 regions."""
    term = load_vnnlib(DATA / "prop_4.vnnlib").terms[0]
    centre = (term.lo + term.hi) / 2
    net = sr.load_network(DATA / "ACASXU_run2a_1_1_batch_2000.onnx")
    return net, sr.Box(centre - (centre - term.lo) * 0.1, centre + (term.hi - centre) * 0.1)


def run_onnx(path, X: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path))
    return np.vstack([session.run(None, {"x": X[i:i + 256]})[0] for i in range(0, len(X), 256)])


CASES = {"1-D": lambda: (random_net([1, 6, 6, 2], seed=21, bias=0.3), sr.Box(-2, 2)),
         "2-D": lambda: (random_net([2, 8, 8, 2], seed=22, bias=0.3), sr.Box(-1, 1)),
         "4-D flat ACAS": acas_flat_case}


@pytest.mark.parametrize("mode", ["faces", "cells"])
@pytest.mark.parametrize("case", list(CASES))
def test_onnxruntime_computes_the_extended_real_network(case, mode, tmp_path, rng):
    net, box = CASES[case]()
    cat = sr.enumerate_regions(net, box)
    shallow = sr.build_shallow(cat, mode=mode)
    path = tmp_path / "s.onnx"
    shallow.to_onnx(path)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == onnx.defs.onnx_opset_version()
    ends = [*model.graph.input, *model.graph.output]
    assert {i.type.tensor_type.elem_type for i in ends} == {onnx.TensorProto.DOUBLE}
    # no big finite number stands in for inf: every weight is a catalogue number or 0/+-1
    W = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert np.abs(W["W1T"]).max() <= 1.0 + 1e-12 and np.abs(W["coeff"]).max() == 1.0
    probes = equivalence_probes(cat)
    scale = max(1.0, float(np.abs(net(probes["random"])).max()))
    for kind in ("random", "interior", "vertex", "facet", "near_facet"):
        X = probes[kind]
        expected = cells_reference(cat, X, sr.Tolerances().boundary) \
            if mode == "cells" and kind in ("vertex", "facet") else net(X)
        got = run_onnx(path, X)
        assert np.abs(got - expected).max() <= 1e-9 * scale, kind
        np.testing.assert_allclose(got, shallow(X), rtol=0, atol=1e-12 * scale)
    # outside the bounded domain every gate is closed, as in the numpy evaluator
    outside = box.hi + rng.uniform(0.01, 1.0, size=(20, net.n_inputs))
    np.testing.assert_array_equal(run_onnx(path, outside), 0.0)


def test_export_command_writes_a_checked_graph_and_refuses_bad_files(tmp_path):
    net, box = CASES["2-D"]()
    shallow_path, onnx_path = tmp_path / "s.npz", tmp_path / "s.onnx"
    sr.build_shallow(sr.enumerate_regions(net, box)).save(shallow_path)
    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "export", str(shallow_path), "-o", str(onnx_path),
                           "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["file_bytes"] == onnx_path.stat().st_size and payload["gates"] > 0
    X = np.random.default_rng(3).uniform(-1, 1, size=(500, 2))
    assert np.abs(run_onnx(onnx_path, X) - net(X)).max() <= 1e-12
    # a truncated shallow file: one line, exit 1, nothing written
    cut = tmp_path / "cut.npz"
    cut.write_bytes(shallow_path.read_bytes()[:300])
    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "export", str(cut), "-o", str(tmp_path / "x.onnx")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "cut.npz" in proc.stderr
    assert not (tmp_path / "x.onnx").exists()
    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "export", str(shallow_path), "-o",
                           str(tmp_path / "y.onnx"), "--opset", "13"], capture_output=True, text=True)
    assert proc.returncode == 1 and "opset 13" in proc.stderr and not (tmp_path / "y.onnx").exists()


@pytest.mark.parametrize("cap", [1, 3])
@pytest.mark.parametrize("points", [0, 1, 2, 7, 8, 50])
def test_the_graph_runs_the_batch_in_chunks_of_any_remainder(cap, points, tmp_path, monkeypatch):
    from shallowrelu.builder import shallow as shallow_module

    net, box = CASES["2-D"]()
    shallow = sr.build_shallow(sr.enumerate_regions(net, box))
    path = tmp_path / "s.onnx"
    shallow.to_onnx(path)
    model = onnx.load(path)
    caps = {t.name: t for t in model.graph.initializer if t.name.startswith("chunk_cap")}
    assert onnx.numpy_helper.to_array(caps["chunk_cap"]).item() > 50  # a small network: one chunk
    monkeypatch.setattr(shallow_module, "CHUNK_BYTES", 1)
    shallow.to_onnx(path)
    assert {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}["chunk_cap"] == 1
    # the cap as a gate-heavy network has it: several trips, the last one padded
    for name, value in (("chunk_cap", cap), ("chunk_cap_less_one", cap - 1)):
        caps[name].CopyFrom(onnx.numpy_helper.from_array(np.array([value], dtype=np.int64), name))
    X = np.random.default_rng(points).uniform(-1, 1, size=(points, 2))
    got = ort.InferenceSession(model.SerializeToString()).run(None, {"x": X})[0]
    assert got.shape == (points, 2)
    np.testing.assert_allclose(got, shallow(X), rtol=0, atol=1e-12)
