"""What a verification answers: the verdict words, the result record, and the witness check.

Owns :class:`Verdict` (mapped to the VNN-COMP words in one place),
:class:`VerifyResult` with its JSON and VNN-COMP renderings, and
:func:`meets`: a counterexample counts only when the deep network's forward
pass confirms it. Every method of this package reports through these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from ..network import ReLUNetwork
from .vnnlib import Term
from ..tolerances import WITNESS_SLACK


class Verdict(Enum):
    """Verdict words as VNN-COMP writes them; the property describes the unsafe set."""

    SAT = "sat"          # a counterexample exists: the safety property is violated
    UNSAT = "unsat"      # no input meets the unsafe constraints: the property holds
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class VerifyResult:
    """The answer, with a confirmed counterexample for ``sat``.

    Parameters
    ----------
    verdict : Verdict
    seconds : float
    x, y : ndarray or None
        The counterexample and the network's output there (``sat`` only).
    regions : int
        Regions checked by an LP.
    pruned : int
        Nodes of the region search closed by bounds.
    note : str
        Why the answer is ``unknown`` or ``timeout``, where it is.
    decided_by : str
        What settled it (below).
    boxes : int
        Input boxes bounded.
    exact_boxes : int
        Boxes handed to the region search.

    ``decided_by`` says what settled it: ``falsified`` (random points, the
    gradient attack or the region walk found the counterexample),
    ``bound`` (the bound of the whole box closed it), ``input split``
    (sub-boxes closed by bounds, small ones by the region search),
    ``region search`` or ``MILP`` (those methods alone). ``boxes`` counts the
    boxes bounded, ``exact_boxes`` those handed to the region search.
    """

    verdict: Verdict
    seconds: float
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    regions: int = 0
    pruned: int = 0
    note: str = ""
    decided_by: str = ""
    boxes: int = 0
    exact_boxes: int = 0

    def as_dict(self) -> dict:
        """JSON-ready: the verdict, how it was reached (``decided_by``) and the work it took."""
        out = {"verdict": self.verdict.value, "seconds": self.seconds, "regions_checked": self.regions,
               "nodes_pruned": self.pruned, "decided_by": self.decided_by, "boxes": self.boxes,
               "exact_boxes": self.exact_boxes}
        if self.x is not None:
            out["counterexample"] = {"x": self.x.tolist(), "y": self.y.tolist()}
        if self.note:
            out["note"] = self.note
        return out

    def vnncomp_text(self) -> str:
        """The VNN-COMP result file: the verdict, then the witness for ``sat``."""
        if self.verdict is not Verdict.SAT:
            return self.verdict.value + "\n"
        pairs = ([f"(X_{i} {float(v)!r})" for i, v in enumerate(self.x)]
                 + [f"(Y_{j} {float(v)!r})" for j, v in enumerate(self.y)])
        return "sat\n(" + "\n".join(pairs) + ")\n"


def meets(net: ReLUNetwork, term: Term, X: np.ndarray) -> np.ndarray:
    """Which rows of ``X`` lie in the term's box and give outputs meeting its constraints."""
    Y = net(X)
    inside = np.all((X >= term.lo) & (X <= term.hi), axis=1)
    return inside & np.all(Y @ term.C.T <= term.e + WITNESS_SLACK, axis=1)
