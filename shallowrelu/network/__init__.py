"""The deep network as data: layers, the kinks of each hidden layer, the forward pass.

- :mod:`.network`: :class:`ReLUNetwork`, the forward pass (the oracle), patterns and maps;
- :mod:`.kinks`: :class:`Kinks`, the kinds of kink a hidden layer can have.
"""

from .kinks import Kinks
from .network import MAX_WEIGHTS, Layer, ReLUNetwork, as_network

__all__ = ["MAX_WEIGHTS", "Kinks", "Layer", "ReLUNetwork", "as_network"]
