"""H-polytopes and everything the project computes on them.

The rooms, from plain data down to the solver:

- :mod:`.domain`: boxes and H-polytopes (the domains), row normalisation;
- :mod:`.hull`: a flat domain reparametrised over its affine hull;
- :mod:`.lp`: the one seam to HiGHS (Chebyshev balls, LPs, nearest points);
- :mod:`.vertices`, :mod:`.polygon`: vertex sets and their cuts, no LP;
- :mod:`.leaves`: a region's facets and ball from its vertices, in batches;
- :mod:`.volume`: volumes for the completeness certificate;
- :mod:`.kernels`, :mod:`.compiled`: the numba kernels and when to use them.

Only the domain types are imported here, so that naming a domain does not
load the solver; the other modules are imported by name where they are used.
"""

from .domain import Box, Domain, Polytope, Slice, as_polytope, normalise_rows

__all__ = ["Box", "Domain", "Polytope", "Slice", "as_polytope", "normalise_rows"]
