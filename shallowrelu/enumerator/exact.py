"""The search's exact decisions: a side too thin for float64, and the regions it leaves.

Owns :class:`ExactSides`: the rows of a node of the search in exact rational
arithmetic (the network's float64 weights and the domain's rows taken as the
exact numbers they are), whether a side of a split holds an interior point,
and the ball and facets of a region whose existence was decided so. The
search (:mod:`.search`) asks only where floats leave the answer within the
tolerance; the exact LP is :func:`shallowrelu.polytope.exact.max_margin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..network import ReLUNetwork
from ..polytope.exact import ExactNetwork, Margin, dot, dyadic, max_margin, norm_weight, rational
from ..polytope.hull import AffineHull
from ..tolerances import Tolerances

# Half-width of the box exact decisions look in at last over an unbounded domain.
_UNBOUNDED_BOX = 2.0 ** 30


@dataclass(frozen=True)
class Rows:
    """Exact rows ``A t + c <= 0`` (integer object arrays) and their norm weights."""

    A: np.ndarray
    c: np.ndarray
    w: list[Fraction]


@dataclass(frozen=True)
class Verdict:
    """An exact side decision: ``exists`` (and a float point strictly inside, its margin ``radius``),
    or ``below`` (it exists, thinner than floats can hold: ``radius`` is its inradius)."""

    exists: bool
    below: bool = False
    point: np.ndarray | None = None
    radius: float = 0.0


class ExactSides:
    """Exact decisions for one search: built on first use, as they are rare."""

    def __init__(self, net: ReLUNetwork, hull: AffineHull, box: tuple[np.ndarray, np.ndarray],
                 r_max: float, tol: Tolerances) -> None:
        self.net = ExactNetwork(net)
        self.kinks = net.kinks or [None] * (len(net.layers) - 1)
        P, Dp = dyadic(hull.domain.P)
        p, Dq = dyadic(hull.domain.p)
        D = max(Dp, Dq)
        self.domain = (P * (D // Dp), -p * (D // Dq))
        self.box = box
        self.n = len(box[0])
        self.cap = Fraction(r_max)
        self.resolution = tol.resolution

    def rows(self, layer: int, pattern: np.ndarray, sources: list[tuple[int, int]],
             extra: list[tuple[int, int | None]] = ()) -> Rows:
        """A node's rows, exactly.

        Per source ``(0, i)`` domain row ``i``, ``(l, j)`` unit ``j`` of hidden
        layer ``l - 1`` on its side in ``pattern`` (for a member of a max
        group: ``z_j <= z_w``, ``w`` the member that wins there); plus, for
        units of hidden layer ``layer``, each ``extra`` row ``(j, None)``:
        ``z_j < 0``, ``(j, -1)``: ``z_j > 0``, ``(j, w)``: ``z_j < z_w``.
        """
        forms = self.net.forms(pattern, layer + 1)
        offsets = self.net.offsets
        A, c = [], []
        for l, j in sources:
            if l == 0:
                A.append(self.domain[0][j])
                c.append(self.domain[1][j])
                continue
            f = forms[l - 1]
            bits = pattern[offsets[l - 1]:offsets[l]]
            winner = self._winner(l - 1, j, bits)
            if winner is not None:
                A.append(f.M[j] - f.M[winner])
                c.append(f.v[j] - f.v[winner])
                continue
            sign = -1 if bits[j] else 1
            A.append(sign * f.M[j])
            c.append(sign * f.v[j])
        f = forms[layer]
        for j, other in extra:
            if other is None or other == -1:
                sign = 1 if other is None else -1
                A.append(sign * f.M[j])
                c.append(sign * f.v[j])
            else:
                A.append(f.M[j] - f.M[other])
                c.append(f.v[j] - f.v[other])
        return Rows(np.array(A, dtype=object).reshape(len(A), -1), np.array(c, dtype=object),
                    [norm_weight(a) for a in A])

    def _winner(self, layer: int, j: int, bits: np.ndarray) -> int | None:
        """The member of unit ``j``'s max group that wins under ``bits`` (None for an elementwise unit)."""
        k = self.kinks[layer]
        if k is None or k.group[j] < 0:
            return None
        members = np.flatnonzero(k.group == k.group[j])
        return int(members[np.asarray(bits, dtype=bool)[members]][0])

    def _margin(self, rows: Rows) -> Margin:
        """:func:`max_margin` in the domain's box, grown a little (over an unbounded domain, in
        ``|t| <= 2^30``). The optimum of a set that reaches far is one of its vertices, which can
        lie where floats resolve no thin set: such a set is tried again in growing boxes around
        the origin, the first where it is above resolution kept."""
        best = self._in_box(rows, _UNBOUNDED_BOX)
        if np.all(np.isfinite(self.box)) or best.value <= 0 or self._verdict(best).exists:
            return best
        reach = 1.0
        while reach < _UNBOUNDED_BOX:
            near = self._in_box(rows, reach)
            if self._verdict(near).exists:
                return near
            reach *= 8
        return best

    def _in_box(self, rows: Rows, reach: float) -> Margin:
        """:func:`max_margin` of ``rows`` in the domain's box grown by 1 (``reach`` where it is unbounded)."""
        lo = np.where(np.isfinite(self.box[0]), self.box[0], -reach)
        hi = np.where(np.isfinite(self.box[1]), self.box[1], reach)
        return max_margin(rows.A, rows.c, rows.w, rational(lo - (1 + np.abs(lo))), rational(hi + (1 + np.abs(hi))),
                          self.cap)

    def _verdict(self, best: Margin) -> Verdict:
        """What an exact margin says: empty, below float resolution, or a float point inside."""
        if best.value <= 0:
            return Verdict(False)
        point = np.array([float(v) for v in best.point])
        radius = float(best.value)
        if radius < self.resolution * (1.0 + np.abs(point).max()):
            return Verdict(False, below=True, radius=radius)
        return Verdict(True, point=point, radius=radius)

    def side(self, layer: int, pattern: np.ndarray, sources: list[tuple[int, int]],
             extra: list[tuple[int, int | None]]) -> Verdict:
        """Whether the node of :meth:`rows` meets the ``extra`` rows (strictly) in an open set."""
        return self._verdict(self._margin(self.rows(layer, pattern, sources, extra)))

    def ball(self, layer: int, pattern: np.ndarray, sources: list[tuple[int, int]]) -> tuple[np.ndarray, float]:
        """A region's largest ball (centre rounded to floats, radius) from its exact rows."""
        best = self._margin(self.rows(layer, pattern, sources))
        return np.array([float(v) for v in best.point]), float(best.value)

    def facets(self, layer: int, pattern: np.ndarray, sources: list[tuple[int, int]], centre: np.ndarray,
               which: np.ndarray):
        """Which of the rows ``which`` of a region are facets, decided exactly, given the float point
        ``centre`` inside the region (its exact ball is used when rounding put it outside).

        A row is a facet when without it the region would grow by a set
        above float resolution.

        Returns
        -------
        (facet, point, margin)
            Over the rows ``which``: the facet mask, a point on each facet and
            that point's distance to the other rows.
        """
        rows = self.rows(layer, pattern, sources)
        inner = rational(centre)
        if any(dot(A, inner) + c >= 0 for A, c in zip(rows.A, rows.c)):
            inner = self._margin(rows).point
        facet, point, margin = self._facets(rows, inner, which)
        return facet[which], point[which], margin[which]

    def _facets(self, rows: Rows, centre: list[Fraction], which) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Facet mask, a point on each facet and its margin, for the rows ``which`` (exactly)."""
        k, n = len(rows.c), self.n
        facet = np.zeros(k, dtype=bool)
        point = np.zeros((k, n))
        margin = np.zeros(k)
        dropped: set[int] = set()
        for f in which:
            # Each row is tested without the rows in doubt already found to be no facets: of two rows that
            # are (nearly) one inequality, one is redundant given the other, and the other is the facet.
            kept = [d for d in range(k) if d not in dropped]
            flipped = Rows(rows.A[kept].copy(), rows.c[kept].copy(), [rows.w[d] for d in kept])
            at = kept.index(f)
            flipped.A[at], flipped.c[at] = -rows.A[f], -rows.c[f]
            beyond = self._margin(flipped)
            # Without the row the region would grow by the set beyond it: a row
            # whose set is below resolution (its facet too: a sliver's end)
            # is no facet at float resolution.
            if not self._verdict(beyond).exists:
                dropped.add(f)
                continue
            # Where the segment from the centre to the point beyond row f crosses it: on the facet,
            # strictly inside every other row.
            at_c = dot(rows.A[f], centre) + rows.c[f]
            at_b = dot(rows.A[f], beyond.point) + rows.c[f]
            lam = at_c / (at_c - at_b)
            x = [xc + lam * (xb - xc) for xc, xb in zip(centre, beyond.point)]
            others = [-(dot(rows.A[i], x) + rows.c[i]) / rows.w[i] for i in kept if i != f]
            facet[f] = True
            point[f] = [float(v) for v in x]
            margin[f] = float(min(others, default=Fraction(1)))
        return facet, point, margin

