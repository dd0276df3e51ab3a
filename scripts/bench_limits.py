"""The limits table of ``scripts/bench.py --only limits``: time limits, stop signals and memory at any size.

Each command runs in its own process, as a user runs it; its wall time and
peak RSS come from the operating system (``wait4``), not from the process
itself. Rows:

- ``verify --timeout 10`` on the three mnist_fc networks (784 inputs) and on
  ACAS Xu 4_2 prop 2: the verdict and the wall time (target: at most 11 s);
- the same runs stopped by SIGTERM and SIGINT 3 s in: the exit code and the
  time from the signal to the exit (target: at most 1 s);
- scikit-learn MLPs (StandardScaler + 16-16) with 13 inputs (wine) and 20
  inputs (a fixed ``make_classification`` set) over an L-inf ball around a
  data point: enumerate, convert, check and explain with their defaults
  (target: each at most 30 s and 2 GB);
- ACAS Xu 1_1 over prop 4: the mode ``convert`` chooses, and the exported
  graph on 1,000 points with onnxruntime (target: at most 2 GB, equal to the
  deep network within 1e-9), against the same graph run as one chunk (the
  export before chunking) on 10 points.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import shallowrelu as sr

CLI = [sys.executable, "-m", "shallowrelu"]


def run_measured(argv: list[str], signal_after: tuple[float, int] | None = None) -> dict:
    """Run ``argv``; its exit code, wall seconds, peak RSS (MB) and output, and with ``signal_after``
    (seconds, signal) the seconds from sending the signal to the exit."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True)
        sent = None
        if signal_after is not None:
            time.sleep(signal_after[0])
            sent = time.monotonic()
            # os.kill, not proc.send_signal: that polls first, and a child that already ended is then reaped
            # and wait4 below finds no child (the run then shows as ended before the signal)
            os.kill(proc.pid, signal_after[1])
        _, status, usage = os.wait4(proc.pid, 0)
        end = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"code": proc.returncode, "seconds": end - start, "peak_mb": usage.ru_maxrss / 1024,
                "stop_seconds": None if sent is None else end - sent, "stdout": out.read(), "stderr": err.read()}


def verify_rows(data: Path) -> None:
    """``verify --timeout 10``, then the same runs stopped by a signal 3 s in."""
    mnist, acas = data / "mnist_fc", data / "acasxu"
    cases = [(f"mnist {w} prop_0 0.03", mnist / "onnx" / f"mnist-net_{w}.onnx", mnist / "vnnlib" / "prop_0_0.03.vnnlib")
             for w in ("256x2", "256x4", "256x6")]
    cases.append(("ACAS 4_2 prop_2", acas / "ACASXU_run2a_4_2_batch_2000.onnx", acas / "prop_2.vnnlib"))
    print(f"{'instance':<24}{'verdict':>9}{'wall s':>8}{'SIGTERM':>9}{'after s':>8}{'SIGINT':>8}{'after s':>8}")
    for name, net, prop in cases:
        argv = CLI + ["verify", str(net), str(prop), "--timeout", "10", "--json"]
        timed = run_measured(argv)
        verdict = json.loads(timed["stdout"])["verdict"] if timed["code"] == 0 else f"exit {timed['code']}"
        stops = [run_measured(argv[:-3] + ["--timeout", "300"], (3.0, sig)) for sig in (signal.SIGTERM, signal.SIGINT)]
        print(f"{name:<24}{verdict:>9}{timed['seconds']:>8.2f}"
              + "".join(f"{s['code']:>9}{s['stop_seconds']:>8.2f}" if s["code"] > 0 else f"{'ended':>9}{'-':>8}"
                        for s in stops), flush=True)


def _mlp_file(which: str, folder: Path) -> tuple[Path, Path, str]:
    """A StandardScaler + MLP(16, 16) classifier saved as a network, a data point, and the ball radius."""
    import warnings

    from sklearn.datasets import load_wine, make_classification
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if which == "wine":
        X, y = load_wine(return_X_y=True)
        eps = "0.25"
    else:
        X, y = make_classification(n_samples=500, n_features=20, n_informative=10, random_state=0)
        eps = "0.2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the solver's convergence warning: the fit is fixed by its seed
        pipe = make_pipeline(StandardScaler(), MLPClassifier((16, 16), max_iter=2000, random_state=0)).fit(X, y)
    net, point = folder / f"{which}.npz", folder / f"{which}_x.npy"
    sr.save_network(sr.from_sklearn(pipe), net)
    np.save(point, X[0])
    return net, point, eps


def mlp_rows(folder: Path) -> None:
    """Enumerate, convert, check and explain with their defaults on the 13- and 20-input MLPs."""
    print(f"\n{'net':<22}{'regions':>8} " + "".join(f"{c + ' s':>11}{'MB':>6}"
                                                  for c in ("enumerate", "convert", "check", "explain")) + "  mode")
    for which, inputs in (("wine", 13), ("classify20", 20)):
        net, point, eps = _mlp_file(which, folder)
        cat, shallow = folder / f"{which}_cat.npz", folder / f"{which}_shallow.npz"
        runs = [run_measured(CLI + ["enumerate", str(net), "--ball", str(point), eps, "-o", str(cat), "--json"]),
                run_measured(CLI + ["convert", str(cat), "-o", str(shallow), "--json"]),
                run_measured(CLI + ["check", str(cat), str(shallow), "--json"]),
                run_measured(CLI + ["explain", str(cat), "--points", str(point), "--json"])]
        failed = [r["stderr"].strip().splitlines()[-1] for r in runs if r["code"] != 0]
        regions = json.loads(runs[0]["stdout"])["regions"] if runs[0]["code"] == 0 else "-"
        mode = json.loads(runs[1]["stdout"])["mode"] if runs[1]["code"] == 0 else "-"
        print(f"{f'{which} ({inputs} inputs)':<22}{regions:>8} "
              + "".join(f"{r['seconds']:>11.1f}{r['peak_mb']:>6.0f}" for r in runs) + f"  {mode}"
              + "".join(f"\n    {line}" for line in failed), flush=True)


def acas_export_rows(acas: Path, folder: Path) -> None:
    """ACAS Xu 1_1 over prop 4: the mode chosen, and its graph on 1,000 points against one chunk of 10."""
    from shallowrelu.verification.vnnlib import load_vnnlib

    term = load_vnnlib(acas / "prop_4.vnnlib").terms[0]
    box, cat, shallow, graph = (folder / name for name in ("p4_box.npz", "p4_cat.npz", "p4_shallow.npz", "p4.onnx"))
    np.savez(box, lo=term.lo, hi=term.hi)
    net = acas / "ACASXU_run2a_1_1_batch_2000.onnx"
    steps = [("enumerate", [str(net), "--bounds", str(box), "-o", str(cat)]), ("convert", [str(cat), "-o", str(shallow)]),
             ("check", [str(cat), str(shallow)]), ("export", [str(shallow), "-o", str(graph)])]
    print(f"\n{'ACAS 1_1 prop_4':<22}{'wall s':>8}{'peak MB':>9}  notes")
    for command, args in steps:
        r = run_measured(CLI + [command, *args, "--json"])
        if r["code"] != 0:
            raise SystemExit(f"shallowrelu {command} failed: {r['stderr'].strip()}")
        out = json.loads(r["stdout"])
        notes = {"enumerate": lambda: f"{out['regions']} regions", "convert": lambda: out["mode_reason"],
                 "check": lambda: f"passed: {out['passed']}", "export": lambda: f"{out['file_bytes'] / 1e6:.0f} MB"}
        note = notes[command]()
        print(f"{command:<22}{r['seconds']:>8.1f}{r['peak_mb']:>9.0f}  {note}", flush=True)
    one_chunk = folder / "p4_one_chunk.onnx"
    _as_one_chunk(graph, one_chunk)
    for path, points, label in ((graph, 1000, "onnxruntime, 1,000 points"),
                                (one_chunk, 10, "one chunk (before), 10 points")):
        r = run_measured([sys.executable, __file__, "--ort", str(path), str(net), str(box), str(points)])
        if r["code"] != 0:
            print(f"{label:<30} failed: {r['stderr'].strip().splitlines()[-1]}  (peak {r['peak_mb']:.0f} MB)")
            continue
        print(f"{label:<30}{r['seconds']:>8.1f}{r['peak_mb']:>9.0f}  max |graph - deep| = "
              f"{float(r['stdout']):.1e}", flush=True)


def _as_one_chunk(graph: Path, out: Path) -> None:
    """The exported graph with a chunk as large as any batch: all points at once, as the export did before."""
    import onnx

    model = onnx.load(graph)
    for t in model.graph.initializer:
        if t.name in ("chunk_cap", "chunk_cap_less_one"):
            t.CopyFrom(onnx.numpy_helper.from_array(np.array([2**40], dtype=np.int64), t.name))
    onnx.save(model, out)


def _ort_child(graph: str, net: str, box: str, points: str) -> None:
    """In a process of its own: run the graph on random points of the box; print the largest error."""
    import onnxruntime as ort

    b = np.load(box)
    X = np.random.default_rng(0).uniform(b["lo"], b["hi"], size=(int(points), b["lo"].size))
    y = ort.InferenceSession(graph).run(None, {"x": X})[0]
    print(float(np.abs(y - sr.load_network(net)(X)).max()))


def limits_table(data: Path) -> None:
    """All rows; ``data`` holds mnist_fc/ and acasxu/."""
    with tempfile.TemporaryDirectory() as tmp:
        verify_rows(data)
        mlp_rows(Path(tmp))
        acas_export_rows(data / "acasxu", Path(tmp))


if __name__ == "__main__" and sys.argv[1:2] == ["--ort"]:
    _ort_child(*sys.argv[2:])
