#!/usr/bin/env python
"""Region count against width and depth, random versus briefly trained nets, in 2-D.

The experiment shape of Hanin and Rolnick ("Complexity of linear regions in
deep networks", 2019) and Serra et al. (2018): count the exact activation
regions over [-1, 1]^2 of He-initialised nets of several widths and depths,
then of the same nets after a short full-batch training on a 2-D task (two
interleaved spirals, numpy only), and see how the count grows with the
number of neurons and what training does to it.

    python scripts/region_counts.py -o out/region_counts      # writes .csv and .png
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

import shallowrelu as sr


def he_layers(sizes, rng):
    return [(rng.normal(size=(b, a)) * np.sqrt(2.0 / a), np.zeros(b)) for a, b in zip(sizes[:-1], sizes[1:])]


def spirals(k: int, rng) -> tuple[np.ndarray, np.ndarray]:
    t = np.sqrt(rng.random(k)) * 3 * np.pi
    sign = rng.choice([-1.0, 1.0], size=k)
    X = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) * sign[:, None] / (3 * np.pi)
    return X + 0.02 * rng.normal(size=X.shape), (sign > 0).astype(float)


def train(layers, X, y, steps: int, lr: float):
    """Full-batch gradient descent on the logistic loss, plain numpy backprop."""
    layers = [(W.copy(), b.copy()) for W, b in layers]
    for _ in range(steps):
        hs, zs = [X], []
        for W, b in layers[:-1]:
            zs.append(hs[-1] @ W.T + b)
            hs.append(np.maximum(zs[-1], 0))
        W, b = layers[-1]
        out = (hs[-1] @ W.T + b)[:, 0]
        g = (1 / (1 + np.exp(-out)) - y)[:, None] / len(y)   # d loss / d out
        grads = []
        for i in range(len(layers) - 1, -1, -1):
            W, b = layers[i]
            grads.append((g.T @ hs[i], g.sum(axis=0)))
            if i:
                g = (g @ W) * (zs[i - 1] > 0)
        for i, (gW, gb) in enumerate(reversed(grads)):
            W, b = layers[i]
            layers[i] = (W - lr * gW, b - lr * gb)
    return layers


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", default="region_counts", help="path prefix of the .csv and .png")
    p.add_argument("--widths", type=int, nargs="+", default=[4, 8, 16])
    p.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    rng_data = np.random.default_rng(0)
    X, y = spirals(512, rng_data)
    rows = []
    for depth in args.depths:
        for width in args.widths:
            for seed in range(args.seeds):
                sizes = [2] + [width] * depth + [1]
                init = he_layers(sizes, np.random.default_rng(seed))
                for kind, layers in (("random", init), ("trained", train(init, X, y, args.steps, 0.5))):
                    t0 = time.perf_counter()
                    cat = sr.enumerate_regions(sr.ReLUNetwork(layers), sr.Box(-1.0, 1.0))
                    rows.append({"kind": kind, "depth": depth, "width": width, "neurons": depth * width,
                                 "seed": seed, "regions": len(cat), "complete": cat.info["complete"],
                                 "seconds": round(time.perf_counter() - t0, 3)})
                    print(rows[-1], flush=True)
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for kind, marker in (("random", "o"), ("trained", "s")):
        for depth in args.depths:
            pts = {}
            for r in rows:
                if r["kind"] == kind and r["depth"] == depth:
                    pts.setdefault(r["neurons"], []).append(r["regions"])
            xs = sorted(pts)
            ax.plot(xs, [np.mean(pts[x]) for x in xs], marker=marker,
                    linestyle="-" if kind == "random" else "--", label=f"{kind}, depth {depth}")
    ax.set_xlabel("hidden neurons (width x depth)")
    ax.set_ylabel("activation regions in [-1, 1]^2")
    ax.set_yscale("log")
    ax.set_title("Exact region counts, random vs briefly trained")
    ax.legend(fontsize=8)
    fig.savefig(out.with_suffix(".png"), dpi=100)
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
