#!/usr/bin/env python
"""Fuzz the enumerator and the builder on many generated degenerate nets.

Each net (1-D to 3-D input by default, one or two hidden layers, with duplicate,
scaled and flipped neurons, zero rows, dead and always-active neurons,
parallel and concurrent hyperplanes, slivers near the tolerance and weights
from 1e-6 to 1e6) is enumerated over [-1, 1]^n and compared with the
independent oracles of tests/oracles.py (interval splitting, polygon
splitting, sampling); its completeness certificate must hold and its
shallow network (faces mode) must pass the equivalence check.

    python scripts/fuzz.py --nets 1000            # prints a summary; exit 1 on any mismatch
    python scripts/fuzz.py --nets 300 --dims 4 5  # the vertex search in 4-D and 5-D against LPs alone
    python scripts/fuzz.py --nets 300 --dims 1 2 --exact   # also against the exact rational oracle

``--exact`` also compares the regions with those of interval or polygon
splitting in exact rational arithmetic (the float64 weights taken as exact
numbers), which finds every region of positive length or area however thin.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import numpy as np

import shallowrelu as sr
from shallowrelu.enumerator import search
from shallowrelu.testing.nets import fuzz_net
from shallowrelu.testing.oracles import compare_with_exact, compare_with_oracle


def _against_lps(net: sr.ReLUNetwork, cat: sr.Catalogue) -> list[str]:
    """Differences from the same search deciding every split by LPs, with no vertices carried."""
    keep = search._VERTEX_MAX_DIM
    search._VERTEX_MAX_DIM = 0
    try:
        lp = sr.enumerate_regions(net, sr.Box(-1, 1))
    finally:
        search._VERTEX_MAX_DIM = keep
    ours, theirs = set(map(bytes, cat.table.patterns)), set(map(bytes, lp.table.patterns))
    if ours == theirs:
        return []
    return [f"patterns differ from the LP search: {len(ours - theirs)} only here, {len(theirs - ours)} only there"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nets", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1, help="first seed; nets use seed, seed+1, ...")
    p.add_argument("--dims", type=int, nargs="+", default=[1, 2, 3], choices=range(1, 6),
                   help="input dimensions, taken in turn (default: 1 2 3); from 4-D the oracle is sampling "
                        "and the same search by LPs alone, without carried vertices")
    p.add_argument("--exact", action="store_true",
                   help="1-D and 2-D nets: also compare with the exact rational oracle (every region, however thin)")
    args = p.parse_args()
    tol = sr.Tolerances()
    start = time.perf_counter()
    failures, regions, thin = [], 0, 0
    kinds = Counter()
    for k in range(args.nets):
        seed = args.seed + k
        n, depth = args.dims[seed % len(args.dims)], 1 + (seed // len(args.dims)) % 2
        kinds[(n, depth)] += 1
        net = fuzz_net(seed, n, depth=depth)
        try:
            cat = sr.enumerate_regions(net, sr.Box(-1, 1))
            problems = compare_with_oracle(cat, net, n, tol.min_radius, np.random.default_rng(seed))
            if not cat.info["complete"]:
                problems.append(f"certificate failed: {cat.info['certificate']}")
            if n >= 4:
                problems += _against_lps(net, cat)
            if args.exact and n <= 2:
                problems += compare_with_exact(cat, net, n, tol.resolution)
            report = sr.check_equivalence(net, sr.build_shallow(cat), cat, samples=300)
            if not report.passed:
                problems.append(f"shallow network differs: max rel error {report.max_rel:.3g}")
            regions += len(cat)
            thin += cat.info["thin"]
        except Exception as exc:  # noqa: BLE001 - a crash is a finding too; keep fuzzing
            problems = [f"{type(exc).__name__}: {str(exc).splitlines()[0]}"]
        if problems:
            failures.append((seed, n, depth, problems))
            print(f"seed {seed} (n={n}, depth={depth}): {problems}", flush=True)
        if (k + 1) % 100 == 0:
            print(f"{k + 1} nets, {len(failures)} mismatches, {time.perf_counter() - start:.0f} s", flush=True)
    print(f"nets tried: {args.nets} ({', '.join(f'{n}-D depth {d}: {c}' for (n, d), c in sorted(kinds.items()))})")
    print(f"regions: {regions}, thin slivers reported: {thin}")
    print(f"mismatches: {len(failures)}")
    print(f"seconds: {time.perf_counter() - start:.1f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
