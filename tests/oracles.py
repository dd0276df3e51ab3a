"""Independent oracles (DESIGN.md section 5), written without the enumerator or any LP.

Polygon splitting in 2-D and interval splitting in 1-D follow the network
neuron by neuron with plain geometry; they share no code with shallowrelu.
"""

from __future__ import annotations

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
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _layers(net_layers):
    return [(np.asarray(W, float), np.asarray(b, float)) for W, b in net_layers]


def polygon_regions(net_layers, polygon: np.ndarray) -> dict[tuple, float]:
    """Map pattern (tuple of 0/1) -> area for a 2-input network over a convex polygon."""
    return {pat: polygon_area(poly) for pat, poly in polygon_pieces(net_layers, polygon).items()}


def polygon_pieces(net_layers, polygon: np.ndarray) -> dict[tuple, np.ndarray]:
    """Map pattern -> the region's polygon (vertices in order), by plain clipping."""
    layers = _layers(net_layers)
    pieces = [(np.asarray(polygon, float), (), np.eye(2), np.zeros(2))]
    for W, b in layers[:-1]:
        pieces = [(poly, pat, W @ M, W @ v + b) for poly, pat, M, v in pieces]
        for j in range(W.shape[0]):
            nxt = []
            for poly, pat, M, v in pieces:
                for sign in (0, 1):
                    a, c = (M[j], v[j]) if sign == 0 else (-M[j], -v[j])
                    if sign == 1 and np.all(poly @ M[j] + v[j] <= 0):
                        continue  # z <= 0 on the whole piece: {z > 0} is empty here
                    part = _clip(poly, a, c)
                    if polygon_area(part) > AREA_EPS:
                        nxt.append((part, pat + (sign,), M, v))
            pieces = nxt
        width = W.shape[0]
        pieces = [(poly, pat, M * np.array(pat[-width:])[:, None], v * np.array(pat[-width:]))
                  for poly, pat, M, v in pieces]
    return {pat: poly for poly, pat, _, _ in pieces}


def distance_to_polygon_boundary(x: np.ndarray, poly: np.ndarray) -> float:
    """Distance from a point inside a convex polygon to its boundary (point-to-segment)."""
    best = np.inf
    for p, q in zip(poly, np.roll(poly, -1, axis=0)):
        t = np.clip(np.dot(x - p, q - p) / max(np.dot(q - p, q - p), 1e-300), 0.0, 1.0)
        best = min(best, float(np.linalg.norm(x - (p + t * (q - p)))))
    return best


def interval_regions(net_layers, lo: float, hi: float) -> dict[tuple, float]:
    """Map pattern -> length for a 1-input network over [lo, hi]."""
    layers = _layers(net_layers)
    pieces = [((lo, hi), (), np.ones(1), np.zeros(1))]
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
                    if ph - pl > 1e-12:
                        nxt.append(((pl, ph), pat + (sign,), M, v))
            pieces = nxt
        width = W.shape[0]
        pieces = [(iv, pat, M * np.array(pat[-width:]), v * np.array(pat[-width:]))
                  for iv, pat, M, v in pieces]
    return {pat: h - l for (l, h), pat, _, _ in pieces}
