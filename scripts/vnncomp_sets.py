#!/usr/bin/env python
"""Run VNN-COMP 2022 benchmark sets and compare with the published verdicts and nnenum's times.

Reads ../shared/data/SET (or --data): its instances.csv (onnx, vnnlib,
timeout), expected_verdicts.csv (the majority verdict of the tools that
answered) and vnncomp_results_long.csv (every tool's result and time).
Prints one line per instance and a summary per set: decided, wrong (must be
0), our time and nnenum's on the same instances; every sat witness is
checked again by a forward pass. Writes a CSV with --output.

    python scripts/vnncomp_sets.py                                   # reach_prob_density, rl_cartpole, tll
    python scripts/vnncomp_sets.py --sets rl_cartpole --timeout 60 --jobs 2 -o cartpole.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import shallowrelu as sr
from shallowrelu.verification import METHODS
from shallowrelu.verification.result import meets

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = ("reach_prob_density", "rl_cartpole", "tllverifybench")


def run_set(root: Path, timeout: float, jobs: int, method: str) -> list[dict]:
    with open(root / "instances.csv") as f:
        instances = [(r[0], r[1]) for r in csv.reader(f) if r]
    with open(root / "expected_verdicts.csv") as f:
        expected = {(r["onnx"], r["vnnlib"]): r["expected"] for r in csv.DictReader(f)}
    nnenum = {}
    with open(root / "vnncomp_results_long.csv") as f:
        for r in csv.DictReader(f):
            if r["tool"] == "nnenum" and r["year"] == "2022" and r["result"] in ("sat", "unsat"):
                nnenum[(r["onnx"], r["vnnlib"])] = float(r["runtime_s"])
    rows = []
    for onnx_path, vnnlib_path in instances:
        key = (Path(onnx_path).name, Path(vnnlib_path).name)
        net, prop = sr.load_network(root / onnx_path), sr.load_vnnlib(root / vnnlib_path)
        res = sr.verify(net, prop, timeout=timeout, jobs=jobs, method=method)
        witness = ""
        if res.x is not None:
            witness = str(any(meets(net, t, res.x[None])[0] for t in prop.terms))
        want = expected.get(key, "")
        decided = res.verdict.value in ("sat", "unsat")
        rows.append({"set": root.name, "onnx": key[0], "vnnlib": key[1], "verdict": res.verdict.value,
                     "seconds": round(res.seconds, 3), "expected": want,
                     "wrong": str(decided and res.verdict.value != want), "witness_checked": witness,
                     "decided_by": res.decided_by, "nnenum_2022_s": nnenum.get(key, "")})
        print(f"{root.name} {key[0]} {key[1]}: {res.verdict.value} in {res.seconds:.2f} s (expected {want}; "
              f"nnenum {nnenum.get(key, '-')} s) {res.decided_by}", flush=True)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per instance (default 60)")
    p.add_argument("--jobs", type=int, default=2, help="processes per instance (default 2)")
    p.add_argument("--method", choices=METHODS, default="bab")
    p.add_argument("-o", "--output", help="CSV of every instance")
    args = p.parse_args()
    rows = []
    for name in args.sets:
        rows += run_set(args.data / name, args.timeout, args.jobs, args.method)
    print("set: decided / instances, wrong, witnesses failing, ours s (decided), nnenum 2022 s (same instances)")
    for name in args.sets:
        mine = [r for r in rows if r["set"] == name]
        done = [r for r in mine if r["verdict"] in ("sat", "unsat")]
        print(f"  {name}: {len(done)}/{len(mine)}, wrong {sum(r['wrong'] == 'True' for r in mine)}, "
              f"witnesses failing {sum(r['witness_checked'] == 'False' for r in mine)}, "
              f"{sum(r['seconds'] for r in done):.1f} s, "
              f"nnenum {sum(r['nnenum_2022_s'] for r in done if r['nnenum_2022_s'] != ''):.1f} s")
    if args.output:
        with open(args.output, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    bad = any(r["wrong"] == "True" or r["witness_checked"] == "False" for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
