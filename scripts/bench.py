#!/usr/bin/env python
"""Region-enumeration benchmark: shallowrelu against a naive baseline, in one run.

Nets are random He-initialised ReLU nets (weights N(0, 2/fan_in), biases
N(0, 0.1^2), fixed seed) over the box [-1, 1]^n. The naive baseline, written
here, walks the same neuron-by-neuron tree but decides every candidate child
with one fresh scipy ``linprog`` Chebyshev LP: no warm model, no bounds, no
carried points.

    python scripts/bench.py                  # default set (a few minutes)
    python scripts/bench.py --nets 4-16,16,16-1 --no-naive
    python scripts/bench.py --nets 2-16,16-1 --no-shallow --jobs-nets 3-16,16-1 --jobs 1 2
    python scripts/bench.py --only scaling   # time per region from 1e3 to 1e5 regions (long)
    python scripts/bench.py --only stream --stream-net 4-28,28,28-1 --jobs 2   # ~1e6 regions, peak RSS
    python scripts/bench.py --only convert   # enumerate, convert, check, export through the CLI (~10 min)
    python scripts/bench.py --only limits    # time limits, signals and memory at any size (~5 min; scikit-learn)

Tables: the main one (regions, LPs per region, time as the best of three runs, the naive baseline);
peers (each tool in its own process, whole-process wall time, counts
compared; a peer that is not installed is skipped and named: ``pip install
'shallowrelu[bench]'``); 2-D against pure polygon splitting (no LP; best of five runs each);
the shallow network; ``--jobs`` (local processes over independent subtrees,
with a check that every run saves the same bytes); and, on request, the
time per region as the work grows and a streamed run's peak memory.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import shallowrelu as sr
from shallowrelu.polytope.polygon import clip_polygon

DEFAULT_NETS = ["2-16,16-1", "2-32,32-1", "3-12,12-1", "4-8,8,8-1"]
NAIVE_DEFAULT = {"2-16,16-1", "3-12,12-1"}


def he_net(spec: str, seed: int = 0) -> sr.ReLUNetwork:
    n, hidden, m = spec.split("-")
    sizes = [int(n)] + [int(w) for w in hidden.split(",")] + [int(m)]
    rng = np.random.default_rng(seed)
    return sr.ReLUNetwork([(rng.normal(size=(b, a)) * np.sqrt(2.0 / a), rng.normal(size=b) * 0.1)
                           for a, b in zip(sizes[:-1], sizes[1:])])


def naive_count(net: sr.ReLUNetwork, box: float = 1.0, min_radius: float = 1e-7) -> tuple[int, int]:
    """(regions, LPs): every candidate child checked by a fresh Chebyshev LP."""
    from scipy.optimize import linprog  # here, not at the top: the peers' processes never need it

    n = net.n_inputs
    G0 = np.vstack([np.eye(n), -np.eye(n)])
    g0 = -np.full(2 * n, box)
    lps = 0

    def has_ball(G, g):
        nonlocal lps
        lps += 1
        norms = np.linalg.norm(G, axis=1, keepdims=True)
        res = linprog(np.append(np.zeros(n), -1.0), A_ub=np.hstack([G, norms]), b_ub=-g,
                      bounds=[(None, None)] * n + [(0, None)], method="highs")
        return res.status == 0 and -res.fun > min_radius

    count = 0
    stack = [(0, 0, G0, g0, np.eye(n), np.zeros(n), [])]
    hidden = net.layers[:-1]
    while stack:
        layer, j, G, g, M_in, v_in, signs = stack.pop()
        W, b = hidden[layer]
        M, v = W @ M_in, W @ v_in + b
        if j == W.shape[0]:
            s = np.array(signs, dtype=float)
            if layer + 1 == len(hidden):
                count += 1
            else:
                stack.append((layer + 1, 0, G, g, M * s[:, None], v * s, []))
            continue
        for active in (True, False):
            a, c = (-M[j], -v[j]) if active else (M[j], v[j])
            if not np.any(a):
                if (v[j] > 0) == active:
                    stack.append((layer, j + 1, G, g, M_in, v_in, signs + [active]))
                continue
            G2, g2 = np.vstack([G, a]), np.append(g, c)
            if has_ball(G2, g2):
                stack.append((layer, j + 1, G2, g2, M_in, v_in, signs + [active]))
    return count, lps


def polygon_count(net: sr.ReLUNetwork, box: float = 1.0, min_radius: float = 1e-7) -> int:
    """Regions of a 2-input net over the square by pure polygon splitting: no LP at all.

    Each polygon carries its pre-activation map; a neuron splits it when
    vertices lie farther than ``min_radius`` on both sides of its line.
    """
    hidden = net.layers[:-1]
    square = box * np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    polys = [(square, np.eye(2), np.zeros(2))]
    for W, b in hidden:
        nxt = []
        for P, M_in, v_in in polys:
            M, v = W @ M_in, W @ v_in + b
            norms = np.linalg.norm(M, axis=1)
            pieces = [(P, [])]
            for j in range(len(b)):
                split = []
                for Q, signs in pieces:
                    vals = (Q @ M[j] + v[j]) / (norms[j] or 1.0)
                    if vals.max() <= min_radius or vals.min() >= -min_radius or norms[j] == 0:
                        split.append((Q, signs + [bool(vals.max() + vals.min() > 0)]))
                    else:
                        split.append((clip_polygon(Q, vals), signs + [False]))
                        split.append((clip_polygon(Q, -vals), signs + [True]))
                pieces = split
            for Q, signs in pieces:
                s = np.array(signs, dtype=float)
                nxt.append((Q, M * s[:, None], v * s))
        polys = nxt
    return len(polys)


def _header(text: str) -> None:
    print()
    print(text)
    print("-" * len(text))


def count_shallowrelu(net: sr.ReLUNetwork) -> int:
    return len(sr.enumerate_regions(net, sr.Box(-1.0, 1.0)))


def count_affinitree(net: sr.ReLUNetwork) -> int:
    """affinitree: distil the net into a decision tree over the box; its terminals are the regions."""
    import affinitree as at
    from affinitree import builder

    arch = at.Architecture(net.n_inputs)
    for k, (W, b) in enumerate(net.layers):
        arch.linear(at.AffFunc.from_mats(np.ascontiguousarray(W), np.ascontiguousarray(b)))
        if k + 1 < len(net.layers):
            arch.relu()
    box = at.Polytope.hyperrectangle(net.n_inputs, [(-1.0, 1.0)] * net.n_inputs)
    tree = builder.from_layers(arch, at.AffTree.from_poly(box, at.AffFunc.identity(net.n_inputs), None))
    return tree.num_terminals()


def count_relucent(net: sr.ReLUNetwork) -> int:
    """relucent: breadth-first search of the cells that meet the cube [-1, 1]^n, one process."""
    import relucent
    from relucent.model.model import LinearLayer, ReLULayer, ReLUNetwork

    layers: list = []
    for k, (W, b) in enumerate(net.layers):
        layers.append(LinearLayer(np.asarray(W, float), np.asarray(b, float)))
        if k + 1 < len(net.layers):
            layers.append(ReLULayer())
    cx = relucent.Complex(ReLUNetwork(layers))
    cx.bfs(cube_radius=1.0, cube_mode="intersect", nworkers=1, verbose=0)
    return len(cx)


TOOLS = {"shallowrelu": count_shallowrelu, "affinitree": count_affinitree, "relucent": count_relucent}


def missing(tool: str) -> str | None:
    """Why a peer cannot run here, or None."""
    if importlib.util.find_spec(tool) is None:
        return "not installed (pip install 'shallowrelu[bench]')"
    return None


def run_tool(tool: str, spec: str, seed: int) -> tuple[int, float]:
    """(regions, whole-process wall seconds) of one tool on one net, in a fresh process."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--one", tool, spec, "--seed", str(seed)],
                         capture_output=True, text=True, check=True)
    secs = time.perf_counter() - t0
    return json.loads(out.stdout.strip().splitlines()[-1])["regions"], secs


def peers_table(specs: list[str], tools: list[str], seed: int) -> None:
    """Every tool on every net, each in its own process; counts compared with ours (run first)."""
    absent = [f"{t} {why}" for t in tools if (why := missing(t))]
    print("\npeers skipped: " + ", ".join(absent) if absent else "\npeers: all installed")
    _header(f"{'net':<16}{'tool':<13}{'regions':>9}{'seconds':>9}{'ms/reg':>8}{'theirs/ours':>13}")
    for spec in specs:
        ours = None
        for tool in ["shallowrelu"] + [t for t in tools if t != "shallowrelu"]:
            if missing(tool):
                continue
            regions, secs = run_tool(tool, spec, seed)
            ours = ours or (regions, secs)
            note = "" if regions == ours[0] else f"  COUNT MISMATCH (shallowrelu {ours[0]})"
            print(f"{spec:<16}{tool:<13}{regions:>9}{secs:>9.2f}{1e3 * secs / regions:>8.3f}"
                  f"{secs / ours[1]:>12.2f}x{note}", flush=True)


def _best_of(repeats: int, fn, *args):
    """(result, least wall seconds) over ``repeats`` runs: small runs on a shared machine vary by a third."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return out, best


def polygon_table(specs: list[str], seed: int, repeats: int = 5) -> None:
    """2-D nets: the general tool (catalogue and certificate included) against bare polygon splitting,
    each the best of ``repeats`` runs."""
    _header(f"{'net':<16}{'regions':>9}{'seconds':>9}{'polygon':>9}{'poly s':>9}{'ours/poly':>11}")
    for spec in specs:
        net = he_net(spec, seed)
        R, secs = _best_of(repeats, count_shallowrelu, net)
        P, psecs = _best_of(repeats, polygon_count, net)
        note = "" if P == R else "  COUNT MISMATCH"
        print(f"{spec:<16}{R:>9}{secs:>9.2f}{P:>9}{psecs:>9.2f}{secs / psecs:>10.2f}x{note}", flush=True)


SCALING = {2: ["2-32,32-1", "2-96,96-1", "2-300,300-1"], 3: ["3-12,12-1", "3-28,28-1", "3-60,60-1"]}


def scaling_table(seed: int) -> None:
    """Time per region as the work grows, per input dimension, and the largest/smallest ratio."""
    _header(f"{'net':<16}{'regions':>9}{'seconds':>9}{'ms/reg':>8}{'LPs/reg':>9}")
    for n, specs in SCALING.items():
        per = []
        for spec in specs:
            t0 = time.perf_counter()
            cat = sr.enumerate_regions(he_net(spec, seed), sr.Box(-1.0, 1.0))
            secs = time.perf_counter() - t0
            per.append(secs / len(cat))
            print(f"{spec:<16}{len(cat):>9}{secs:>9.1f}{1e3 * per[-1]:>8.3f}{cat.info['lps'] / len(cat):>9.2f}",
                  flush=True)
        print(f"{n}-D: time per region, largest/smallest = {max(per) / min(per):.2f}")


def stream_table(spec: str, seed: int, jobs: int) -> None:
    """One CLI run writing its catalogue (streamed to CAT.part as subtrees finish): peak memory per region."""
    print()
    with tempfile.TemporaryDirectory() as d:
        net_path, cat_path = Path(d) / "net.npz", Path(d) / "cat.npz"
        sr.save_network(he_net(spec, seed), net_path)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "shallowrelu", "enumerate", str(net_path), "--box=-1,1",
                              "--jobs", str(jobs), "-o", str(cat_path), "--json"],
                             capture_output=True, text=True, check=True)
        secs = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # the largest process, bytes
        regions = json.loads(out.stdout)["regions"]
        size = cat_path.stat().st_size
    print(f"{spec}: {regions} regions in {secs:.0f} s on {jobs} processes; peak RSS {peak / 2**30:.2f} GiB "
          f"({peak / regions:.0f} bytes/region); catalogue {size / 2**20:.0f} MiB ({size / regions:.0f} bytes/region)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", nargs="+", default=DEFAULT_NETS, metavar="N-H1,H2-M",
                        help="nets to run, e.g. 3-12,12-1 (default: %(default)s)")
    parser.add_argument("--naive", dest="naive", action="store_true", default=None,
                        help="run the naive baseline on every net")
    parser.add_argument("--no-naive", dest="naive", action="store_false", help="skip the naive baseline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-shallow", dest="shallow", action="store_false",
                        help="skip converting to the shallow network and checking it")
    parser.add_argument("--shallow-max-regions", type=int, default=5000,
                        help="convert and check nets with at most this many regions (default %(default)s)")
    parser.add_argument("--jobs-nets", nargs="*", default=["3-16,16-1", "4-16,16,16-1"], metavar="N-H1,H2-M",
                        help="nets for the --jobs table (default: %(default)s; none to skip)")
    parser.add_argument("--jobs", nargs="+", type=int, default=[1, 2], help="process counts to time")
    parser.add_argument("--peer-nets", nargs="*", default=DEFAULT_NETS, metavar="N-H1,H2-M",
                        help="nets for the peers table (default: %(default)s; none to skip)")
    parser.add_argument("--tools", nargs="+", choices=list(TOOLS), default=list(TOOLS),
                        help="tools of the peers table (default: all)")
    parser.add_argument("--polygon-nets", nargs="*", default=["2-16,16-1", "2-32,32-1", "2-64,64-1"],
                        metavar="2-H1,H2-M", help="2-D nets for the polygon-splitting table")
    parser.add_argument("--stream-net", default="4-28,28,28-1", metavar="N-H1,H2-M",
                        help="net of the stream table (default %(default)s)")
    parser.add_argument("--convert-nets", nargs="*", default=DEFAULT_NETS + ["4-16,16,16-1"], metavar="N-H1,H2-M",
                        help="random nets of the convert table, besides ACAS Xu 1_1 (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="the folder of third-party data, holding acasxu/ (and mnist_fc/ for --only limits) "
                             "(default: %(default)s)")
    parser.add_argument("--only", choices=["main", "peers", "polygon", "jobs", "scaling", "stream", "convert", "limits"],
                        help="print only this table")
    parser.add_argument("--one", nargs=2, metavar=("TOOL", "NET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a child process of the peers table
        warnings.simplefilter("ignore")
        print(json.dumps({"regions": TOOLS[args.one[0]](he_net(args.one[1], args.seed))}))
        return
    # The compiled kernels (the fast extra) load once per process: not in any net's time.
    sr.enumerate_regions(he_net("3-4,4-1", 0), sr.Box(-1.0, 1.0))
    if args.only == "scaling":
        return scaling_table(args.seed)
    if args.only == "stream":
        return stream_table(args.stream_net, args.seed, args.jobs[-1])
    if args.only == "convert":
        acas = args.data / "acasxu"
        if not (acas / "prop_3.vnnlib").is_file():
            parser.exit(1, f"bench.py: {acas}: no ACAS Xu data there; give the folder with --data\n")
        return convert_table(args.convert_nets, args.seed, acas)
    if args.only == "limits":
        if not (args.data / "mnist_fc" / "onnx").is_dir() or not (args.data / "acasxu").is_dir():
            parser.exit(1, f"bench.py: {args.data}: no mnist_fc/ and acasxu/ there; give the folder with --data\n")
        from bench_limits import limits_table

        return limits_table(args.data)
    if args.only in (None, "main"):
        main_table(args)
    if args.only in (None, "peers") and args.peer_nets:
        peers_table(args.peer_nets, args.tools, args.seed)
    if args.only in (None, "polygon") and args.polygon_nets:
        polygon_table(args.polygon_nets, args.seed)
    if args.only in (None, "jobs") and args.jobs_nets:
        jobs_table(args.jobs_nets, args.jobs, args.seed)


def main_table(args: argparse.Namespace) -> None:
    """Regions, LPs per region and time per net; the naive baseline; then the shallow networks.

    Our time is the best of three runs (the first in a process also loads the
    compiled kernels, which the whole-process peers table counts); the
    naive baseline runs once, its tens of seconds averaging out the noise.
    """
    specs = args.nets
    _header(f"{'net':<16}{'regions':>9}{'LPs':>9}{'LPs/reg':>9}{'seconds':>9}{'ms/reg':>8}"
            f"{'naive s':>10}{'naive LPs':>11}{'speed-up':>10}")
    catalogues = {}
    for spec in specs:
        net = he_net(spec, args.seed)
        cat, secs = _best_of(3, sr.enumerate_regions, net, sr.Box(-1.0, 1.0))
        R, lps = len(cat), cat.info["lps"]
        row = f"{spec:<16}{R:>9}{lps:>9}{lps / R:>9.2f}{secs:>9.2f}{1e3 * secs / R:>8.2f}"
        if args.naive or (args.naive is None and spec in NAIVE_DEFAULT):
            t0 = time.perf_counter()
            count, naive_lps = naive_count(net)
            naive_secs = time.perf_counter() - t0
            agree = "" if count == R else f"  COUNT MISMATCH naive {count}"
            row += f"{naive_secs:>10.2f}{naive_lps:>11}{naive_secs / secs:>9.1f}x{agree}"
        print(row + ("" if cat.info["complete"] else "  (certificate FAILED)"), flush=True)
        catalogues[spec] = (net, cat)
    if args.shallow:
        shallow_table(catalogues, args.shallow_max_regions)


def jobs_table(specs: list[str], jobs: list[int], seed: int) -> None:
    """Wall time per number of processes (catalogue and certificate included), and byte identity."""
    _header(f"{'net':<16}{'regions':>9}{'jobs':>6}{'seconds':>9}{'speed-up':>10}  same bytes as jobs={jobs[0]}")
    for spec in specs:
        net = he_net(spec, seed)
        first = base = None
        for j in jobs:
            t0 = time.perf_counter()
            cat = sr.enumerate_regions(net, sr.Box(-1.0, 1.0), jobs=j)
            secs = time.perf_counter() - t0
            with tempfile.TemporaryDirectory() as d:
                cat.save(Path(d) / "c.npz")
                data = (Path(d) / "c.npz").read_bytes()
            first = data if first is None else first
            base = secs if base is None else base
            print(f"{spec:<16}{len(cat):>9}{j:>6}{secs:>9.2f}{base / secs:>9.2f}x  {data == first}", flush=True)


def shallow_table(catalogues: dict, max_regions: int) -> None:
    """Convert each catalogue (faces mode) and check it against the deep network."""
    _header(f"{'net':<16}{'regions':>9}{'faces':>9}{'layer 1':>9}{'layer 2':>9}{'inf w':>10}"
            f"{'build s':>9}{'check s':>9}{'probes':>8}{'max rel err':>13}")
    for spec, (net, cat) in catalogues.items():
        if len(cat) > max_regions:
            print(f"{spec:<16}{len(cat):>9}  (skipped: more than {max_regions} regions)")
            continue
        t0 = time.perf_counter()
        shallow = sr.build_shallow(cat, mode="faces")
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = sr.check_equivalence(net, shallow, cat)
        check = time.perf_counter() - t0
        z = shallow.sizes
        print(f"{spec:<16}{len(cat):>9}{shallow.info['gates']:>9}{z['layer1']:>9}{z['layer2']:>9}"
              f"{z['inf_weights']:>10}{build:>9.2f}{check:>9.2f}{sum(report.counts.values()):>8}"
              f"{report.max_rel:>13.2e}" + ("" if report.passed else "  FAILED"), flush=True)


DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _cli(*args: str) -> dict:
    """Run one ``shallowrelu`` command in its own process and return its ``--json`` payload."""
    out = subprocess.run([sys.executable, "-m", "shallowrelu", *args, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"shallowrelu {' '.join(args)} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def convert_table(specs: list[str], seed: int, acas: Path) -> None:
    """The whole path through the CLI, each command its own process: enumerate (the pace to keep),
    convert, check and export, with seconds, sizes and each process's peak RSS."""
    from shallowrelu.verification.vnnlib import load_vnnlib

    _header(f"{'net':<22}{'regions':>8}{'gates':>8}{'layer 1':>8}{'layer 2':>9}{'non-zeros':>11}{'file MB':>8}"
            f"{'enum s':>7}{'conv s':>7}{'conv MB':>8}{'check s':>8}{'check MB':>9}{'max rel':>9}"
            f"{'export s':>9}{'onnx MB':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        for spec in specs:
            net_path = Path(tmp) / f"{spec}.npz"
            sr.save_network(he_net(spec, seed), net_path)
            cases.append((spec, str(net_path), ["--box=-1,1"]))
        for prop in (3, 4):
            term = load_vnnlib(acas / f"prop_{prop}.vnnlib").terms[0]
            box = Path(tmp) / f"prop_{prop}_box.npz"
            np.savez(box, lo=term.lo, hi=term.hi)
            cases.append((f"ACAS 1_1 prop_{prop}", str(acas / "ACASXU_run2a_1_1_batch_2000.onnx"),
                          ["--bounds", str(box)]))
        for name, net_path, domain in cases:
            cat, shallow, graph = (str(Path(tmp) / f"{k}.{ext}") for k, ext in
                                   (("cat", "npz"), ("shallow", "npz"), ("shallow", "onnx")))
            enum = _cli("enumerate", net_path, *domain, "-o", cat)
            conv = _cli("convert", cat, "--mode", "faces", "-o", shallow)  # the table is of faces mode
            check = _cli("check", cat, shallow)
            export = _cli("export", shallow, "-o", graph)
            z = conv["sizes"]
            print(f"{name:<22}{enum['regions']:>8}{conv['gates']:>8}{z['layer1']:>8}{z['layer2']:>9}"
                  f"{z['nonzero_weights']:>11}{conv['file_bytes'] / 1e6:>8.1f}{enum['seconds']:>7.1f}"
                  f"{conv['seconds']:>7.1f}{conv['peak_rss_mb']:>8.0f}{check['seconds']:>8.1f}"
                  f"{check['peak_rss_mb']:>9.0f}{check['max_rel']:>9.1e}{export['seconds']:>9.1f}"
                  f"{export['file_bytes'] / 1e6:>8.1f}" + ("" if check["passed"] else "  FAILED"), flush=True)


if __name__ == "__main__":
    main()
