"""Why the network gave this output: the region of an input read as a readable local model.

For an input ``x``: its region and pattern, the affine model ``y = A x + d``
with the largest input contributions, the facets as inequalities naming the
neurons that made them (nearest first), the largest ball around ``x`` on which
the model stays this one affine map, the nearest input with another label
(classifiers, exact, region by region through the catalogue), and the same
answer read off the shallow network's open gates.

Reads a catalogue (and optionally a shallow network); never enumerates.
The counterfactual's LPs and QPs go through :mod:`shallowrelu.polytope.lp`,
its MILP through :mod:`shallowrelu.milp`.
"""

from __future__ import annotations

import heapq
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .catalogue import DOMAIN_FACET, Catalogue
from .choices import COUNTERFACTUAL_METHODS
from .errors import DomainError
from .limits import OutOfTime, check_time, deadline
from .polytope.lp import LPResult, nearest_point
from .polytope.vertices import vertex_bound, vertex_eps, vertices_or_empty
from .tolerances import (DEFAULT_TOLERANCES, LABEL_MARGIN, NODE_VERTICES_MAX, PRINT_ZERO, ROUNDING_REL,
                         Tolerances)

if TYPE_CHECKING:  # only named in annotations: building the network (scipy.sparse) is the caller's
    from .builder import ShallowNetwork

# Floats of one batch of dual norms in input coordinates (rows x inputs): 16 MB, whatever the catalogue's size.
_BOUND_BATCH = 2_000_000


@dataclass(frozen=True)
class FacetReport:
    """One facet of the region of ``x``: ``normal . x + offset <= 0`` in input coordinates."""

    neuron: tuple[int, int] | str
    inequality: str
    distance: float
    normal: np.ndarray
    offset: float


@dataclass(frozen=True)
class Counterfactual:
    """The nearest input (in ``norm``) whose argmax label differs from that of ``x``."""

    point: np.ndarray
    label: int
    distance: float
    norm: str
    changed: dict[int, float]
    method: str = "catalogue (nearest first over the regions)"


@dataclass(frozen=True)
class CounterfactualSearch:
    """How the nearest-first search of :func:`counterfactual` went for one norm.

    Parameters
    ----------
    norm : {"inf", "2"}
    regions : int
        Regions in the catalogue.
    examined : int
        Regions the search looked into: those whose lower bound on the distance
        was below the nearest found by then. No other region was touched.
    solves : int
        LPs (l_inf) or QPs (l_2) solved, one per (region, label) pair whose
        lower bound was below the nearest found by then.
    proven : bool
        True when the search ran to its end, so the answer is the nearest;
        False when a deadline (``explain``'s ``timeout``, the command's
        ``--time-limit``) stopped it first: the answer is then the nearest
        found so far.
    lower_bound : float
        No input with another label is nearer than this: the answer's
        distance when proven (``inf`` when every input has the label), else
        the least lower bound of the pairs left unsolved.
    """

    norm: str
    regions: int
    examined: int
    solves: int
    proven: bool
    lower_bound: float

    def as_dict(self) -> dict:
        """JSON-ready (``lower_bound`` None for ``inf``)."""
        return {"norm": self.norm, "regions": self.regions, "examined": self.examined, "solves": self.solves,
                "proven": self.proven, "lower_bound": self.lower_bound if np.isfinite(self.lower_bound) else None}


@dataclass(frozen=True)
class GateReport:
    """An open gate of the shallow network at ``x``."""

    gate: int
    region: int
    dim: int
    coefficient: int
    value: np.ndarray


@dataclass(frozen=True)
class Explanation:
    """Everything :func:`explain` found out about one input.

    Parameters
    ----------
    point : ndarray, shape (n,)
        The input.
    region : int
        Its region's index in the catalogue.
    pattern : ndarray of bool
        That region's activation pattern.
    A, d : ndarray
        The local model ``y = A x + d``.
    output : ndarray, shape (m,)
        The network's output at the input.
    label : int or None
        The argmax of the output (None for a single output).
    contributions : list
        Per output, the largest terms ``(input index, A_ji x_i)``.
    facets : list of FacetReport
        The region's facets, nearest first, with the neuron that made each.
    radius : float
        The largest ball around the input on which the local model holds.
    nearest_facet_point : ndarray or None
        The point of the region's boundary nearest to the input.
    counterfactuals : list of Counterfactual
        The nearest inputs with another label, one per norm asked for.
    gates : list of GateReport
        The shallow network's gates open at the input (empty without one).
    classes : tuple of str, optional
        The network's class names, one per output (None: the labels are the output indices).
    searches : dict of str to CounterfactualSearch
        Per norm, how the search for the counterfactual went (the catalogue
        method; a search a deadline stopped has ``proven`` False)."""

    point: np.ndarray
    region: int
    pattern: np.ndarray
    A: np.ndarray
    d: np.ndarray
    output: np.ndarray
    label: int | None
    contributions: list[list[tuple[int, float]]]
    facets: list[FacetReport]
    radius: float
    nearest_facet_point: np.ndarray | None
    counterfactuals: list[Counterfactual]
    gates: list[GateReport]
    classes: tuple[str, ...] | None = None
    searches: dict[str, CounterfactualSearch] = field(default_factory=dict)

    def class_of(self, label: int | None) -> str | None:
        """The class name of an output index (its index in words where the network has no labels)."""
        if label is None:
            return None
        return self.classes[label] if self.classes is not None else str(label)

    def as_dict(self) -> dict:
        """JSON-ready, with the keys promised by the CLI."""
        cf = {c.norm: {"point": c.point.tolist(), "label": c.label, "class": self.class_of(c.label),
                       "distance": c.distance, "norm": c.norm,
                       "changed": {str(k): v for k, v in c.changed.items()}, "method": c.method,
                       "proven": self.searches[c.norm].proven if c.norm in self.searches else True}
              for c in self.counterfactuals}
        out = {"point": self.point.tolist(), "region": self.region,
               "pattern": "".join("1" if b else "0" for b in self.pattern),
               "A": self.A.tolist(), "d": self.d.tolist(), "output": self.output.tolist(), "label": self.label,
               "class": self.class_of(self.label),
               "contributions": [[{"input": i, "value": v} for i, v in row] for row in self.contributions],
               "radius": self.radius,
               "nearest_facet_point": None if self.nearest_facet_point is None else self.nearest_facet_point.tolist(),
               "facets": [{"neuron": _neuron_name(f.neuron), "inequality": f.inequality, "distance": f.distance}
                          for f in self.facets],
               "shallow_gates": [{"gate": g.gate, "region": g.region, "face_dim": g.dim,
                                  "coefficient": g.coefficient, "value": g.value.tolist()} for g in self.gates]}
        if cf:
            # the l_inf answer is the headline one; both are listed
            out["counterfactual"] = cf.get("inf") or next(iter(cf.values()))
            out["counterfactuals"] = cf
        if self.searches:
            out["counterfactual_search"] = {norm: s.as_dict() for norm, s in self.searches.items()}
        return out


def _neuron_name(neuron) -> str:
    """A facet's source in words (a unit of any kind is a neuron here, as in the catalogue)."""
    return "domain" if neuron == DOMAIN_FACET else f"layer {neuron[0]} neuron {neuron[1]}"


def _inequality(a: np.ndarray, c: float) -> str:
    """``a . x + c <= 0`` in words, small coefficients left out."""
    terms = [f"{v:+.4g}*x{i + 1}" for i, v in enumerate(a) if abs(v) > PRINT_ZERO]
    text = " ".join(terms).lstrip("+") if terms else "0"
    return f"{text} {c:+.4g} <= 0".replace("+", "+ ").replace("-", "- ").replace("e- ", "e-").replace("e+ ", "e+")


def counterfactual(cat: Catalogue, x: np.ndarray, label: int, norm: str,
                   tol: Tolerances = DEFAULT_TOLERANCES) -> Counterfactual | None:
    """Nearest point of the domain with argmax label other than ``label``, exactly.

    A nearest-first search over the regions (:class:`CounterfactualSearch`
    says how it went): every (region, label) pair gets a lower bound on its
    distance from ``x``, and one LP (l_inf) or QP (l_2) finds the nearest
    point of a pair only while its bound is below the best distance found;
    the search stops when no pair left can be nearer. The answer is the one
    solving every pair would give (up to ties between equally near points).

    Parameters
    ----------
    cat : Catalogue
    x : ndarray, shape (n,)
        An input in the catalogue's domain.
    label : int
        The label at ``x``.
    norm : {"inf", "2"}
        The distance, measured in input coordinates (also on a slice).
    tol : Tolerances
        The numerical knobs (``docs/design.md`` section 4).

    Returns
    -------
    Counterfactual or None
        None when every input of the domain has ``label``.

    Raises
    ------
    OutOfTime
        Past a deadline set with :func:`shallowrelu.limits.deadline`
        (``explain(..., timeout=...)`` gives the nearest found so far instead).
    """
    found, search = _NearestFirst(cat, x, label, norm, tol).run()
    if not search.proven:
        raise OutOfTime
    return found


class _NearestFirst:
    """The nearest-first search of :func:`counterfactual` for one input, label and norm.

    The pairs are the (region, other label) pairs; pair ``(r, k)`` stands for
    the polytope ``S`` of points of region ``r`` where output ``k`` beats every
    other by ``LABEL_MARGIN``. A priority queue holds regions (keyed by the
    least bound of their pairs) and pairs (keyed by their own bound), and is
    emptied in order of the key while the key is below the best distance
    found. Every bound is at most the distance from ``x`` to ``S``, so a pair
    left in the queue cannot hold a nearer point: the answer is exact.

    - Bounds of every pair at once, one vectorised pass (:meth:`pair_bounds`):
      the distance to the farthest facet hyperplane of ``r`` that ``x`` lies
      beyond, and to the half-space ``y_k >= y_label + margin`` of ``r``'s
      affine map (``inf`` where ``k`` never overtakes the label in that map).
    - A region taken from the queue (bounded domains, where its vertices are
      few enough to list) is sharpened by its vertices (:meth:`refine`): an
      affine function's maximum over a polytope is at a vertex, so a label
      that does not beat some other at any vertex never wins in ``r`` and its
      pair is dropped, and the distance to the box around the vertices bounds
      every pair of ``r``.
    - A pair taken from the queue is solved exactly (one LP or QP).
    """

    def __init__(self, cat: Catalogue, x: np.ndarray, label: int, norm: str, tol: Tolerances) -> None:
        if norm not in ("inf", "2"):
            raise ValueError(f"norm must be 'inf' or '2', got {norm!r}")
        self.cat, self.label, self.norm, self.tol = cat, label, norm, tol
        self.x = np.asarray(x, dtype=np.float64).reshape(-1)
        self.xt = cat.hull.to_t(self.x)[0]
        # l_inf is measured in input coordinates; l_2 is the same in a flat domain's orthonormal ones
        self.basis = cat.hull.B if cat.hull.flat and norm == "inf" else None
        self.unit_ball = None if self.basis is None else _unit_ball_corners(self.basis)
        # over an unbounded domain a region may be unbounded: its vertices do not hold its maxima
        self.use_vertices = bool(cat.info.get("bounded", False))

    def dual_norm(self, rows: np.ndarray) -> np.ndarray:
        """Per row ``c`` (``t`` coordinates, any leading shape), the norm dual to the distance, the largest
        ``c . v`` over ``|v| <= 1``, or a bound above it: ``c . v <= dual * |v|``."""
        if self.norm == "2":
            return np.linalg.norm(rows, axis=-1)
        if self.basis is None:
            return np.abs(rows).sum(axis=-1)
        flat = rows.reshape(-1, rows.shape[-1])
        out = np.empty(flat.shape[0])
        width = (self.basis if self.unit_ball is None else self.unit_ball[0]).shape[0]
        step = max(1, _BOUND_BATCH // width)
        for start in range(0, flat.shape[0], step):
            out[start:start + step] = self._flat_dual(flat[start:start + step])
        return out.reshape(rows.shape[:-1])

    def _flat_dual(self, c: np.ndarray) -> np.ndarray:
        """:meth:`dual_norm` of the rows ``c`` for l_inf in a flat domain's inputs: the largest ``c . v`` over
        the corners of its unit ball (up to their accuracy), or ``|B c|_1`` above it where they are not listed."""
        if self.unit_ball is None:  # c . v = (B c) . (B v) <= |B c|_1 |B v|_inf
            return np.abs(c @ self.basis.T).sum(axis=1)
        corners, eps = self.unit_ball
        return np.abs(c @ corners.T).max(axis=1) + eps * np.abs(c).sum(axis=1)

    def pair_bounds(self) -> np.ndarray:
        """``(R, m)``: a lower bound on the distance from ``x`` to each pair's polytope (``inf`` for ``label``
        and for a label that never beats it in the region's map)."""
        t, xt, label = self.cat.table, self.xt, self.label
        bounds = np.zeros(t.d.shape)
        facet = _distance_past(t.facet_G @ xt + t.facet_g, self.dual_norm(t.facet_G))
        np.maximum.at(bounds, t.facet_owner, facet[:, None])
        # output k must beat the label: y_k - y_label >= margin, a half-space of the region's map
        rows = t.A - t.A[:, label:label + 1]
        need = LABEL_MARGIN - (rows @ xt + t.d - t.d[:, label:label + 1])
        bounds = np.maximum(bounds, _distance_past(need, self.dual_norm(rows)))
        bounds[:, label] = np.inf
        return bounds

    def refine(self, r: int, bounds: np.ndarray) -> np.ndarray:
        """The bounds of region ``r``'s pairs sharpened by its vertices (``bounds`` itself where they are
        not listed: an unbounded domain, too many vertices, or qhull failed)."""
        t, sl = self.cat.table, self.cat.facet_rows(r)
        G, g = t.facet_G[sl], t.facet_g[sl]
        dim = self.cat.dim
        if not self.use_vertices or vertex_bound(len(g), dim) > NODE_VERTICES_MAX:
            return bounds
        V = vertices_or_empty(G, g, t.interior[r])
        if V.shape[0] <= dim:
            return bounds
        eps = vertex_eps(V)
        vals = V @ G.T + g
        # every vertex in the polytope and at least dim of them on every facet, or the list is not trusted
        if vals.max() > eps or (np.abs(vals) <= eps).sum(axis=0).min() < dim:
            return bounds
        Y = V @ t.A[r].T + t.d[r]                                   # (vertices, m)
        top = (Y[:, :, None] - Y[:, None, :]).max(axis=0)           # (k, j): max of y_k - y_j over r
        # a vertex is exact up to eps in each coordinate, so y_k - y_j up to eps |A_k - A_j|_1 (and rounding)
        slack = (eps * np.abs(t.A[r][:, None, :] - t.A[r][None, :, :]).sum(axis=2)
                 + ROUNDING_REL * (1.0 + np.abs(Y).max()))
        beats = top + slack >= LABEL_MARGIN
        np.fill_diagonal(beats, True)
        X = self.cat.hull.to_x(V)
        pad = eps * np.sqrt(dim)                                    # |B e|_inf <= |e|_2 <= sqrt(dim) eps
        outside = np.maximum(np.maximum(X.min(axis=0) - pad - self.x, self.x - X.max(axis=0) - pad), 0.0)
        box = float(np.linalg.norm(outside, np.inf if self.norm == "inf" else 2))
        return np.where(beats.all(axis=1), np.maximum(bounds, box), np.inf)

    def solve(self, r: int, k: int) -> LPResult:
        """The point of pair ``(r, k)`` nearest to ``x`` (an :class:`LPResult`)."""
        t, sl, m = self.cat.table, self.cat.facet_rows(r), self.cat.network.n_outputs
        A, d = t.A[r], t.d[r]
        others = [j for j in range(m) if j != k]
        # y_j - y_k + margin <= 0 for every other label j
        rows = np.vstack([t.facet_G[sl], A[others] - A[k]])
        rhs = np.concatenate([-t.facet_g[sl], d[k] - d[others] - LABEL_MARGIN])
        return nearest_point(self.xt, rows, rhs, self.norm, self.tol, self.basis)

    def run(self) -> tuple[Counterfactual | None, CounterfactualSearch]:
        """Empty the queue nearest first; stop at a deadline (:mod:`shallowrelu.limits`) with the best so far."""
        bounds = self.pair_bounds()
        least = bounds.min(axis=1)
        # entries (key, region, label): label -1 for a region whose pairs are not yet queued
        queue = [(float(b), r, -1) for r, b in enumerate(least) if np.isfinite(b)]
        heapq.heapify(queue)
        best: tuple[float, np.ndarray, int] | None = None
        examined = solves = 0
        left = np.inf  # the least key in the queue when a deadline stops the search
        try:
            while queue and (best is None or queue[0][0] < best[0]):
                left, r, k = queue[0]
                check_time()
                heapq.heappop(queue)
                if k < 0:
                    examined += 1
                    sharp = self.refine(r, bounds[r])
                    for j in np.flatnonzero(np.isfinite(sharp)):
                        heapq.heappush(queue, (float(sharp[j]), r, int(j)))
                    continue
                res = self.solve(r, k)
                solves += 1
                if res.feasible and (best is None or res.value < best[0]):
                    best = (res.value, res.x, k)
            proven = True
        except OutOfTime:
            proven = False
        found = None if best is None else _counterfactual_at(self.cat.hull.to_x(best[1])[0], self.x, int(best[2]),
                                                             self.norm)
        nearest = np.inf if found is None else found.distance
        search = CounterfactualSearch(norm=self.norm, regions=len(self.cat), examined=examined, solves=solves,
                                      proven=proven, lower_bound=float(nearest if proven else min(left, nearest)))
        return found, search


def _unit_ball_corners(B: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The vertices of ``{v : |B v|_inf <= 1}`` (the l_inf unit ball of a flat domain, in its coordinates)
    and their accuracy, or None where they are too many to list."""
    N, dim = B.shape
    if vertex_bound(2 * N, dim) > NODE_VERTICES_MAX:
        return None
    V = vertices_or_empty(np.vstack([B, -B]), -np.ones(2 * N), np.zeros(dim))
    return (V, vertex_eps(V)) if V.shape[0] > dim else None


def _distance_past(violation: np.ndarray, dual: np.ndarray) -> np.ndarray:
    """How far a point is from the half-spaces it violates by ``violation`` (rows of dual norm ``dual``):
    0 where it is inside, ``inf`` where the row is zero and the half-space empty."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(violation > 0, violation / dual, 0.0)


def _counterfactual_at(point: np.ndarray, x: np.ndarray, label: int, norm: str,
                       method: str = Counterfactual.method) -> Counterfactual:
    """The counterfactual ``point`` of ``x``: its distance and the inputs it changes."""
    changed = {i + 1: float(point[i] - x[i]) for i in range(point.size) if abs(point[i] - x[i]) > PRINT_ZERO}
    dist = float(np.linalg.norm(point - x, np.inf if norm == "inf" else 2))
    return Counterfactual(point=point, label=label, distance=dist, norm=norm, changed=changed, method=method)




def counterfactual_milp(cat: Catalogue, x: np.ndarray, label: int) -> Counterfactual | None:
    """The l_inf counterfactual of :func:`counterfactual` by the independent MILP (one per other label)."""
    if cat.hull.flat:
        raise DomainError("the MILP counterfactual needs a full-dimensional domain")
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    from .milp import nearest_label_change  # PuLP only when asked for

    found = nearest_label_change(cat.network, cat.hull.domain, x[0], label)
    if found is None:
        return None
    point, k = found
    return _counterfactual_at(point, x[0], k, "inf", "MILP (one big-M MILP per other label)")


def explain(cat: Catalogue, x: np.ndarray, shallow: ShallowNetwork | None = None, top: int = 3,
            norms: tuple[str, ...] = ("inf", "2"), tol: Tolerances = DEFAULT_TOLERANCES,
            counterfactual_method: str = "catalogue", timeout: float | None = None) -> Explanation:
    """Explain the network's output at one input ``x``.

    Parameters
    ----------
    cat : Catalogue
        A complete catalogue of the network over a domain holding ``x``.
    x : ndarray, shape (n,)
    shallow : ShallowNetwork, optional
        If given, the open gates at ``x`` are reported too.
    top : int
        How many input contributions to list per output.
    norms : tuple of {"inf", "2"}
        Norms of the counterfactual search (classifiers only, ``m >= 2``).
    tol : Tolerances
        The numerical knobs (``docs/design.md`` section 4).
    counterfactual_method : {"catalogue", "milp"}
        ``catalogue``: the nearest-first search of :func:`counterfactual`
        (both norms; ``searches`` says how each went); ``milp``: one MILP per
        other label, l_inf only, as a cross-check.
    timeout : float, optional
        Seconds for the counterfactual searches (also bounded by any enclosing
        :func:`shallowrelu.limits.deadline`). A catalogue search still running
        then stops and gives the nearest input with another label found so
        far, or none, with ``searches[norm].proven`` False and the distance
        nothing nearer can have (``lower_bound``).

    Returns
    -------
    Explanation

    Raises
    ------
    DomainError
        If ``x`` is outside the catalogue's domain.
    OutOfTime
        If the MILP method runs out of time (it gives no answer so far).

    Examples
    --------
    >>> import numpy as np, shallowrelu as sr
    >>> cat = sr.enumerate_regions(sr.load_network(sr.example_path()), sr.Box(-1, 1))
    >>> e = sr.explain(cat, np.array([0.3, -0.2]), norms=())
    >>> e.radius > 0 and e.facets[0].distance == e.radius
    True
    """
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    i = int(cat.region_of(x)[0])
    if i < 0:
        raise DomainError(f"point {x[0].tolist()} is outside the catalogue's domain")
    r = cat[i]
    y = r.A @ x[0] + r.d
    m = y.shape[0]
    contributions = []
    for j in range(m):
        c = r.A[j] * x[0]
        order = np.argsort(-np.abs(c), kind="stable")[:top]
        contributions.append([(int(k) + 1, float(c[k])) for k in order])
    dist = -(r.G @ x[0] + r.g)
    facets = sorted((FacetReport(nid, f"{_neuron_name(nid)}: {_inequality(a, c)}", float(dd), a, float(c))
                     for nid, a, c, dd in zip(r.neurons, r.G, r.g, dist)), key=lambda f: f.distance)
    radius = facets[0].distance if facets else np.inf
    foot = x[0] - facets[0].distance * -facets[0].normal if facets else None
    label = int(np.argmax(y)) if m >= 2 else None
    if counterfactual_method not in COUNTERFACTUAL_METHODS:
        raise ValueError(f"unknown counterfactual method {counterfactual_method!r}")
    cfs, searches = [], {}
    with nullcontext() if timeout is None else deadline(time.time() + timeout):
        if label is not None and counterfactual_method == "milp" and "inf" in norms:
            cfs = [c for c in [counterfactual_milp(cat, x, label)] if c is not None]
        elif label is not None:
            for norm in norms:
                found, searches[norm] = _NearestFirst(cat, x[0], label, norm, tol).run()
                cfs += [] if found is None else [found]
    gates = []
    if shallow is not None:
        for gidx, value in shallow.open_gates(x[0]).items():
            reg, dim, coef = (int(v) for v in shallow.gates[gidx])
            gates.append(GateReport(gidx, reg, dim, coef, value))
    return Explanation(point=x[0], region=i, pattern=r.pattern, A=r.A, d=r.d, output=y, label=label,
                       contributions=contributions, facets=facets, radius=float(radius),
                       nearest_facet_point=foot, counterfactuals=cfs, gates=gates, classes=cat.network.labels,
                       searches=searches)


def report_lines(e: Explanation) -> list[str]:
    """The explanation as a readable text report."""
    n = e.point.size
    lines = [f"input x = {np.round(e.point, 6).tolist()}",
             f"region #{e.region}, activation pattern {''.join('1' if b else '0' for b in e.pattern)}",
             f"output y = {np.round(e.output, 6).tolist()}" + (f", label {e.class_of(e.label)}"
                                                              if e.label is not None else ""),
             "local model y = A x + d:"]
    for j in range(e.A.shape[0]):
        terms = " ".join(f"{v:+.4g}*x{k + 1}" for k, v in enumerate(e.A[j]))
        top = ", ".join(f"x{k} {v:+.4g}" for k, v in e.contributions[j])
        lines.append(f"  y{j + 1} = {terms} {e.d[j]:+.4g}   (largest contributions: {top})")
    lines.append(f"the model holds on a ball of radius {e.radius:.4g} around x; nearest facet point "
                 f"{None if e.nearest_facet_point is None else np.round(e.nearest_facet_point, 6).tolist()}")
    lines.append(f"facets ({len(e.facets)}), nearest first:")
    lines += [f"  {f.distance:.4g} away  {f.inequality}" for f in e.facets]
    found = {c.norm: c for c in e.counterfactuals}
    lines += [_counterfactual_line(e, norm, found.get(norm), e.searches.get(norm))
              for norm in dict.fromkeys([*e.searches, *found])]
    if e.gates:
        total = sum(g.coefficient * g.value for g in e.gates)
        lines.append(f"shallow network: {len(e.gates)} open gate(s) at x, sum of c * (A x + d) = "
                     f"{np.round(total, 6).tolist()}")
        for g in e.gates:
            kind = "region" if g.dim == n else f"{g.dim}-D face of region"
            lines.append(f"  gate {g.gate}: {kind} #{g.region}, coefficient {g.coefficient:+d}, "
                         f"passes {np.round(g.value, 6).tolist()}")
    return lines


def _counterfactual_line(e: Explanation, norm: str, c: Counterfactual | None,
                         search: CounterfactualSearch | None) -> str:
    """The nearest input with another label in one norm, in words: proven nearest, or the nearest found
    when the time ran out (and how near one could still be), or none."""
    head = f"nearest input with another label (l_{norm})"
    cut = search is not None and not search.proven
    if c is None:
        if cut:
            return f"{head}: none found before the time ran out; none is nearer than {search.lower_bound:.4g}"
        return f"{head}: none, every input of the domain has label {e.class_of(e.label)}"
    if cut:
        head += f", NOT PROVEN NEAREST (the time ran out; none is nearer than {search.lower_bound:.4g})"
    changed = ", ".join(f"x{k} {v:+.4g}" for k, v in c.changed.items())
    how = c.method
    if search is not None:
        solved = f"{search.solves:,} {'LP' if norm == 'inf' else 'QP'}{'' if search.solves == 1 else 's'}"
        how += f": {solved} in {search.examined:,} of {search.regions:,} regions"
    return (f"{head}: {np.round(c.point, 6).tolist()}, label {e.class_of(c.label)}, distance {c.distance:.4g}; "
            f"changes {changed} [{how}]")
