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

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .catalogue import DOMAIN_FACET, Catalogue
from .choices import COUNTERFACTUAL_METHODS
from .errors import DomainError
from .polytope.lp import nearest_point
from .tolerances import DEFAULT_TOLERANCES, LABEL_MARGIN, PRINT_ZERO, Tolerances

if TYPE_CHECKING:  # only named in annotations: building the network (scipy.sparse) is the caller's
    from .builder import ShallowNetwork



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
    method: str = "catalogue (one LP or QP per region and label)"


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
        The network's class names, one per output (None: the labels are the output indices)."""

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

    def class_of(self, label: int | None) -> str | None:
        """The class name of an output index (its index in words where the network has no labels)."""
        if label is None:
            return None
        return self.classes[label] if self.classes is not None else str(label)

    def as_dict(self) -> dict:
        """JSON-ready, with the keys promised by the CLI."""
        cf = {c.norm: {"point": c.point.tolist(), "label": c.label, "class": self.class_of(c.label),
                       "distance": c.distance, "norm": c.norm,
                       "changed": {str(k): v for k, v in c.changed.items()}, "method": c.method}
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

    Regions are visited in order of a lower bound on their distance from
    ``x`` (the largest violated facet), and one LP (l_inf) or QP (l_2) per
    region and label finds the nearest point there; the search stops when no
    region left can be nearer.

    Parameters
    ----------
    cat : Catalogue
    x : ndarray, shape (n,)
    label : int
        The label at ``x``.
    norm : {"inf", "2"}
    tol : Tolerances
        The numerical knobs (``docs/design.md`` section 4).

    Returns
    -------
    Counterfactual or None
        None when every input of the domain has ``label``.
    """
    t, hull = cat.table, cat.hull
    m = t.A.shape[1]
    xt = hull.to_t(x)[0]
    viol = np.maximum(cat.violation(xt), 0.0)
    if norm == "inf":  # |v|_inf >= a.v / |a|_1 for a unit normal a
        l1 = np.zeros(len(cat))
        np.maximum.at(l1, cat.facet_owner, np.abs(t.facet_G).sum(axis=1))
        bound = viol / np.maximum(l1, 1.0)
    else:
        bound = viol
    best = None
    for r in np.argsort(bound, kind="stable"):
        if best is not None and bound[r] >= best[0]:
            break
        sl = cat.facet_rows(int(r))
        A, d = t.A[r], t.d[r]
        for k in range(m):
            if k == label:
                continue
            others = [j for j in range(m) if j != k]
            # y_j - y_k + margin <= 0 for every other label j
            rows = np.vstack([t.facet_G[sl], A[others] - A[k]])
            rhs = np.concatenate([-t.facet_g[sl], d[k] - d[others] - LABEL_MARGIN])
            res = nearest_point(xt, rows, rhs, norm, tol)
            if res.feasible and (best is None or res.value < best[0]):
                best = (res.value, res.x, k)
    if best is None:
        return None
    return _counterfactual_at(hull.to_x(best[1])[0], x[0], int(best[2]), norm)


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
            counterfactual_method: str = "catalogue") -> Explanation:
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
        ``catalogue``: one LP/QP per region and label (both norms);
        ``milp``: one MILP per other label, l_inf only, as a cross-check.

    Returns
    -------
    Explanation

    Raises
    ------
    DomainError
        If ``x`` is outside the catalogue's domain.

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
    cfs = []
    if label is not None and counterfactual_method == "milp" and "inf" in norms:
        cfs = [c for c in [counterfactual_milp(cat, x, label)] if c is not None]
    elif label is not None:
        cfs = [c for c in (counterfactual(cat, x, label, nm, tol) for nm in norms) if c is not None]
    gates = []
    if shallow is not None:
        for gidx, value in shallow.open_gates(x[0]).items():
            reg, dim, coef = (int(v) for v in shallow.gates[gidx])
            gates.append(GateReport(gidx, reg, dim, coef, value))
    return Explanation(point=x[0], region=i, pattern=r.pattern, A=r.A, d=r.d, output=y, label=label,
                       contributions=contributions, facets=facets, radius=float(radius),
                       nearest_facet_point=foot, counterfactuals=cfs, gates=gates, classes=cat.network.labels)


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
    for c in e.counterfactuals:
        changed = ", ".join(f"x{k} {v:+.4g}" for k, v in c.changed.items())
        lines.append(f"nearest input with another label (l_{c.norm}): {np.round(c.point, 6).tolist()}, "
                     f"label {e.class_of(c.label)}, distance {c.distance:.4g}; changes {changed} [{c.method}]")
    if e.gates:
        total = sum(g.coefficient * g.value for g in e.gates)
        lines.append(f"shallow network: {len(e.gates)} open gate(s) at x, sum of c * (A x + d) = "
                     f"{np.round(total, 6).tolist()}")
        for g in e.gates:
            kind = "region" if g.dim == n else f"{g.dim}-D face of region"
            lines.append(f"  gate {g.gate}: {kind} #{g.region}, coefficient {g.coefficient:+d}, "
                         f"passes {np.round(g.value, 6).tolist()}")
    return lines
