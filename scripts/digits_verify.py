#!/usr/bin/env python
"""Robustness of a digits CNN, decided by every method of ``verify``: is the default behind its best method?

A network as a user would train it: scikit-learn's 8x8 digits (shipped with
scikit-learn, nothing is downloaded), a CNN in PyTorch 2.13.0 (the ``torch``
extra) with a convolution, batch normalisation, a residual block and 2x2
max-pooling (64 inputs, 10 outputs), exported to ONNX as it is. For the first
test image of each of ``--images`` digits and each ``--eps``, a VNN-LIB
property says some other class scores at least as high as the true one on
the L-inf ball of radius eps (clipped to [0, 1]); each instance runs through
the command line, a whole process per method, and the table gives each
method's verdict and time, and whether the default is within 2x + 2 s of the
fastest method that decided it.

    python scripts/digits_verify.py                         # about five minutes on 2 cores
    python scripts/digits_verify.py --eps 0.01 --images 3 --methods bab milp
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

METHODS = ("bab", "neuron", "milp")


def train(seed: int = 0):
    """The CNN trained for 15 epochs on the first 1,500 digits, in eval mode; the held-out images and labels."""
    import torch
    from sklearn.datasets import load_digits
    from torch import nn

    class Residual(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                                      nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c))

        def forward(self, x):
            return torch.relu(x + self.body(x))

    torch.manual_seed(seed)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), Residual(4),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))
    images, labels = torch.tensor(X[:1500]).reshape(-1, 1, 8, 8), torch.tensor(y[:1500])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(15):
        model.train()
        for batch in torch.randperm(len(images)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(images[batch]), labels[batch]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(torch.tensor(X[1500:]).reshape(-1, 1, 8, 8)).argmax(1).numpy() == y[1500:]).mean())
    return model, X[1500:], y[1500:], accuracy


def vnnlib(x: np.ndarray, label: int, eps: float) -> str:
    """Some other class scores at least as high as ``label`` on the ball of radius ``eps`` around ``x``."""
    lines = [f"(declare-const X_{i} Real)" for i in range(x.size)] + [f"(declare-const Y_{j} Real)" for j in range(10)]
    for i, v in enumerate(x):
        lines += [f"(assert (>= X_{i} {max(0.0, float(v) - eps)!r}))", f"(assert (<= X_{i} {min(1.0, float(v) + eps)!r}))"]
    lines.append("(assert (or " + " ".join(f"(and (>= Y_{j} Y_{label}))" for j in range(10) if j != label) + "))")
    return "\n".join(lines) + "\n"


def run(onnx: Path, prop: Path, method: str, timeout: float, jobs: int) -> tuple[str, float, str]:
    """``shallowrelu verify`` as a whole process: verdict, wall seconds, what decided."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "verify", str(onnx), str(prop), "--timeout",
                           str(timeout), "--jobs", str(jobs), "--method", method, "--json"],
                          capture_output=True, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        return "error", seconds, proc.stderr.strip()[-120:]
    out = json.loads(proc.stdout)
    return out["verdict"], seconds, out["decided_by"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--eps", type=float, nargs="+", default=[0.001, 0.01, 0.03])
    p.add_argument("--images", type=int, default=4, help="digits 0, 1, ... whose first test image is used")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    import torch

    model, X, y, accuracy = train()
    print(f"digits CNN (conv, batch norm, residual block, max-pool): test accuracy {accuracy:.3f}")
    behind = 0
    with tempfile.TemporaryDirectory() as tmp:
        onnx = Path(tmp) / "digits_cnn.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's notice that it is not the default
            torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), str(onnx), dynamo=False)
        print("| image | eps | " + " | ".join(args.methods) + " | default within 2x + 2 s |")
        print("| --- | --- | " + " | ".join("---" for _ in args.methods) + " | --- |")
        for digit in range(args.images):
            i = int(np.flatnonzero(y == digit)[0])
            for eps in args.eps:
                prop = Path(tmp) / f"img{i}_{eps}.vnnlib"
                prop.write_text(vnnlib(X[i], int(y[i]), eps))
                got = {m: run(onnx, prop, m, args.timeout, args.jobs) for m in args.methods}
                if any(v == "error" for v, _, _ in got.values()):
                    print(f"image {i} eps {eps}: {got}", file=sys.stderr)
                    return 1
                decided = [s for v, s, _ in got.values() if v in ("sat", "unsat")]
                verdicts = {v for v, _, _ in got.values() if v in ("sat", "unsat")}
                if len(verdicts) > 1:
                    print(f"methods disagree on image {i} eps {eps}: {got}", file=sys.stderr)
                    return 1
                ok = "-"
                if "bab" in got and decided:
                    v, s, _ = got["bab"]
                    ok = "yes" if v in ("sat", "unsat") and s <= 2 * min(decided) + 2 else "no"
                    behind += ok == "no"
                print(f"| {i} (digit {digit}) | {eps} | "
                      + " | ".join(f"{v} {s:.1f} s ({d})" for v, s, d in got.values()) + f" | {ok} |", flush=True)
    print(f"default behind its best method (more than 2x + 2 s): {behind} instance(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
