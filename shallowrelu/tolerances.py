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
        A side of a split is a region only if it holds a ball of this radius
        (input units): thinner sets are lower-dimensional as far as the LP
        solver can tell. Every thicker one is kept, so the regions always meet
        face to face.
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
