"""Sound bounds on a network's values over boxes, with no LP (``docs/design.md`` section 3).

The rooms:

- :mod:`.interval`: interval arithmetic (the range of an affine function
  over a box, one-row box tightening, a layer's output range);
- :mod:`.relax`: the lines that bound each unit's output (CROWN's, with the
  lower slopes free for alpha-CROWN; max groups relaxed as a whole);
- :mod:`.backward`: the one batched backward pass, per-domain
  intermediate bounds, split constraints with multipliers (beta-CROWN),
  and the wrappers the rest of the package calls;
- :mod:`.optimise`: lower slopes and split multipliers optimised by
  gradient ascent (alpha- and beta-CROWN), the gradient from one forward
  pass.

Every bound here is sound for any choice of slopes and multipliers in
their ranges; callers add a margin for float rounding before a bound
decides anything.
"""

from .backward import (Backward, TailBound, adjoint, apply_split, backward, box_bounds, combined_lower,
                       hidden_bounds, layer_bounds, linear_bounds, points_min, tail_bounds)
from .interval import affine_range, interval_bounds, output_range, tighten_box
from .relax import Relaxation, relax

__all__ = ["Backward", "Relaxation", "TailBound", "adjoint", "affine_range", "apply_split", "backward",
           "box_bounds", "combined_lower", "hidden_bounds", "interval_bounds", "layer_bounds", "linear_bounds",
           "output_range", "points_min", "relax", "tail_bounds", "tighten_box"]
