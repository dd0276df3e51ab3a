"""Networks in and out, and the safe file primitives every file of the project is written with.

- :mod:`.load`: :func:`load_network` picks the reader by suffix;
- :mod:`.npz`, :mod:`.nnet`, :mod:`.onnx`, :mod:`.torch`, :mod:`.sklearn`: one
  reader per format; :mod:`.onnx_ops` what each ONNX operator means,
  :mod:`.trace` the traced graph and its lowering to layers;
- :mod:`.onnx_export`: the shallow network as an ONNX graph, from its arrays;
- :mod:`.files`: reading untrusted ``.npz`` files, atomic writes, append-only logs.

Files come from other people: nothing is unpickled, sizes are checked before
anything is allocated.
"""

from .load import example_path, load_network, save_network
from .npz import network_from_arrays
from .sklearn import from_sklearn
from .torch import from_torch

__all__ = ["example_path", "from_sklearn", "from_torch", "load_network", "network_from_arrays", "save_network"]
