"""shallowrelu: exact activation regions of ReLU networks and their three-layer form."""

from .catalogue import Catalogue, Certificate, Region
from .enumerator import enumerate_regions
from .errors import (CatalogueFormatError, DomainError, NetworkFormatError, ShallowReLUError,
                     SolverError)
from .io import example_path, load_network, network_from_arrays, save_network
from .network import ReLUNetwork
from .polytope import Box, Polytope
from .tolerances import Tolerances

__version__ = "0.1.0"

__all__ = [
    "Box", "Catalogue", "CatalogueFormatError", "Certificate", "DomainError", "NetworkFormatError",
    "Polytope", "ReLUNetwork", "Region", "ShallowReLUError", "SolverError", "Tolerances",
    "enumerate_regions", "example_path", "load_network", "network_from_arrays", "save_network",
]
