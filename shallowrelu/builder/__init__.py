"""From the catalogue to the equivalent network with three weight layers and extended-real weights.

The rooms, in the order :func:`build_shallow` and :func:`check_equivalence` use them:

- :mod:`.estimate`: what the face lattice would take, and the construction chosen by it;
- :mod:`.faces`: the face lattice of the region complex (the ``faces`` gates);
- :mod:`.construct`: the layers, gate by gate, hyperplane neurons shared;
- :mod:`.shallow`: the network as data, its evaluators and its file;
- :mod:`.index`: which gates can be open at a point;
- :mod:`.extended`: extended-real arithmetic (``0 * inf = 0``);
- :mod:`.check`: the shallow network against the deep one on probe points.

Reads catalogues; never enumerates regions. LPs only where qhull would be
given too many vertices (cell boxes and vertex probes of high-dimensional
regions) and for the probes' bounding box.
"""

from .check import EquivalenceReport, check_equivalence
from .construct import MODES, build_shallow
from .estimate import FaceEstimate, choose_mode, estimate_faces
from .extended import ExtendedRealError, ext_affine
from .faces import FaceLattice, face_lattice
from .shallow import ShallowNetwork

__all__ = ["EquivalenceReport", "ExtendedRealError", "FaceEstimate", "FaceLattice", "MODES", "ShallowNetwork",
           "build_shallow", "check_equivalence", "choose_mode", "estimate_faces", "ext_affine", "face_lattice"]
