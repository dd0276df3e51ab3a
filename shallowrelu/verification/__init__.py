"""VNN-LIB properties decided on a network, exactly.

The rooms:

- :mod:`.vnnlib`: the property files (input boxes, output constraints, in
  disjunctive normal form: :class:`Disjunct`), parsed without ``eval``;
- :mod:`.api`: :func:`verify`, falsification first, then the methods that
  suit the network, disjunct by disjunct;
- :mod:`.strategy`: the interface every method has (run until a time; an
  outcome once decided; a record of the work) and :mod:`.scheduler`, which
  runs methods in turns or races them in processes;
- :mod:`.falsify`: random points, the gradient attack (PGD with restarts)
  and the region walk;
- :mod:`.input_split`: branch-and-bound over input sub-boxes (few inputs);
- :mod:`.neuron_split`: branch-and-bound over ReLUs (beta-CROWN; many inputs);
- :mod:`.tree`: the exact region search with pruning by sound bounds;
- :mod:`.milp_method`: the big-M MILP, the independent second method;
- :mod:`.result`: verdicts, what decided, the work record, the result
  record, the witness checks (forward pass, onnxruntime).

``sat`` comes only with a counterexample the forward pass confirms;
``unsat`` only when every piece of every disjunct was ruled out by a sound
bound with a rounding margin or an exact method.
"""

from .api import METHODS, verify
from .result import Decider, Verdict, VerifyResult, Work
from .vnnlib import Disjunct, Property, Term, VnnlibError, load_vnnlib, parse_vnnlib

__all__ = ["METHODS", "Decider", "Disjunct", "Property", "Term", "Verdict", "VerifyResult", "VnnlibError", "Work",
           "load_vnnlib", "parse_vnnlib", "verify"]
