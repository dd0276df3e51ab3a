"""shallowrelu: exact activation regions of ReLU networks and their three-layer form."""

from .builder import (EquivalenceReport, ExtendedRealError, FaceLattice, ShallowNetwork, build_shallow,
                      check_equivalence, ext_affine, face_lattice)
from .catalogue import Catalogue, Certificate, Region
from .enumerator import enumerate_regions
from .explain import Explanation, counterfactual, explain
from .milp import OutputBounds, PatternCount, count_patterns, output_bounds
from .errors import (CatalogueFormatError, DomainError, NetworkFormatError, ShallowReLUError,
                     SolverError)
from .io import example_path, from_torch, load_network, network_from_arrays, save_network
from .network import ReLUNetwork
from .polytope import Box, Polytope
from .tolerances import Tolerances
from .verify import Property, Verdict, VerifyResult, VnnlibError, load_vnnlib, parse_vnnlib, verify

__version__ = "0.1.0"

__all__ = [
    "Box", "Catalogue", "CatalogueFormatError", "Certificate", "DomainError", "EquivalenceReport",
    "Explanation", "ExtendedRealError", "FaceLattice", "NetworkFormatError", "OutputBounds", "PatternCount",
    "Polytope", "ReLUNetwork", "Region", "ShallowNetwork", "ShallowReLUError", "SolverError", "Tolerances",
    "build_shallow", "check_equivalence", "count_patterns", "counterfactual", "enumerate_regions",
    "example_path", "explain", "ext_affine", "face_lattice", "from_torch", "load_network", "network_from_arrays",
    "output_bounds", "save_network", "Property", "Verdict", "VerifyResult", "VnnlibError", "load_vnnlib",
    "parse_vnnlib", "verify",
]
