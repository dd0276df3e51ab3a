"""One region of a catalogue as a user sees it: :class:`Region`, in input coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DOMAIN_FACET = "domain"
"""The source named for a facet that is a facet of the domain, not of a neuron."""

Neuron = tuple[int, int] | str
"""A facet's source: ``(layer, index)`` of a hidden neuron (layers from 1), or :data:`DOMAIN_FACET`."""


@dataclass(frozen=True)
class Region:
    """One full-dimensional activation region, in input coordinates.

    Attributes
    ----------
    index : int
        Position in the catalogue.
    pattern : ndarray of bool, shape (N,)
        Activation pattern (neuron active iff ``z > 0``).
    A, d : ndarray
        The network on this region: ``y = A x + d``.
    G, g : ndarray
        Facets in closed form ``G x + g <= 0``, irredundant, unit normals.
    neurons : tuple
        Per facet, the hidden neuron ``(layer, index)`` (layers from 1) whose
        hyperplane it lies on, or ``"domain"``.
    interior : ndarray, shape (n,)
        Centre of the largest ball in the region (Chebyshev centre).
    inradius : float
        Radius of that ball (capped at ``info["radius_cap"]`` when unbounded).
    """

    index: int
    pattern: np.ndarray
    A: np.ndarray
    d: np.ndarray
    G: np.ndarray
    g: np.ndarray
    neurons: tuple[Neuron, ...]
    interior: np.ndarray
    inradius: float

    def __repr__(self) -> str:
        return (f"Region({self.index}: {self.G.shape[0]} facets, inradius {self.inradius:.3g}, "
                f"{int(self.pattern.sum())} of {self.pattern.size} neurons active)")
