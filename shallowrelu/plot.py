"""Pictures of 2-D partitions: every region filled, neighbours in different colours, facets drawn.

Needs matplotlib (``pip install 'shallowrelu[plot]'``). A network with more
inputs is drawn on a 2-D slice ``x = origin + s1 d1 + s2 d2``, enumerated
exactly in the slice's coordinates (nothing is sampled). Draws what a
catalogue holds; the only module that imports matplotlib.
"""

from __future__ import annotations

import os

import numpy as np

from .catalogue import Catalogue
from .errors import DomainError, ShallowReLUError
from .explanation import Explanation
from .io.files import atomic_path
from .polytope.vertices import vertices

# Fill colours: neighbouring regions never share one (greedy colouring of the
# adjacency graph, cycling if a region has more neighbours than colours).
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7",
           "#9c755f", "#bab0ac"]


def colouring(cat: Catalogue) -> np.ndarray:
    """A palette index per region such that regions sharing a facet differ (greedy, in catalogue order)."""
    nb = cat.neighbours()
    owner = cat.facet_owner
    adjacent: list[set[int]] = [set() for _ in range(len(cat))]
    for a, b in zip(owner, nb):
        if b >= 0:
            adjacent[a].add(int(b))
            adjacent[b].add(int(a))
    colour = np.full(len(cat), -1, dtype=np.int64)
    for r in range(len(cat)):
        used = {colour[s] for s in adjacent[r]}
        colour[r] = next(c for c in range(len(cat) + 1) if c not in used)
    return colour % len(PALETTE)


def _polygon(cat: Catalogue, i: int) -> np.ndarray:
    """The vertices of a 2-D region, in order around it."""
    sl = cat.facet_rows(i)
    V = vertices(cat.table.facet_G[sl], cat.table.facet_g[sl], cat.table.interior[i])
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
    polys = [_polygon(cat, i) for i in range(len(cat))]
    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    if output is None:
        colours = [PALETTE[c] for c in colouring(cat)]
        ax.add_collection(PolyCollection(polys, facecolors=colours, edgecolors="black", linewidths=0.4,
                                         antialiased=False))
    else:
        tri_x, tri_y, tri_v, tris = [], [], [], []
        for i, P in enumerate(polys):
            base = len(tri_x)
            vals = P @ cat.table.A[i, output] + cat.table.d[i, output]
            tri_x += list(P[:, 0])
            tri_y += list(P[:, 1])
            tri_v += list(vals)
            tris += [(base, base + k, base + k + 1) for k in range(1, len(P) - 1)]
        mesh = ax.tripcolor(tri_x, tri_y, tris, tri_v, shading="gouraud", cmap="viridis")
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
    allp = np.vstack(polys)
    ax.set_xlim(allp[:, 0].min(), allp[:, 0].max())
    ax.set_ylim(allp[:, 1].min(), allp[:, 1].max())
    ax.set_aspect("equal")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title or f"{len(cat)} activation regions")
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
