"""Pictures of 2-D partitions: every region filled, neighbours in different colours, facets drawn.

Needs matplotlib (``pip install 'shallowrelu[plot]'``). A network with more
inputs is drawn on a 2-D slice ``x = origin + s1 d1 + s2 d2``, enumerated
exactly in the slice's coordinates (nothing is sampled). Draws what a
catalogue holds, a chunk of regions at a time (:meth:`Catalogue.chunks`:
one row group of a Parquet catalogue), never every region's facets at once;
the only module that imports matplotlib.
"""

from __future__ import annotations

import os

import numpy as np

from .catalogue import Catalogue
from .catalogue.certificate import neighbours
from .catalogue.table import RegionTable
from .errors import DomainError, ShallowReLUError
from .explanation import Explanation
from .io.files import atomic_path
from .polytope.vertices import vertices

# Fill colours: neighbouring regions never share one (greedy colouring of the
# adjacency graph, cycling if a region has more neighbours than colours).
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7",
           "#9c755f", "#bab0ac"]


def colouring(cat: Catalogue) -> np.ndarray:
    """A palette index per region such that regions sharing a facet differ (greedy, in catalogue order).

    The neighbours across the facets are found a chunk of regions at a time;
    what is kept is one pair of region indices per inner facet.
    """
    R, min_radius = len(cat), cat.tol.min_radius
    pairs, base = [np.zeros((2, 0), np.int64)], 0
    for t in cat.chunks():
        nb = neighbours(t, cat.locate_t, min_radius, base)
        found = nb >= 0
        pairs.append(np.stack([t.facet_owner[found] + base, nb[found]]))
        base += len(t)
    a, b = np.concatenate(pairs, axis=1)
    src, dst = np.concatenate([a, b]), np.concatenate([b, a])   # both ways round
    order = np.argsort(src, kind="stable")   # region r's neighbours: adjacent[ptr[r]:ptr[r + 1]]
    adjacent, ptr = dst[order], np.searchsorted(src[order], np.arange(R + 1))
    colour = np.full(R, -1, dtype=np.int64)
    for r in range(R):
        used = set(colour[adjacent[ptr[r]:ptr[r + 1]]].tolist())
        colour[r] = next(c for c in range(R + 1) if c not in used)
    return colour % len(PALETTE)


def _polygon(t: RegionTable, i: int) -> np.ndarray:
    """The vertices of the 2-D region ``i`` of ``t``, in order around it."""
    sl = t.facet_rows(i)
    V = vertices(t.facet_G[sl], t.facet_g[sl], t.interior[i])
    c = V.mean(axis=0)
    return V[np.argsort(np.arctan2(V[:, 1] - c[1], V[:, 0] - c[0]))]


def plot_partition(cat: Catalogue, path: str | os.PathLike, output: int | None = None,
                   explanation: Explanation | None = None, title: str | None = None,
                   labels: tuple[str, str] = ("x1", "x2")) -> None:
    """Draw a 2-D catalogue over a bounded domain to a PNG.

    Parameters
    ----------
    cat : Catalogue
        Dimension 2, bounded domain.
    path : str or path
        The PNG to write (under a temporary name, renamed when complete).
    output : int, optional
        Colour by this output's value (exact: the map is affine on each
        region) instead of by region.
    explanation : Explanation, optional
        Mark its point, the ball on which its model holds, and its counterfactuals.
    title : str, optional
        Defaults to the region count.
    """
    if cat.dim != 2:
        raise DomainError(f"plot needs a 2-D domain (or a slice); this catalogue has dimension {cat.dim}")
    if not cat.info.get("bounded", False):
        raise DomainError("plot needs a bounded domain: give --box, --bounds or --polytope")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.collections import PolyCollection
    except ImportError:
        raise ShallowReLUError("plotting needs matplotlib: pip install 'shallowrelu[plot]'") from None
    polys, values = [], []   # what the figure draws, read a chunk of regions at a time
    for t in cat.chunks():
        for i in range(len(t)):
            polys.append(_polygon(t, i))
            if output is not None:
                values.append(polys[-1] @ t.A[i, output] + t.d[i, output])
    xy = np.vstack(polys)
    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    if output is None:
        colours = [PALETTE[c] for c in colouring(cat)]
        ax.add_collection(PolyCollection(polys, facecolors=colours, edgecolors="black", linewidths=0.4,
                                         antialiased=False))
    else:
        tris, base = [], 0
        for P in polys:  # each polygon as a fan of triangles
            tris += [(base, base + k, base + k + 1) for k in range(1, len(P) - 1)]
            base += len(P)
        mesh = ax.tripcolor(xy[:, 0], xy[:, 1], tris, np.concatenate(values), shading="gouraud", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=f"output y{output + 1}")
        ax.add_collection(PolyCollection(polys, facecolors="none", edgecolors="black", linewidths=0.4))
    if explanation is not None:
        x = cat.hull.to_t(explanation.point[None])[0]
        ax.plot(*x, "k*", markersize=12, label="input")
        ax.add_patch(plt.Circle(x, explanation.radius, fill=False, color="black", linestyle="--"))
        for cf in explanation.counterfactuals:
            c = cat.hull.to_t(cf.point[None])[0]
            ax.plot([x[0], c[0]], [x[1], c[1]], "-", color="white", linewidth=1.5)
            ax.plot(*c, "o", color="white", markeredgecolor="black", label=f"counterfactual (l_{cf.norm})")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlim(xy[:, 0].min(), xy[:, 0].max())
    ax.set_ylim(xy[:, 1].min(), xy[:, 1].max())
    ax.set_aspect("equal")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title or f"{len(cat)} activation regions")
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
