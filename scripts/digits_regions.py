#!/usr/bin/env python
"""Linear regions of digit classifiers on planes and segments through the data, as training goes on.

A worked research example (the kind of study SplineCam and the region-counting
papers make): scikit-learn's 8x8 digits (shipped with scikit-learn, nothing is
downloaded), an MLP (scikit-learn, 64-32-32-10) and a small CNN with max-pooling
(PyTorch 2.13.0, the ``torch`` extra: conv 4x3x3, ReLU, 2x2 max-pool, linear).
At each training checkpoint every region is enumerated exactly

- on the plane through three images of different digits (the triangle and a
  margin of 0.25 around it),
- along the segment between two images of different digits,

and the counts, the time each search took and the completeness certificate are
printed and written to a CSV; the regions of the last checkpoint's planes are
drawn, coloured by region, and the counts by checkpoint plotted.

    python scripts/digits_regions.py                      # about a minute and a half on 2 cores
    python scripts/digits_regions.py --out docs/digits --triples 2
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import shallowrelu as sr
from shallowrelu.plot import plot_partition

MLP_CHECKPOINTS = (1, 10, 40, 150)      # epochs of scikit-learn's adam
CNN_CHECKPOINTS = (0, 2, 8, 30)         # epochs of torch's adam


def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def triples(X: np.ndarray, y: np.ndarray, k: int) -> list[tuple[int, int, int]]:
    """``k`` triples of images of three different digits (the first images of digits 0-1-2, 3-4-5, ...)."""
    first = [int(np.flatnonzero(y == d)[0]) for d in range(10)]
    return [tuple(first[3 * i:3 * i + 3]) for i in range(k)]


def mlp_checkpoints(X: np.ndarray, y: np.ndarray):
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(32, 32), warm_start=True, random_state=0, max_iter=1)
    done = 0
    for epochs in MLP_CHECKPOINTS:
        clf.set_params(max_iter=epochs - done)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a checkpoint stops before convergence on purpose
            clf.fit(X, y)
        done = epochs
        yield epochs, float(clf.score(X, y)), sr.from_sklearn(clf)


def cnn_checkpoints(X: np.ndarray, y: np.ndarray):
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    images, labels = torch.tensor(X, dtype=torch.float32).reshape(-1, 1, 8, 8), torch.tensor(y)
    done = 0
    for epochs in CNN_CHECKPOINTS:
        model.train()
        for _ in range(epochs - done):
            for batch in torch.randperm(len(X)).split(64):
                opt.zero_grad()
                nn.functional.cross_entropy(model(images[batch]), labels[batch]).backward()
                opt.step()
        done = epochs
        model.eval()
        with torch.no_grad():
            accuracy = float((model(images).argmax(1) == labels).float().mean())
        yield epochs, accuracy, sr.from_torch(model, (1, 8, 8))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("digits_regions"), help="folder for the CSV and pictures")
    p.add_argument("--triples", type=int, default=2, help="planes per checkpoint (default 2)")
    p.add_argument("--no-cnn", action="store_true", help="skip the CNN (no torch needed)")
    args = p.parse_args()
    X, y = digits()
    args.out.mkdir(parents=True, exist_ok=True)
    planes = triples(X, y, args.triples)
    segments = [(a, b) for a, b, _ in planes] + [(b, c) for _, b, c in planes]
    models = [("MLP 64-32-32-10", mlp_checkpoints(X, y))]
    if not args.no_cnn:
        models.append(("CNN conv4-maxpool-10", cnn_checkpoints(X, y)))
    rows, last = [], {}
    print(f"{'model':<22}{'epochs':>7}{'acc':>7}  {'domain':<22}{'regions':>8}{'seconds':>9}  complete")
    for name, checkpoints in models:
        for epochs, accuracy, net in checkpoints:
            domains = [(f"plane {a}-{b}-{c} (digits {y[a]}{y[b]}{y[c]})", sr.Slice.plane(X[a], X[b], X[c]))
                       for a, b, c in planes]
            domains += [(f"segment {a}-{b} ({y[a]}->{y[b]})", sr.Slice.segment(X[a], X[b])) for a, b in segments]
            for label, domain in domains:
                start = time.perf_counter()
                cat = sr.enumerate_regions(net, domain)
                seconds = time.perf_counter() - start
                complete = bool(cat.info["complete"])
                print(f"{name:<22}{epochs:>7}{accuracy:>7.3f}  {label:<22}{len(cat):>8}{seconds:>9.2f}  {complete}",
                      flush=True)
                rows.append({"model": name, "epochs": epochs, "accuracy": accuracy, "domain": label,
                             "regions": len(cat), "seconds": round(seconds, 3), "complete": complete})
                if label.startswith("plane"):
                    last[(name, label)] = (cat, epochs)
    with open(args.out / "digits_regions.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for i, ((name, label), (cat, epochs)) in enumerate(last.items()):
        plot_partition(cat, args.out / f"plane_{i}.png", title=f"{name}, {epochs} epochs: {len(cat)} regions on "
                       f"the {label.split(' (')[0]}", labels=("t1", "t2"))
    _chart(rows, args.out / "counts.png")
    print(f"wrote {args.out / 'digits_regions.csv'}, the planes' pictures and {args.out / 'counts.png'}")
    return 0 if all(r["complete"] for r in rows) else 1


def _chart(rows: list[dict], path: Path) -> None:
    """Regions against training epochs, one line per model and domain."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    for key in sorted({(r["model"], r["domain"]) for r in rows}):
        pts = [(r["epochs"], r["regions"]) for r in rows if (r["model"], r["domain"]) == key]
        ax.plot(*zip(*pts), "o-" if key[1].startswith("plane") else "s--", label=f"{key[0]}: {key[1]}")
    ax.set_yscale("log")
    ax.set_xlabel("training epochs")
    ax.set_ylabel("activation regions")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
