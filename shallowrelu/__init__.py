"""shallowrelu: exact activation regions of ReLU networks and their three-layer form.

The names of the public API are loaded on first use, so that ``import
shallowrelu`` and ``shallowrelu --help`` cost almost nothing and a command
pays only for the modules it runs (``verify`` never loads the shallow
network's scipy.sparse, ``enumerate`` never loads PuLP). ``dir(shallowrelu)``
lists the API and nothing else.
"""

from __future__ import annotations

import importlib

# Each public name and the module it comes from.
_EXPORTS = {
    "EquivalenceReport": ".builder", "ExtendedRealError": ".builder", "FaceLattice": ".builder",
    "ShallowNetwork": ".builder", "build_shallow": ".builder", "check_equivalence": ".builder",
    "ext_affine": ".builder", "face_lattice": ".builder",
    "Catalogue": ".catalogue", "Certificate": ".catalogue", "Region": ".catalogue",
    "enumerate_regions": ".enumerator",
    "Explanation": ".explanation", "counterfactual": ".explanation", "explain": ".explanation",
    "OutputBounds": ".milp", "PatternCount": ".milp", "count_patterns": ".milp", "output_bounds": ".milp",
    "CatalogueFormatError": ".errors", "DomainError": ".errors", "NetworkFormatError": ".errors",
    "ShallowReLUError": ".errors", "SolverError": ".errors",
    "example_path": ".io", "from_sklearn": ".io", "from_torch": ".io", "load_network": ".io",
    "network_from_arrays": ".io",
    "save_network": ".io",
    "ReLUNetwork": ".network",
    "Box": ".polytope", "Polytope": ".polytope", "Slice": ".polytope",
    "Tolerances": ".tolerances",
    "Property": ".verification", "Verdict": ".verification", "VerifyResult": ".verification",
    "VnnlibError": ".verification", "load_vnnlib": ".verification", "parse_vnnlib": ".verification",
    "verify": ".verification",
}

__all__ = sorted(_EXPORTS)


def _version() -> str:
    """The installed package's version, from its metadata (pyproject.toml is the one source)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shallowrelu")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str):
    """A public name, imported from its module on first use."""
    if name == "__version__":
        globals()[name] = _version()
        return globals()[name]
    if name not in _EXPORTS:
        raise AttributeError(f"module 'shallowrelu' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public API only."""
    return [*__all__, "__version__"]
