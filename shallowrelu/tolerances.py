"""The one tolerance object of the package (DESIGN.md section 4).

Every numerical threshold lives here and is passed down explicitly; no
other module keeps a global numerical setting.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerances:
    """Every numerical threshold, passed explicitly.

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


DEFAULT_TOLERANCES = Tolerances()
