"""Every numerical threshold of the package, in one place (``docs/design.md`` section 4).

Two kinds live here:

- :class:`Tolerances`: the user's knobs, one frozen object passed down
  explicitly and recorded in every catalogue's ``info["tolerances"]``;
- the internal guards below: fixed constants that keep rounding out of a
  decision, each with the reason for its value. They are not options: a
  different value would not give a different correct answer, only a wrong one.

No other module keeps a numerical threshold of its own or a global setting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Tolerances:
    """The user's numerical knobs, passed explicitly.

    Parameters
    ----------
    lp_feasibility : float
        Primal and dual feasibility tolerance given to HiGHS.
    min_radius : float
        Floats decide a side of a split that holds a ball of this radius
        (input units) or is clearly empty; a side in between is decided in
        exact rational arithmetic (``info["exact_decisions"]``), so a region
        however thin is found. The regions always meet face to face.
    resolution : float
        Regions whose inradius is below this, relative to the size of their
        centre (``r < resolution * (1 + max|t|)``), exist but cannot be held by
        float64 centres and facets: they are counted in
        ``info["below_resolution"]``, not stored, and their points belong to
        a neighbour.
    min_inradius : float
        Regions that hold no ball of this radius are reported as ``thin``
        (how many, and the thinnest); they stay in the catalogue.
    facet_margin : float
        A candidate inequality is a facet if a point of its hyperplane lies
        this far inside every other inequality of the region.
    equivalence : float
        Allowed error of the shallow network, relative to the output scale.
    radius_cap : float
        Chebyshev radius cap over unbounded domains (the LP bounds the
        radius, never the space).
    boundary : float
        A gate of the shallow network is open within this distance of its
        closed polytope, so a point on a shared boundary opens the gates of
        both sides whatever the rounding of its coordinates.
    """

    lp_feasibility: float = 1e-10
    min_radius: float = 2e-9
    resolution: float = 1e-14
    min_inradius: float = 1e-7
    facet_margin: float = 1e-9
    equivalence: float = 1e-9
    radius_cap: float = 1.0
    boundary: float = 1e-11

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise ValueError(f"tolerance {name} must be positive, got {value!r}")

    def record(self) -> dict[str, float]:
        """The knobs as plain JSON, as a catalogue keeps them."""
        return asdict(self)

    @classmethod
    def from_info(cls, info: dict) -> "Tolerances":
        """The tolerances a catalogue was made with (its ``info``).

        Catalogues written before the record existed kept ``min_radius`` and
        ``min_inradius`` as keys of their own; the other knobs were the defaults.
        """
        if "tolerances" in info:
            return cls(**info["tolerances"])
        return cls(**{k: info[k] for k in ("min_radius", "min_inradius") if k in info})


DEFAULT_TOLERANCES = Tolerances()

# -- Internal guards ---------------------------------------------------------
# Scales: float64 rounds a well-scaled sum to about 1e-16 relative; the search
# resolves features down to min_radius (2e-9). A guard sits between the two,
# far above rounding and far below anything the answer depends on.

TINY = 1e-300
"""Floor of a norm or width used as a divisor: keeps a zero from dividing, changes no real value."""

RANK_REL = 1e-12
"""A singular value below this, relative to the largest (or 1), is zero: rounding, not a direction."""

SINGULAR_DET = 1e-12
"""A system of unit rows with a smaller determinant is singular: its solution would be rounding."""

PIVOT_MIN = 1e-13
"""The compiled elimination gives up on a smaller pivot and leaves the system to numpy's lstsq."""

ROUNDING_REL = 1e-12
"""Relative slack for rounding where a bound must never cut into the set it bounds."""

VERTEX_TOL = 1e-9
"""A vertex lies on a hyperplane within this distance (relative to 1 + its size): above the rounding of a
vertex carried through dozens of cuts, below any feature the search resolves."""

NODE_VERTICES_MAX = 2048
"""A node of the search keeps at most this many vertices; past it (or past the upper bound theorem's count for
its rows, which only repeats reach) it is searched by its rows and LPs. The cut's pair test grows with the
square of the vertex count: a node of a 5-D search has tens to hundreds, and a corner where near-parallel
hyperplanes meet can breed thousands of near-repeats, which once took 5 GB in one cut."""

EDGE_SINGULAR_MIN = 1e-9
"""Rows tight at two vertices meet in a line when their (n-1)-th singular value exceeds this (unit rows)."""

SPAN_TOL = 1e-11
"""Vertices of a face closer than this (relative) are one vertex counted twice."""

FIT_REL = 1e-10
"""A ball or vertex solved from a few rows fits the others within this (relative) rounding."""

FACE_TOL = 1e-11
"""A vertex lies on a facet of the shallow network's complex within this (relative) distance: above qhull's
rounding, below the gap of a sliver between nearly parallel hyperplanes (which must stay two faces)."""

FACE_RANK_TOL = 1e-9
"""Rank tolerance of the unit rows tight on a face: its dimension is ``n`` minus that rank."""

INRADIUS_BOUND_SLACK = 1e-6
"""Inradius bounds from vertices are trusted to this relative accuracy before they decide a side."""

RAY_CROSS_MIN = 1e-12
"""A ray from a region's centre crosses a row only where it heads into it faster than this."""

RAY_TIE_REL, RAY_TIE_ABS = 1e-9, 1e-12
"""A ray meets one row alone when the next row is farther by this much: closer is a tie, decided by LP."""

DOMAIN_ROW_DECIMALS = 12
"""Domain rows equal to this many decimals (unit normals) are one row: a repeat would hide its facet."""

KKT_ZERO_STEP = 1e-13
"""The active-set nearest point stops when its step is this small (relative to the problem's size)."""

KKT_MULTIPLIER = 1e-12
"""A multiplier above minus this counts as non-negative (rounding of a multiplier at zero)."""

KKT_ENTER = 1e-15
"""A row blocks the active-set step only where the step heads into it faster than this."""

KKT_PROOF = 1e-9
"""A nearest point or ball is accepted on its KKT conditions to this relative error."""

FALLBACK_LP_FEASIBILITY = 1e-7
"""HiGHS's tolerance on the last retry of a failing LP (presolve on): looser, for a model that is ill-scaled."""

VOLUME_REL = 1e-6
"""Region volumes must add up to the domain's to this relative error (qhull's joggle moves ~1e-11)."""

LOCATE_SLACK = 10.0
"""A point this many min_radius outside a closed region (relative to its size) still belongs to it."""

NEAR_FACET_STEP = 1e-9
"""``check`` probes this far to either side of every facet."""

GATE_MARGIN = 1e-9
"""A gate's box is widened by this (relative) so that rounding never closes it on its own region."""

GATE_MOVED = 1e-6
"""A fixed coordinate that moves by more than this (relative) leaves the gate's box unbounded that way."""

SPAN_ACTIVE = 1e-6
"""An axis along which the gates' boxes spread less than this (relative) is not binned by the gate index."""

INDEX_CLIP = 1e18
"""Bin numbers of infinite coordinates are clipped here before the cast to integers."""

BOUND_MARGIN = 1e-9
"""A bound must clear zero by this (relative to 1 + the threshold) to prove a property: above the rounding in
the bound, below any violation a forward pass confirms."""

WITNESS_SLACK = 1e-9
"""A counterexample must meet the output constraints to this absolute slack."""

RUNTIME_WITNESS_ATOL, RUNTIME_WITNESS_RTOL = 1e-4, 1e-3
"""A counterexample is confirmed by onnxruntime, as VNN-COMP checks it, when the runtime's outputs agree with
ours to ``RTOL`` (relative) and meet the constraints to ``ATOL``: a float32 model rounds to about 1e-7."""

MILP_PROOF_MARGIN = 1e-5
"""The MILP proves a disjunct empty when no input violates it by less than this (relative to 1 + max |e|);
HiGHS keeps MIP constraints to about 1e-6, so infeasibility with this cutoff is not a rounding artefact."""

MIN_SPLIT_WIDTH = 1e-9
"""A box narrower than this (relative to the disjunct's box) in every coordinate is not split again."""

WALK_STEP = 1e-7
"""The region walk of the falsifier steps this far (relative to the box) past a facet into the next region."""

WALK_PROGRESS = 1e-12
"""The region walk stops when an LP improves the margin by less than this."""

LABEL_MARGIN = 1e-9
"""A counterfactual must beat every other label by this much, so that it really has the new label."""

MILP_LABEL_MARGIN = 1e-5
"""The MILP's counterfactual margin, above HiGHS's MIP feasibility tolerance (1e-6)."""

MILP_COUNT_MARGIN = 1e-7
"""A pattern counted by the MILP must hold a point this far inside every one of its neurons' sides."""

PRINT_ZERO = 1e-12
"""Coefficients and moves smaller than this are left out of printed explanations."""

RUNTIME_AGREE_F32, RUNTIME_AGREE_F64 = 1e-4, 1e-9
"""A graph as read must agree with onnxruntime to this, relative to the output's size: onnxruntime computes
a float32 graph in float32 (we in float64); a misread graph is off by far more."""
