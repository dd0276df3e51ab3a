#!/usr/bin/env python
"""Region-enumeration benchmark: shallowrelu against a naive baseline, in one run.

Nets are random He-initialised ReLU nets (weights N(0, 2/fan_in), biases
N(0, 0.1^2), fixed seed) over the box [-1, 1]^n. The naive baseline, written
here, walks the same neuron-by-neuron tree but decides every candidate child
with one fresh scipy ``linprog`` Chebyshev LP: no warm model, no bounds, no
carried points.

    python scripts/bench.py                  # default set
    python scripts/bench.py --nets 4-16,16,16-1 --no-naive
    python scripts/bench.py --nets 2-16,16-1 --no-shallow --jobs-nets 3-16,16-1 --jobs 1 2

The last table times ``--jobs`` (local processes over independent subtrees)
on the same net and checks that every run saves the same bytes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linprog

import shallowrelu as sr

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
    parser.add_argument("--jobs-nets", nargs="*", default=["3-16,16-1"], metavar="N-H1,H2-M",
                        help="nets for the --jobs table (default: %(default)s; none to skip)")
    parser.add_argument("--jobs", nargs="+", type=int, default=[1, 2], help="process counts to time")
    args = parser.parse_args()
    specs = args.nets
    header = (f"{'net':<16}{'regions':>9}{'LPs':>9}{'LPs/reg':>9}{'seconds':>9}{'ms/reg':>8}"
              f"{'naive s':>10}{'naive LPs':>11}{'speed-up':>10}")
    print(header)
    print("-" * len(header))
    catalogues = {}
    for spec in specs:
        net = he_net(spec, args.seed)
        t0 = time.perf_counter()
        cat = sr.enumerate_regions(net, sr.Box(-1.0, 1.0))
        secs = time.perf_counter() - t0
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
    if args.jobs_nets:
        jobs_table(args.jobs_nets, args.jobs, args.seed)


def jobs_table(specs: list[str], jobs: list[int], seed: int) -> None:
    """Wall time per number of processes (catalogue and certificate included), and byte identity."""
    print()
    header = f"{'net':<16}{'regions':>9}{'jobs':>6}{'seconds':>9}{'speed-up':>10}  same bytes as jobs={jobs[0]}"
    print(header)
    print("-" * len(header))
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
    print()
    header = (f"{'net':<16}{'regions':>9}{'faces':>9}{'layer 1':>9}{'layer 2':>9}{'inf w':>10}"
              f"{'build s':>9}{'check s':>9}{'probes':>8}{'max rel err':>13}")
    print(header)
    print("-" * len(header))
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


if __name__ == "__main__":
    main()
