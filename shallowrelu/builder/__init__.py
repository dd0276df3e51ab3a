"""From the catalogue to the equivalent network with three weight layers and extended-real weights.

The rooms, in the order :func:`build_shallow` and :func:`check_equivalence` use them:

- :mod:`.faces`: the face lattice of the region complex (the ``faces`` gates);
- :mod:`.construct`: the layers, gate by gate, hyperplane neurons shared;
- :mod:`.shallow`: the network as data, its evaluators and its file;
- :mod:`.index`: which gates can be open at a point;
- :mod:`.extended`: extended-real arithmetic (``0 * inf = 0``);
- :mod:`.check`: the shallow network against the deep one on probe points.

Reads catalogues; never enumerates regions or calls the LP solver but for
the probes' bounding box.
"""

from .check import EquivalenceReport, check_equivalence
from .construct import MODES, build_shallow
from .extended import ExtendedRealError, ext_affine
from .faces import FaceLattice, face_lattice
from .shallow import ShallowNetwork

__all__ = ["EquivalenceReport", "ExtendedRealError", "FaceLattice", "MODES", "ShallowNetwork", "build_shallow",
           "check_equivalence", "ext_affine", "face_lattice"]
