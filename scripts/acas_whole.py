#!/usr/bin/env python
"""ACAS Xu 1_1 over its whole input domain: the scale run, and its cross-checks.

The domain is the network's normalised input box (the .nnet file's minima
and maxima, normalised by its means and ranges): [-0.3284, 0.6799] x [-0.5, 0.5]^4.

    python scripts/acas_whole.py run --jobs 2              # enumerate to OUT/acas_1_1_whole.parquet
    python scripts/acas_whole.py run --jobs 2 --resume     # go on after Ctrl-C, a crash or --time-limit
    python scripts/acas_whole.py status                    # what the chunk log of an unfinished run holds
    python scripts/acas_whole.py check                     # the two cross-checks below (needs affinitree)
    python scripts/acas_whole.py ray                       # a sub-box on a two-node Ray cluster vs local

``run`` starts the CLI in its own process and prints its wall time and the
peak memory of the whole process tree (the run and its workers, summed,
sampled twice a second). ``check`` cross-checks the catalogue two ways:
the activation patterns of a million random points of the domain, whose
distinct count is a lower bound on the region count and each of which must
be a catalogued region (a point may miss only in a sliver thinner than
min_radius); and the counts on small random sub-boxes against affinitree,
an independent enumerator. ``ray`` starts a head and a worker node on this
machine (one CPU each), enumerates a sub-box whose chunks hand on parts
there and locally, and compares the two files' bytes.

Reads the network from ../shared/data/acasxu (see --data).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import shallowrelu as sr

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "acasxu"
NET = "ACASXU_run2a_1_1_batch_2000.onnx"
# The .nnet header's input minima and maxima, normalised by its means and ranges.
LO = np.array([(0.0 - 19791.091) / 60261.0, -0.5, -0.5, -0.5, -0.5])
HI = np.array([(60760.0 - 19791.091) / 60261.0, 0.5, 0.5, 0.5, 0.5])


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and every process below it."""
    parents, rss = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            parents[int(entry.name)], rss[int(entry.name)] = int(fields[1]), int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            continue
    tree, frontier = {pid}, [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return sum(rss.get(p, 0) for p in tree)


def run(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    bounds = args.out / "whole_box.npz"
    np.savez(bounds, lo=LO, hi=HI)
    cat = args.out / "acas_1_1_whole.parquet"
    cmd = [sys.executable, "-m", "shallowrelu", "enumerate", str(args.data / NET), "--bounds", str(bounds),
           "--jobs", str(args.jobs), "-o", str(cat), "--json", "--no-progress"]
    cmd += ["--resume"] * args.resume + (["--time-limit", str(args.time_limit)] if args.time_limit else [])
    start, peak = time.monotonic(), 0
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out)
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.5)
        wall = time.monotonic() - start
        out.seek(0)
        text = out.read().decode()
    summary = json.loads(text) if text.strip() else {}
    print(f"command: {' '.join(cmd)}")
    print(f"exit {proc.returncode}; wall {wall:.0f} s; peak memory of the process tree {peak / 2**30:.2f} GiB")
    for key in ("regions", "complete", "interrupted", "lps", "thin", "exact_decisions", "below_resolution"):
        print(f"  {key}: {summary.get(key)}")
    if summary.get("certificate"):
        print("  certificate: " + json.dumps(summary["certificate"]))
    return proc.returncode


def status(args: argparse.Namespace) -> int:
    """Chunks, regions and open parts in the chunk log of an unfinished run (read without its regions)."""
    from shallowrelu.catalogue import ChunkLog

    log = ChunkLog.read(args.out / "acas_1_1_whole.parquet.part", regions=False)
    chunks = log.info["chunks"]
    print(f"{len(chunks):,} chunks finished, {sum(c[1] for c in chunks):,} regions, largest {max(c[1] for c in chunks):,}; "
          f"{len(log.frontier):,} parts open; parts nest {max(len(c[0]) for c in chunks) - 1} deep")
    return 0


def _affinitree_count(net: sr.ReLUNetwork, lo: np.ndarray, hi: np.ndarray) -> int:
    """Terminals of affinitree's decision tree of ``net`` over the box: its region count there."""
    import affinitree as at
    from affinitree import builder

    arch = at.Architecture(net.n_inputs)
    for k, (W, b) in enumerate(net.layers):
        arch.linear(at.AffFunc.from_mats(np.ascontiguousarray(W), np.ascontiguousarray(b)))
        if k + 1 < len(net.layers):
            arch.relu()
    box = at.Polytope.hyperrectangle(net.n_inputs, list(zip(lo.tolist(), hi.tolist())))
    return builder.from_layers(arch, at.AffTree.from_poly(box, at.AffFunc.identity(net.n_inputs), None)).num_terminals()


def check(args: argparse.Namespace) -> int:
    net = sr.load_network(args.data / NET)
    cat = sr.Catalogue.load(args.out / "acas_1_1_whole.parquet")
    print(f"catalogue: {len(cat):,} regions, complete {cat.info.get('complete')}")
    width = net.n_neurons // 8 + (net.n_neurons % 8 > 0)
    catalogued = np.sort(np.concatenate([t.patterns for t in cat.chunks()]).view(f"V{width}").ravel())
    rng = np.random.default_rng(args.seed)
    seen, missing = set(), 0
    for _ in range(args.points // 100_000):
        X = LO + (HI - LO) * rng.random((100_000, 5))
        keys = np.ascontiguousarray(np.packbits(net.patterns(X), axis=1)).view(f"V{width}").ravel()
        missing += int((~np.isin(keys, catalogued)).sum())
        seen.update(keys.tolist())
    print(f"{args.points:,} random points: {len(seen):,} distinct patterns (a lower bound; the catalogue has "
          f"{len(cat):,}), {missing} points whose pattern is not catalogued")
    bad = int(len(seen) > len(cat)) + int(missing > 0)
    print(f"sub-boxes of side {args.side} against affinitree:")
    for k in range(args.boxes):
        lo = LO + (HI - LO - args.side) * rng.random(5)
        hi = lo + args.side
        t = time.perf_counter()
        ours = len(sr.enumerate_regions(net, sr.Box(lo, hi)))
        mid = time.perf_counter()
        theirs = _affinitree_count(net, lo, hi)
        print(f"  box {k}: shallowrelu {ours:,} ({mid - t:.1f} s), affinitree {theirs:,} "
              f"({time.perf_counter() - mid:.1f} s){'' if ours == theirs else '  MISMATCH'}")
        bad += ours != theirs
    return int(bad > 0)


def ray_check(args: argparse.Namespace) -> int:
    """A sub-box enumerated on a two-node Ray cluster (two raylets on this machine) and locally."""
    import ray

    net = sr.load_network(args.data / NET)
    lo = (LO + HI) / 2 - args.ray_side / 2
    box = sr.Box(lo, lo + args.ray_side)
    local = sr.enumerate_regions(net, box, jobs=2)
    ray_cli = str(Path(sys.executable).parent / "ray")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, RAY_AUTH_MODE="disabled")
        subprocess.run([ray_cli, "start", "--head", "--num-cpus=1", "--port=6399", "--include-dashboard=false"],
                       check=True, env=env, capture_output=True)
        try:
            subprocess.run([ray_cli, "start", "--address=127.0.0.1:6399", "--num-cpus=1"], check=True, env=env,
                           capture_output=True)
            ray.init(address="127.0.0.1:6399", log_to_driver=False)
            nodes = [n for n in ray.nodes() if n["Alive"]]
            cluster = sr.enumerate_regions(net, box, backend="ray")
            ray.shutdown()
        finally:
            subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True)
        local.save(Path(tmp) / "local.npz")
        cluster.save(Path(tmp) / "ray.npz")
        same = (Path(tmp) / "local.npz").read_bytes() == (Path(tmp) / "ray.npz").read_bytes()
    parts = sum(1 for c in local.info["chunks"] if len(c[0]) > 1)
    print(f"sub-box of side {args.ray_side}: {len(local):,} regions, {len(local.info['chunks'])} chunks of which "
          f"{parts} handed on; Ray on {len(nodes)} nodes gives {len(cluster):,} regions, "
          f"same bytes as local: {same}")
    return int(not same)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["run", "status", "check", "ray"])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=Path("acas_whole"), help="folder of the catalogue (default ./acas_whole)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--time-limit", type=float)
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--boxes", type=int, default=5)
    p.add_argument("--side", type=float, default=0.05)
    p.add_argument("--ray-side", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    return {"run": run, "status": status, "check": check, "ray": ray_check}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
