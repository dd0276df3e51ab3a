"""The ``.nnet`` text format of the ACAS Xu networks (sisl/NNet): header, sizes, normalisation, weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import NetworkFormatError
from ..network import MAX_WEIGHTS, ReLUNetwork


def load_nnet(path: Path, normalize: bool) -> ReLUNetwork:
    """The text format of the ACAS Xu networks (sisl/NNet): header, sizes, normalisation, weights."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise NetworkFormatError(f"{path}: not a readable .nnet text file ({exc})") from None
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip() and not ln.startswith("//")]
    pos = 0

    def numbers(what: str) -> list[float]:
        """The numbers of the next line, or an error naming what was expected there."""
        nonlocal pos
        if pos >= len(lines):
            raise NetworkFormatError(f"{path}: file ends before the {what}")
        number, line = lines[pos]
        pos += 1
        try:
            return [float(v) for v in line.replace(",", " ").split()]
        except ValueError:
            raise NetworkFormatError(f"{path}: line {number} ({what}) is not a list of numbers") from None

    head = numbers("header")
    if len(head) < 3:
        raise NetworkFormatError(f"{path}: the header needs layers, inputs, outputs")
    n_layers = int(head[0])
    sizes = [int(v) for v in numbers("layer sizes")]
    if len(sizes) != n_layers + 1 or min(sizes) < 1 or sum(a * b for a, b in zip(sizes, sizes[1:])) > MAX_WEIGHTS:
        raise NetworkFormatError(f"{path}: layer sizes {sizes} do not match {n_layers} layers")
    numbers("symmetric flag")
    mins, maxes, means, ranges = (numbers(w) for w in ("input minimums", "input maximums", "means", "ranges"))
    n = sizes[0]
    if not (len(mins) >= n and len(maxes) >= n and len(means) >= n + 1 and len(ranges) >= n + 1):
        raise NetworkFormatError(f"{path}: normalisation lines need {n} inputs and one output entry")
    layers = []
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        W = np.array([numbers(f"layer {k} weight row {r}")[:a] for r in range(b)])
        bias = np.array([numbers(f"layer {k} bias {r}")[0] for r in range(b)])
        if W.shape != (b, a):
            raise NetworkFormatError(f"{path}: layer {k} weights do not have shape ({b}, {a})")
        layers.append((W, bias))
    if normalize:
        mean, rng = np.array(means[:n]), np.array(ranges[:n])
        W, b = layers[0]
        layers[0] = (W / rng, b - (W / rng) @ mean)
        W, b = layers[-1]
        layers[-1] = (W * ranges[n], b * ranges[n] + means[n])
    return ReLUNetwork(tuple(layers), source=str(path))
