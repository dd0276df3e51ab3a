"""Convex polygons: the 2-D search carries each node as one and clips it at every split.

Owns the polygon of a region, clipping by a line, bounds on a polygon's
inradius from its area and perimeter, and the shoelace area. No LP.
"""

from __future__ import annotations

import numpy as np

from .vertices import vertices
from ..tolerances import ROUNDING_REL


def counter_clockwise(V: np.ndarray) -> np.ndarray:
    """The vertices of a convex polygon sorted by angle around their mean."""
    centre = V.mean(axis=0)
    return V[np.argsort(np.arctan2(V[:, 1] - centre[1], V[:, 0] - centre[0]), kind="stable")]


def polygon(G: np.ndarray, g: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """Vertices of a bounded polygon ``{x in R^2 : G x + g <= 0}`` in counter-clockwise order."""
    V = counter_clockwise(vertices(G, g, interior))
    # qhull lists a vertex once per pair of rows through it: keep one copy
    keep = np.linalg.norm(V - np.roll(V, 1, axis=0), axis=1) > ROUNDING_REL * (1.0 + np.abs(V).max())
    return V[keep] if keep.any() else V[:1]


def clip_polygon(V: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """The part of the convex polygon ``V`` (vertices in order) where the affine ``vals`` is ``<= 0``.

    ``vals`` holds the function's values at the vertices; a vertex with value
    0 belongs to both parts, a crossing edge gives one new vertex.
    """
    nxt = np.concatenate((vals[1:], vals[:1]))
    cross = ((vals < 0) & (nxt > 0)) | ((vals > 0) & (nxt < 0))
    keep = vals <= 0
    if not cross.any():
        return V[keep]
    i = np.flatnonzero(cross)
    j = (i + 1) % len(V)
    # each vertex kept is followed by the crossing point on its outgoing edge, if any
    out = np.empty((2 * len(V), V.shape[1]))
    out[0::2] = V
    out[2 * i + 1] = V[i] + (vals[i] / (vals[i] - vals[j]))[:, None] * (V[j] - V[i])
    return out[np.column_stack([keep, cross]).ravel()]


def polygon_inradius_bounds(V: np.ndarray) -> tuple[float, float]:
    """Bounds ``(A/P, 2A/P)`` on the inradius of a convex polygon from its area ``A`` and perimeter ``P``.

    The upper bound: the triangles from the incentre to the edges have
    height ``r`` and fill at most ``A``. The lower: Bonnesen's inequality
    ``A + pi r^2 <= r P`` for planar convex sets.
    """
    if len(V) < 3:
        return 0.0, 0.0
    V = V - V.mean(axis=0)  # far from the origin, the shoelace's products would cancel to rounding noise
    W = np.concatenate((V[1:], V[:1]))
    area = shoelace(V, W)
    perimeter = float(np.sqrt(((W - V) ** 2).sum(axis=1)).sum())
    return area / perimeter, 2.0 * area / perimeter


def shoelace(V: np.ndarray, W: np.ndarray) -> float:
    """Area of the polygon ``V`` (``W`` its vertices rolled by one)."""
    return 0.5 * abs(float(np.sum(V[:, 0] * W[:, 1] - V[:, 1] * W[:, 0])))

