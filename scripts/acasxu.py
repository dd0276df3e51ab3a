#!/usr/bin/env python
"""Run the ACAS Xu VNN-COMP instances and compare with the published verdicts.

Reads DATA/acasxu (``--data DATA``, default ../shared/data beside the repository): the instance list, the majority
verdicts of the VNN-COMP 2021/2022 tools, and their runtimes. Writes one CSV
row per instance (instance, verdict, seconds, expected, agree) and prints a
summary: solved, agree, disagree (must be 0), time totals, and nnenum's
published time on the same instances.

    python scripts/acasxu.py --jobs 2 -o acasxu.csv          # all 186 instances, VNN-COMP's 116 s each
    python scripts/acasxu.py --nets 1_1 1_7 --props 3
    python scripts/acasxu.py --props 3 --jobs 2 --method tree

Every sat witness is checked again here by a forward pass of the network
loaded afresh (inside the box, constraints met to 1e-9). The summary gives
our time against nnenum's published VNN-COMP 2022 time, per property.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import shallowrelu as sr
from shallowrelu.verification import METHODS
from shallowrelu.verification.result import meets

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="the folder of third-party data, holding acasxu/ (default: %(default)s)")
    p.add_argument("--props", type=int, nargs="+", default=list(range(1, 11)))
    p.add_argument("--nets", nargs="+", help="e.g. 1_1 2_9 (default: every net the instance list has)")
    p.add_argument("--timeout", type=float, default=116.0, help="seconds per instance (default 116, VNN-COMP's)")
    p.add_argument("--jobs", type=int, default=1, help="local processes per instance (default 1)")
    p.add_argument("--method", choices=METHODS, default="bab")
    p.add_argument("-o", "--output", default="acasxu_results.csv")
    args = p.parse_args()
    data = args.data / "acasxu"
    if not (data / "acasxu_instances.csv").is_file():
        p.exit(1, f"acasxu.py: {data}: no ACAS Xu data there (acasxu_instances.csv); give the folder with --data\n")
    with open(data / "acasxu_instances.csv") as f:
        instances = [(r[0], r[1]) for r in csv.reader(f) if r]
    with open(data / "expected_verdicts.csv") as f:
        expected = {(r["onnx"], r["vnnlib"]): r["expected"] for r in csv.DictReader(f)}
    nnenum: dict[tuple, float] = {}
    with open(data / "vnncomp_results_long.csv") as f:
        for r in csv.DictReader(f):
            if r["tool"] == "nnenum" and r["year"] == "2022" and r["runtime_s"]:
                nnenum[(r["onnx"], r["vnnlib"])] = float(r["runtime_s"])
    chosen = [(o, v) for o, v in instances
              if int(v.split("_")[1].split(".")[0]) in args.props
              and (not args.nets or o.split("_")[2] + "_" + o.split("_")[3] in args.nets)]
    rows, start = [], time.perf_counter()
    for onnx_name, prop_name in chosen:
        net = sr.load_network(data / onnx_name)
        prop = sr.load_vnnlib(data / prop_name)
        res = sr.verify(net, prop, timeout=args.timeout, jobs=args.jobs, method=args.method)
        want = expected.get((onnx_name, prop_name), "")
        decided = res.verdict.value in ("sat", "unsat")
        witness = ""
        if res.x is not None:
            witness = str(any(meets(net, t, res.x[None])[0] for t in prop.terms))
        row = {"onnx": onnx_name, "vnnlib": prop_name, "verdict": res.verdict.value,
               "seconds": round(res.seconds, 3), "expected": want,
               "agree": "" if not decided else str(res.verdict.value == want),
               "witness_checked": witness, "decided_by": res.decided_by, "boxes": res.boxes,
               "nnenum_2022_s": nnenum.get((onnx_name, prop_name), "")}
        rows.append(row)
        print(f"{onnx_name} {prop_name}: {row['verdict']} in {row['seconds']} s (expected {want})", flush=True)
    with open(args.output, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["onnx"])
        w.writeheader()
        w.writerows(rows)
    solved = [r for r in rows if r["verdict"] in ("sat", "unsat")]
    disagree = [r for r in solved if r["agree"] == "False"]
    ours = sum(r["seconds"] for r in solved)
    theirs = sum(r["nnenum_2022_s"] for r in solved if r["nnenum_2022_s"] != "")
    print(f"instances: {len(rows)}, solved: {len(solved)} (sat {sum(r['verdict'] == 'sat' for r in solved)}, "
          f"unsat {sum(r['verdict'] == 'unsat' for r in solved)}), "
          f"timeouts: {sum(r['verdict'] == 'timeout' for r in rows)}, "
          f"unknown: {sum(r['verdict'] == 'unknown' for r in rows)}")
    print(f"agree: {len(solved) - len(disagree)}, disagree: {len(disagree)}, "
          f"witnesses failing the forward pass: {sum(r['witness_checked'] == 'False' for r in rows)}")
    print("per property: decided / instances, ours s (decided), nnenum 2022 s (same instances)")
    for prop_name in sorted({r["vnnlib"] for r in rows}, key=lambda v: int(v.split("_")[1].split(".")[0])):
        mine = [r for r in rows if r["vnnlib"] == prop_name]
        done = [r for r in mine if r["verdict"] in ("sat", "unsat")]
        print(f"  {prop_name}: {len(done)}/{len(mine)}, {sum(r['seconds'] for r in done):.1f} s, "
              f"nnenum {sum(r['nnenum_2022_s'] for r in done if r['nnenum_2022_s'] != ''):.1f} s")
    print(f"time on solved instances: ours {ours:.1f} s, nnenum (VNN-COMP 2022) {theirs:.1f} s; "
          f"wall time {time.perf_counter() - start:.1f} s; written {args.output}")
    return 1 if disagree or any(r["witness_checked"] == "False" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
