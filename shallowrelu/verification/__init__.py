"""VNN-LIB properties decided on a network, exactly.

The rooms:

- :mod:`.vnnlib`: the property files (input boxes, output constraints, in
  disjunctive normal form), parsed without ``eval``;
- :mod:`.api`: :func:`verify`, falsification first, then one exact method;
- :mod:`.tree`: branch-and-bound over the regions (the region search with
  pruning by sound bounds, one LP per region left);
- :mod:`.milp_method`: the big-M MILP, the independent second method;
- :mod:`.result`: verdicts, the result record, the forward-pass check of a witness.

``sat`` comes only with a counterexample the forward pass confirms;
``unsat`` only when every region was ruled out.
"""

from .api import METHODS, verify
from .result import Verdict, VerifyResult
from .vnnlib import Property, Term, VnnlibError, load_vnnlib, parse_vnnlib

__all__ = ["METHODS", "Property", "Term", "Verdict", "VerifyResult", "VnnlibError", "load_vnnlib", "parse_vnnlib",
           "verify"]
