#!/usr/bin/env python
"""Run VNN-COMP 2022 benchmark sets through the command line and compare with every published tool.

Reads DATA/SET (``--data DATA``, default ../shared/data beside the repository): its instances.csv (onnx,
vnnlib, timeout), expected_verdicts.csv (the majority verdict of the tools that answered) and
vnncomp_results_long.csv (every tool's result and time). Each instance runs as a whole process,
``shallowrelu verify NET PROP --timeout T --jobs J -o RESULT``, with the instance's own VNN-COMP
timeout (``--timeout`` caps it), and is timed from outside. Every sat witness is read back from the
result file and checked by a forward pass of the network loaded afresh. Writes one CSV per set to
docs/results/SET.csv (``--out-dir``) and prints a summary: decided, wrong (must be 0), and for every
published tool how many of the same instances it decided and in how long.

    python scripts/vnncomp_sets.py                                # every set (mnist_fc takes hours)
    python scripts/vnncomp_sets.py --sets mnist_fc --jobs 2
    python scripts/vnncomp_sets.py --sets rl_cartpole --timeout 30 --only cartpole_case_safe_9
    python scripts/vnncomp_sets.py --sets mnist_fc --timeout 150 --only "256x4.onnx prop_5_0.05"
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import shallowrelu as sr
from shallowrelu.verification import METHODS
from shallowrelu.verification.result import meets

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
SETS = ("mnist_fc", "reach_prob_density", "rl_cartpole", "tllverifybench", "vnncomp_test")
# Tools whose times go into the per-instance CSV.
TOOLS = ("nnenum", "alpha_beta_crown", "verinet", "mn_bab")


def published(root: Path) -> tuple[dict, dict]:
    """The expected verdicts, and per instance every 2022 tool's (result, seconds)."""
    with open(root / "expected_verdicts.csv") as f:
        expected = {(r["onnx"], r["vnnlib"]): r["expected"] for r in csv.DictReader(f)}
    tools: dict = defaultdict(dict)
    with open(root / "vnncomp_results_long.csv") as f:
        for r in csv.DictReader(f):
            if r["year"] == "2022":
                seconds = float(r["runtime_s"]) if r["runtime_s"] else None
                tools[(r["onnx"], r["vnnlib"])][r["tool"]] = (r["result"], seconds)
    return expected, tools


def run_instance(onnx: Path, vnnlib: Path, timeout: float, jobs: int, method: str) -> dict:
    """One instance through the command line: verdict, wall seconds, what decided, the witness checked."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.txt"
        cmd = [sys.executable, "-m", "shallowrelu", "verify", str(onnx), str(vnnlib), "--timeout", str(timeout),
               "--jobs", str(jobs), "--method", method, "--json", "-o", str(result)]
        start = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            return {"verdict": "error", "seconds": seconds, "decided_by": proc.stderr.strip()[-200:],
                    "witness_checked": ""}
        out = json.loads(proc.stdout)
        witness = ""
        if out["verdict"] == "sat":
            values = {k: float(v) for k, v in (ln.strip("() ").split() for ln in result.read_text().splitlines()[1:])}
            net, prop = sr.load_network(onnx), sr.load_vnnlib(vnnlib)
            x = np.array([values[f"X_{i}"] for i in range(net.n_inputs)])
            witness = str(any(meets(net, t, x[None])[0] for t in prop.terms))
    return {"verdict": out["verdict"], "seconds": seconds, "decided_by": out["decided_by"],
            "witness_checked": witness}


def run_set(root: Path, args: argparse.Namespace) -> list[dict]:
    """Every instance of one set (or those whose ``NET PROP`` names hold some ``--only`` text)."""
    with open(root / "instances.csv") as f:
        instances = [(r[0], r[1], float(r[2])) for r in csv.reader(f) if r]
    expected, tools = published(root)
    rows = []
    for onnx_path, vnnlib_path, limit in instances:
        if args.only and not any(o in f"{Path(onnx_path).name} {Path(vnnlib_path).name}" for o in args.only):
            continue
        key = (Path(onnx_path).name, Path(vnnlib_path).name)
        timeout = min(limit, args.timeout) if args.timeout else limit
        got = run_instance(root / onnx_path, root / vnnlib_path, timeout, args.jobs, args.method)
        want = expected.get(key, "")
        decided = got["verdict"] in ("sat", "unsat")
        row = {"set": root.name, "onnx": key[0], "vnnlib": key[1], "timeout": timeout, "verdict": got["verdict"],
               "seconds": round(got["seconds"], 2), "expected": want,
               "wrong": str(decided and want in ("sat", "unsat") and got["verdict"] != want),
               "witness_checked": got["witness_checked"], "decided_by": got["decided_by"]}
        for tool in TOOLS:
            res, s = tools.get(key, {}).get(tool, ("", None))
            row[f"{tool}_2022_s"] = round(s, 2) if res in ("sat", "unsat") and s is not None else ""
        rows.append(row)
        print(f"{root.name} {key[0]} {key[1]}: {got['verdict']} in {got['seconds']:.1f} s (expected {want}; "
              f"nnenum {row['nnenum_2022_s'] or '-'} s) {got['decided_by']}", flush=True)
    return rows


def summary(name: str, rows: list[dict], tools: dict) -> list[str]:
    """Lines comparing our run of a set with every published tool on the same instances."""
    decidable = [r for r in rows if r["expected"] in ("sat", "unsat")]
    done = [r for r in decidable if r["verdict"] in ("sat", "unsat")]
    lines = [f"{name}: decided {len(done)}/{len(decidable)} of the instances some tool decided "
             f"({len(rows)} run), wrong {sum(r['wrong'] == 'True' for r in rows)}, witnesses failing "
             f"{sum(r['witness_checked'] == 'False' for r in rows)}, {sum(r['seconds'] for r in done):.1f} s on those"]
    names = sorted({t for r in rows for t in tools.get((r["onnx"], r["vnnlib"]), {})})
    for tool in names:
        answers = [tools.get((r["onnx"], r["vnnlib"]), {}).get(tool, ("", None)) for r in decidable]
        ok = [(res, s) for (res, s), r in zip(answers, decidable) if res == r["expected"]]
        lines.append(f"  {tool}: {len(ok)}/{len(decidable)}, {sum(s or 0 for _, s in ok):.1f} s")
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    p.add_argument("--timeout", type=float, help="cap on each instance's VNN-COMP timeout (seconds)")
    p.add_argument("--jobs", type=int, default=2, help="processes per instance (default 2)")
    p.add_argument("--method", choices=METHODS, default="bab")
    p.add_argument("--only", nargs="+", metavar="TEXT",
                   help="only the instances whose 'NET PROP' file names hold TEXT (a property's name, or both: "
                        "'mnist-net_256x4.onnx prop_5_0.05')")
    p.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "results",
                   help="where SET.csv is written (default: %(default)s)")
    args = p.parse_args()
    missing = [s for s in args.sets if not (args.data / s / "instances.csv").is_file()]
    if missing:
        p.exit(1, f"vnncomp_sets.py: {args.data}: no {', '.join(missing)} there (instances.csv); "
                  "give the folder with --data\n")
    lines, bad = [], False
    for name in args.sets:
        rows = run_set(args.data / name, args)
        if not rows:
            continue
        args.out_dir.mkdir(parents=True, exist_ok=True)
        with open(args.out_dir / f"{name}.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        lines += summary(name, rows, published(args.data / name)[1])
        bad |= any(r["wrong"] == "True" or r["witness_checked"] == "False" or r["verdict"] == "error" for r in rows)
    print("\n".join(lines))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
