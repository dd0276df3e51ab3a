"""Independent oracles (docs/design.md section 5), written without the enumerator or any LP.

Polygon splitting in 2-D and interval splitting in 1-D follow the network
neuron by neuron with plain geometry; they share no code with shallowrelu.
With ``exact=True`` they take the float64 weights as exact rationals and
compute in fractions: every region of positive length or area is found,
however thin, and no rounding debris is left.
"""

from __future__ import annotations

import math
from fractions import Fraction
from math import comb

import numpy as np

AREA_EPS = 1e-12


def zaslavsky(m: int, n: int) -> int:
    """Regions of m hyperplanes in general position in R^n."""
    return sum(comb(m, i) for i in range(n + 1))


def _clip(poly: np.ndarray, a: np.ndarray, c: float) -> np.ndarray:
    """Part of a convex polygon (vertices in order) where a.x + c <= 0 (Sutherland-Hodgman)."""
    vals = poly @ a + c
    out = []
    k = len(poly)
    for i in range(k):
        p, q, vp, vq = poly[i], poly[(i + 1) % k], vals[i], vals[(i + 1) % k]
        if vp <= 0:
            out.append(p)
        if (vp < 0 < vq) or (vq < 0 < vp):
            out.append(p + (q - p) * (vp / (vp - vq)))
    return np.array(out).reshape(-1, 2)


def polygon_area(poly: np.ndarray) -> float:
    """Area of a convex polygon (vertices in order), in the numbers it is given in."""
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2


def _exact(a) -> np.ndarray:
    """An array of the exact rational values of the float64 entries of ``a``."""
    a = np.asarray(a, float)
    return np.array([Fraction(v) for v in a.ravel()], dtype=object).reshape(a.shape)


def _layers(net_layers, exact: bool = False):
    """The network's layers as float arrays, or as exact fractions."""
    if exact:
        return [(_exact(W), _exact(b)) for W, b in net_layers]
    return [(np.asarray(W, float), np.asarray(b, float)) for W, b in net_layers]


def polygon_regions(net_layers, polygon: np.ndarray, exact: bool = False, kinks=None) -> dict[tuple, float]:
    """Map pattern (tuple of 0/1) -> area for a 2-input network over a convex polygon."""
    return {pat: polygon_area(poly) for pat, poly in polygon_pieces(net_layers, polygon, exact=exact,
                                                                     kinks=kinks).items()}


def _kink_arrays(kinks, layers) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per hidden layer ``(slope, group)`` as plain arrays (ReLU where ``kinks`` says None)."""
    out = []
    for l, (W, _) in enumerate(layers[:-1]):
        k = None if kinks is None else kinks[l]
        out.append((np.zeros(W.shape[0]), np.full(W.shape[0], -1)) if k is None
                   else (np.asarray(k.slope, float), np.asarray(k.group, int)))
    return out


def polygon_pieces(net_layers, polygon: np.ndarray, min_area: float = AREA_EPS,
                   exact: bool = False, kinks=None) -> dict[tuple, np.ndarray]:
    """Map pattern -> the region's polygon (vertices in order), by plain clipping.

    ``kinks`` (per hidden layer, None for ReLU) is read as plain arrays: a
    unit with slope 1 and no group never splits (bit 1), another elementwise
    unit splits at ``z = 0``, and a max group splits a piece into the parts
    where each member is the largest (bit 1 for that member). Pieces of area
    ``<= min_area`` are dropped (clipping through a vertex leaves such
    slivers of rounding); in exact arithmetic every piece of positive area
    is kept.
    """
    layers = _layers(net_layers, exact)
    convert = _exact if exact else (lambda a: np.asarray(a, float))
    min_area = 0 if exact else min_area
    pieces = [(convert(polygon), (), convert(np.eye(2)), convert(np.zeros(2)))]
    for (W, b), (slope, group) in zip(layers[:-1], _kink_arrays(kinks, net_layers)):
        pieces = [(poly, pat, W @ M, W @ v + b) for poly, pat, M, v in pieces]
        for j in range(W.shape[0]):
            if group[j] >= 0 and j > 0 and group[j - 1] == group[j]:
                continue  # decided with the group's first member
            members = np.flatnonzero(group == group[j]) if group[j] >= 0 else None
            nxt = []
            for poly, pat, M, v in pieces:
                if members is not None:
                    for i in members:
                        part = poly
                        for m in members:
                            if m != i:
                                part = _clip(part, M[m] - M[i], v[m] - v[i])
                        if polygon_area(part) > min_area:
                            nxt.append((part, pat + tuple(int(m == i) for m in members), M, v))
                    continue
                if slope[j] == 1:
                    nxt.append((poly, pat + (1,), M, v))
                    continue
                for sign in (0, 1):
                    a, c = (M[j], v[j]) if sign == 0 else (-M[j], -v[j])
                    if sign == 1 and np.all(poly @ M[j] + v[j] <= 0):
                        continue  # z <= 0 on the whole piece: {z > 0} is empty here
                    part = _clip(poly, a, c)
                    if polygon_area(part) > min_area:
                        nxt.append((part, pat + (sign,), M, v))
            pieces = nxt
        width = W.shape[0]
        factor = (lambda bits: np.where(np.array(bits) == 1, 1, slope)) if not exact else (
            lambda bits: np.array([Fraction(1) if bit else Fraction(float(s)) for bit, s in zip(bits, slope)],
                                  dtype=object))
        pieces = [(poly, pat, M * factor(pat[-width:])[:, None], v * factor(pat[-width:]))
                  for poly, pat, M, v in pieces]
    # A piece whose centroid has another pattern is rounding debris of a
    # duplicate hyperplane, not a region.
    kink_arrays = _kink_arrays(kinks, net_layers)
    return {pat: poly for poly, pat, _, _ in pieces if _pattern(layers, poly.mean(axis=0), kink_arrays) == pat}


def _pattern(layers, x: np.ndarray, kink_arrays=None) -> tuple:
    """Activation pattern at one point by a plain forward pass."""
    bits = []
    h = x
    for l, (W, b) in enumerate(layers[:-1]):
        z = W @ h + b
        if kink_arrays is None:
            layer_bits = [int(v > 0) for v in z]
            h = np.maximum(z, 0)
        else:
            slope, group = kink_arrays[l]
            layer_bits = [int(z[i] > 0 or slope[i] == 1) for i in range(len(z))]
            for g in set(group[group >= 0].tolist()):
                members = np.flatnonzero(group == g)
                top = max(z[m] for m in members)
                first = next(m for m in members if z[m] == top)
                for m in members:
                    layer_bits[m] = int(m == first)
            scale = [Fraction(float(v)) for v in slope] if z.dtype == object else slope
            h = np.array([z[i] if layer_bits[i] else scale[i] * z[i] for i in range(len(z))], dtype=z.dtype)
        bits += layer_bits
    return tuple(bits)


def distance_to_polygon_boundary(x: np.ndarray, poly: np.ndarray) -> float:
    """Distance from a point inside a convex polygon to its boundary (point-to-segment)."""
    best = np.inf
    for p, q in zip(poly, np.roll(poly, -1, axis=0)):
        t = np.clip(np.dot(x - p, q - p) / max(np.dot(q - p, q - p), 1e-300), 0.0, 1.0)
        best = min(best, float(np.linalg.norm(x - (p + t * (q - p)))))
    return best


def interval_regions(net_layers, lo: float, hi: float, exact: bool = False) -> dict[tuple, float]:
    """Map pattern -> length for a 1-input network over [lo, hi]."""
    layers = _layers(net_layers, exact)
    convert = _exact if exact else (lambda a: np.asarray(a, float))
    shortest = 0 if exact else 1e-12
    lo, hi = (Fraction(lo), Fraction(hi)) if exact else (lo, hi)
    pieces = [((lo, hi), (), convert(np.ones(1)), convert(np.zeros(1)))]
    for W, b in layers[:-1]:
        pieces = [(iv, pat, W @ M, W @ v + b) for iv, pat, M, v in pieces]
        for j in range(W.shape[0]):
            nxt = []
            for (l, h), pat, M, v in pieces:
                a, c = M[j], v[j]
                if a == 0:
                    parts = [((l, h), int(c > 0))]
                else:
                    root = -c / a
                    left, right = (l, min(h, root)), (max(l, root), h)
                    # left of the root z has the sign of -a
                    parts = [(left, int(a < 0)), (right, int(a > 0))]
                for (pl, ph), sign in parts:
                    if ph - pl > shortest:
                        nxt.append(((pl, ph), pat + (sign,), M, v))
            pieces = nxt
        width = W.shape[0]
        pieces = [(iv, pat, M * np.array(pat[-width:]), v * np.array(pat[-width:]))
                  for iv, pat, M, v in pieces]
    return {pat: h - l for (l, h), pat, _, _ in pieces}


def inradius_bounds(poly: np.ndarray) -> tuple[float, float, float]:
    """Bounds on a convex polygon's inradius without an LP, A/P <= r <= 2A/P, and its perimeter P."""
    area = polygon_area(poly)
    perimeter = float(np.linalg.norm(np.roll(poly, -1, axis=0) - poly, axis=1).sum())
    return area / perimeter, 2 * area / perimeter, perimeter


def compare_with_oracle(cat, net, n: int, min_radius: float, rng) -> list[str]:
    """Mismatches between a catalogue over [-1, 1]^n and the matching independent oracle.

    1-D and 2-D: interval / polygon splitting. A region the oracle finds must
    be catalogued unless its inradius may be below ``min_radius``; a
    catalogued region at least that thick must be one the oracle finds
    (thinner ones are :func:`compare_with_exact`'s). 3-D: dense sampling.
    """
    problems = []
    mine = {tuple(int(b) for b in p): i for i, p in enumerate(cat.patterns())}
    if len(mine) != len(cat):
        problems.append("a pattern appears twice")
    if n in (1, 2):
        if n == 1:
            pieces = interval_regions(net.layers, -1.0, 1.0)
            sure = {p for p, length in pieces.items() if length / 2 > 1.01 * min_radius}
            maybe = set(pieces)
        else:
            polys = polygon_pieces(net.layers, np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]),
                                   min_area=1e-24)
            bounds = {p: inradius_bounds(poly) for p, poly in polys.items()}
            sure = {p for p, (lo, _, _) in bounds.items() if lo > 1.01 * min_radius}
            maybe = {p for p, (_, hi, _) in bounds.items() if hi > 0.99 * min_radius}
            pieces = {p: polygon_area(poly) for p, poly in polys.items()}
        missing = sure - set(mine)
        # a region thinner than min_radius was decided exactly: the exact oracle judges it
        extra = {p for p in set(mine) - maybe if cat.table.inradius[mine[p]] > min_radius}
        if missing:
            problems.append(f"{len(missing)} oracle regions missing")
        if extra:
            problems.append(f"{len(extra)} catalogued regions the oracle does not have")
        vols = cat.volumes()
        for p, i in mine.items():
            if p in pieces and abs(vols[i] - pieces[p]) > 1e-6 * max(1.0, pieces[p]) + 2 * min_radius:
                problems.append(f"volume of {p}: {vols[i]} vs oracle {pieces[p]}")
                break
    else:
        X = rng.uniform(-1, 1, size=(20_000, n))
        P = net.patterns(X)
        unknown = {tuple(int(b) for b in p) for p in P} - set(mine)
        if unknown:
            problems.append(f"{len(unknown)} sampled patterns not catalogued")
        idx = cat.region_of(X)
        if np.any(idx < 0):
            problems.append("a sample point inside the domain was not located")
    return problems


def _perimeter(poly: np.ndarray) -> Fraction:
    """A polygon's perimeter from its exact vertices (a sliver's float vertices lose it), as a fraction
    (each side rounded to a float, never to zero)."""
    sides = np.roll(poly, -1, axis=0) - poly
    return sum((Fraction(math.hypot(float(dx), float(dy))) for dx, dy in sides if dx or dy), Fraction(0)) \
        or Fraction(1)


def compare_with_exact(cat, net, n: int, resolution: float) -> list[str]:
    """Differences between a catalogue over [-1, 1]^n (n = 1 or 2) and the exact oracle: every region
    of positive length or area of the network whose float64 weights are taken as exact numbers.

    A region may be missing only if it is below float resolution (inradius under
    ``resolution * (1 + max|t|)``, at most twice ``resolution`` here) and the catalogue says
    it left such regions out (``info["below_resolution"]``)."""
    square = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    if n == 1:
        radius = {p: float(length) / 2 for p, length in interval_regions(net.layers, -1.0, 1.0, exact=True).items()}
    else:
        # 2 A / P bounds the inradius
        radius = {p: 2 * float(polygon_area(poly) / _perimeter(poly))
                  for p, poly in polygon_pieces(net.layers, square, exact=True).items()}
    mine = {tuple(int(b) for b in p) for p in cat.patterns()}
    missing, extra = set(radius) - mine, mine - set(radius)
    problems = []
    missing = {p for p in missing if radius[p] > 0}  # a piece of no area is no region
    above = [p for p in missing if radius[p] >= 2 * resolution]
    if above:
        problems.append(f"{len(above)} regions of the exact oracle above float resolution missing (inradius "
                        f"up to {max(radius[p] for p in above):.2g})")
    if missing and not cat.info["below_resolution"]:
        problems.append(f"{len(missing)} regions below float resolution missing and not reported")
    if extra:
        problems.append(f"{len(extra)} catalogued regions that do not exist in exact arithmetic")
    return problems
