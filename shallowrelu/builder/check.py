"""The shallow network against the deep one, on probe points chosen where errors hide.

Owns the probes (random points, region centres, vertices of the complex,
facet midpoints, points 1e-9 off facets), what a ``cells`` network must
return on a boundary, and the :class:`EquivalenceReport`. The deep network's
forward pass is the oracle; nothing here builds a network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..catalogue import Catalogue
from ..errors import ShallowReLUError
from ..network import ReLUNetwork
from ..polytope.lp import bounding_box
from ..tolerances import DEFAULT_TOLERANCES, NEAR_FACET_STEP, Tolerances
from .faces import complex_vertices
from .index import CHUNK_BYTES, ragged
from .shallow import ShallowNetwork


@dataclass(frozen=True)
class EquivalenceReport:
    """How far the shallow network is from the deep one on probe points.

    Attributes
    ----------
    max_abs, max_rel : float
        Largest absolute error, and that error over ``scale``.
    scale : float
        ``max(1, max |deep(x)|)`` over the probes.
    worst_kind : str
        Kind of probe where the largest error occurred.
    worst_point : list of float
    counts : dict
        Number of probes of each kind: ``random``, ``interior``, ``vertex``,
        ``facet`` (facet midpoints), ``near_facet`` (1e-9 off a facet, both sides).
    tolerance : float
        Allowed ``max_rel``.
    """

    max_abs: float
    max_rel: float
    scale: float
    worst_kind: str
    worst_point: list
    counts: dict
    tolerance: float

    @property
    def passed(self) -> bool:
        """True when ``max_rel <= tolerance``."""
        return self.max_rel <= self.tolerance

    def as_dict(self) -> dict:
        """JSON-ready."""
        return {"max_abs": self.max_abs, "max_rel": self.max_rel, "scale": self.scale,
                "worst_kind": self.worst_kind, "worst_point": self.worst_point, "counts": self.counts,
                "tolerance": self.tolerance, "passed": self.passed}


def equivalence_probes(cat: Catalogue, samples: int = 2000, seed: int = 0,
                       tol: Tolerances = DEFAULT_TOLERANCES) -> dict[str, np.ndarray]:
    """Probe points (input coordinates) by kind, for :func:`check_equivalence`.

    Over a bounded domain only points inside it (to ``tol.boundary``) are
    kept: a facet point of a very thin region can lie a hair outside.
    """
    t, hull = cat.table, cat.hull
    rng = np.random.default_rng(seed)
    n = cat.dim
    if cat.info.get("bounded", True):
        lo, hi = bounding_box(hull.domain)
        T = lo + (hi - lo) * rng.random((samples, n))
        T = T[hull.domain.contains(T)]
    else:
        spread = float(np.abs(np.vstack([t.interior, t.facet_point])).max(initial=1.0))
        T = rng.normal(size=(samples, n)) * spread
    normals = t.facet_G
    probes = {"random": T, "interior": t.interior, "vertex": complex_vertices(cat), "facet": t.facet_point,
              "near_facet": np.vstack([t.facet_point + NEAR_FACET_STEP * normals,
                                        t.facet_point - NEAR_FACET_STEP * normals])}
    if cat.info.get("bounded", True):
        probes = {k: v[hull.domain.contains(v, tol.boundary)] if len(v) else v for k, v in probes.items()}
    return {k: hull.to_x(v) if len(v) else np.zeros((0, hull.B.shape[0])) for k, v in probes.items()}


def cells_reference(cat: Catalogue, X: np.ndarray, eps: float) -> np.ndarray:
    """What a ``cells`` network must return: the sum of ``A_r x + d_r`` over the regions
    whose closed polytope (grown by ``eps``) holds ``x``."""
    t = cat.table
    T = cat.hull.to_t(X)
    out = np.zeros((T.shape[0], cat.network.n_outputs))
    rows = max(t.facet_g.size, 1)
    step = max(1, CHUNK_BYTES // (16 * rows))
    has_facets = np.diff(t.facet_ptr) > 0
    for i in range(0, T.shape[0], step):
        V = T[i:i + step] @ t.facet_G.T + t.facet_g                 # (points, facet rows)
        worst = np.full((V.shape[0], len(cat)), -np.inf)
        if t.facet_g.size:
            worst[:, has_facets] = np.maximum.reduceat(V, t.facet_ptr[:-1][has_facets], axis=1)
        for k, inside in enumerate(worst <= eps):
            x = T[i + k]
            out[i + k] = (np.einsum("rmn,n->rm", t.A[inside], x) + t.d[inside]).sum(axis=0)
    return out


def _boundary_depth(cat: Catalogue, X: np.ndarray) -> np.ndarray:
    """How far inside its own region each point lies: the least distance to the region's facets."""
    t = cat.table
    region = cat.region_of(X)
    T = cat.hull.to_t(X)
    counts = np.where(region >= 0, np.diff(t.facet_ptr)[region], 0)
    rows, owner = ragged(t.facet_ptr[region], counts)
    out = np.full(len(X), np.inf)
    np.minimum.at(out, owner, -(np.einsum("kn,kn->k", t.facet_G[rows], T[owner]) + t.facet_g[rows]))
    return out


def check_equivalence(net: ReLUNetwork, shallow: ShallowNetwork, cat: Catalogue,
                      tol: Tolerances = DEFAULT_TOLERANCES, samples: int = 2000, seed: int = 0,
                      progress: Callable[..., None] | None = None) -> EquivalenceReport:
    """Compare the shallow network with the deep one on random points, region centres, vertices,
    facet midpoints and points within 1e-9 of facets.

    A ``faces`` network must equal the deep network at every probe. A
    ``cells`` network must equal it farther than the gates' boundary
    tolerance from every facet and, on a facet, at a vertex or nearer than
    that (probes in a region that thin, say), return the sum over the
    regions that hold the point (checked against :func:`cells_reference`, on
    at most ``5 * samples`` facet and as many vertex probes, drawn with
    ``seed``).

    Parameters
    ----------
    net : ReLUNetwork
        The deep network.
    shallow : ShallowNetwork
        Built from a catalogue of ``net``.
    cat : Catalogue
        That catalogue: where the probes come from.
    tol : Tolerances
        ``tol.equivalence`` is the error allowed, relative to the output scale.
    samples : int
        Random probes in the domain.
    seed : int
        Seed of the random probes and of the sampled boundary probes.
    progress : callable, optional
        Called as ``progress(done, total=total)`` with the probes done so far.

    Raises
    ------
    ShallowReLUError
        If the shallow network was built from another network.
    """
    shallow.check_source(net)
    if shallow.W1.shape[1] != net.n_inputs or shallow.A.shape[1] != net.n_outputs:
        raise ShallowReLUError(f"the shallow network maps {shallow.W1.shape[1]} inputs to {shallow.A.shape[1]} "
                               f"outputs; the network {net.n_inputs} to {net.n_outputs}")
    probes = equivalence_probes(cat, samples, seed, tol)
    if shallow.mode == "cells":
        rng = np.random.default_rng(seed)
        for kind in ("facet", "vertex"):
            if len(probes[kind]) > 5 * samples:
                probes[kind] = probes[kind][np.sort(rng.choice(len(probes[kind]), 5 * samples, replace=False))]
    worst = (0.0, "none", [])
    scale = 1.0
    done, total = 0, sum(len(v) for v in probes.values())
    eps = shallow.info.get("boundary_eps", tol.boundary)
    block = 1 << 15
    for kind, points in probes.items():
        for i in range(0, len(points), block):
            X = points[i:i + block]
            Y = net(X)
            scale = max(scale, float(np.abs(Y).max()))
            if shallow.mode == "cells" and kind in ("facet", "vertex"):
                Y = cells_reference(cat, X, eps)
            elif shallow.mode == "cells":
                # a point this close to its region's boundary may open a neighbour's gate too
                near = _boundary_depth(cat, X) <= 2 * eps
                if near.any():
                    Y[near] = cells_reference(cat, X[near], eps)
            err = np.abs(shallow(X) - Y).max(axis=1)
            err = np.where(np.isnan(err), np.inf, err)
            k = int(np.argmax(err))
            if err[k] > worst[0] or worst[1] == "none":
                worst = (float(err[k]), kind, X[k].tolist())
            done += len(X)
            if progress is not None:
                progress(done, total=total)
    return EquivalenceReport(max_abs=worst[0], max_rel=worst[0] / scale, scale=scale, worst_kind=worst[1],
                             worst_point=worst[2], counts={k: int(len(v)) for k, v in probes.items()},
                             tolerance=tol.equivalence)

