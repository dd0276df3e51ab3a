"""What a verification answers: the verdict words, what decided it, the work it took, the witness checks.

Owns :class:`Verdict` (mapped to the VNN-COMP words in one place),
:class:`Decider` (the fixed set of words for what decided), :class:`Work`
(one record of the work, added up over every method and process),
:class:`VerifyResult` with its JSON and VNN-COMP renderings, and the
witness checks: a counterexample counts only when the deep network's
float64 forward pass confirms it (:func:`meets`), and for an ONNX network
onnxruntime too, in the model's own precision (:func:`runtime_confirms`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum

import numpy as np

from ..network import ReLUNetwork
from ..tolerances import RUNTIME_WITNESS_ATOL, RUNTIME_WITNESS_RTOL, WITNESS_SLACK
from .vnnlib import Disjunct


class Verdict(Enum):
    """Verdict words as VNN-COMP writes them; the property describes the unsafe set."""

    SAT = "sat"          # a counterexample exists: the safety property is violated
    UNSAT = "unsat"      # no input meets the unsafe constraints: the property holds
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


class Decider(Enum):
    """What decided a disjunct: the words of ``decided_by``."""

    FALSIFIED = "falsified"          # random points, the gradient attack or the region walk found a counterexample
    BOUND = "bound"                  # a bound over the disjunct's whole box closed it
    INPUT_SPLIT = "input split"      # input sub-boxes closed by bounds, the smallest by the region search
    NEURON_SPLIT = "neuron split"    # domains of fixed ReLUs closed by optimised bounds (beta-CROWN)
    REGION_SEARCH = "region search"  # the exact search over the activation regions
    MILP = "MILP"                    # the big-M mixed-integer model


@dataclass
class Work:
    """The work a verification did, added up over its methods and processes.

    Attributes
    ----------
    points : int
        Inputs the random sample and the gradient attack evaluated.
    lps : int
        LPs of the region walk.
    boxes : int
        Input boxes bounded by the input split.
    exact_boxes : int
        Boxes it handed to the region search.
    domains : int
        Neuron-split domains bounded.
    regions : int
        Regions the region search checked by LP.
    pruned : int
        Nodes of the region search closed by bounds.
    milps : int
        MILPs solved.
    unconfirmed : int
        Pieces left undecided: an LP failed on every attempt, or found a
        point the forward pass did not confirm (the answer can then not be ``unsat``).
    """

    points: int = 0
    lps: int = 0
    boxes: int = 0
    exact_boxes: int = 0
    domains: int = 0
    regions: int = 0
    pruned: int = 0
    milps: int = 0
    unconfirmed: int = 0

    def add(self, other: "Work") -> None:
        """Add another record's counts to this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        """The counts by name."""
        return asdict(self)


@dataclass(frozen=True)
class VerifyResult:
    """The answer, with a confirmed counterexample for ``sat``.

    Parameters
    ----------
    verdict : Verdict
    seconds : float
    x, y : ndarray or None
        The counterexample and the network's output there (``sat`` only).
    note : str
        Why the answer is ``unknown`` or ``timeout``, or how a counterexample was found.
    decided_by : str
        What decided each disjunct, the :class:`Decider` words joined by
        commas in the order they first decided one.
    work : Work
        The work it took, over every method and process.
    runtime_checked : bool
        For ``sat`` on an ONNX network: onnxruntime confirmed the
        counterexample in the model's own precision.
    """

    verdict: Verdict
    seconds: float
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    note: str = ""
    decided_by: str = ""
    work: Work = field(default_factory=Work)
    runtime_checked: bool = False

    @property
    def regions(self) -> int:
        """Regions the region search checked by LP."""
        return self.work.regions

    @property
    def pruned(self) -> int:
        """Nodes of the region search closed by bounds."""
        return self.work.pruned

    @property
    def boxes(self) -> int:
        """Input boxes bounded by the input split."""
        return self.work.boxes

    @property
    def exact_boxes(self) -> int:
        """Boxes the input split handed to the region search."""
        return self.work.exact_boxes

    def as_dict(self) -> dict:
        """JSON-ready: the verdict, how it was reached (``decided_by``) and the work it took."""
        work = self.work.as_dict()
        out = {"verdict": self.verdict.value, "seconds": self.seconds, "decided_by": self.decided_by,
               "regions_checked": work.pop("regions"), "nodes_pruned": work.pop("pruned")} | work
        if self.x is not None:
            out["counterexample"] = {"x": self.x.tolist(), "y": self.y.tolist(),
                                     "runtime_checked": self.runtime_checked}
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


def meets(net: ReLUNetwork, term: Disjunct, X: np.ndarray) -> np.ndarray:
    """Which rows of ``X`` lie in the disjunct's box and give outputs meeting its constraints (float64)."""
    Y = net(X)
    inside = np.all((X >= term.lo) & (X <= term.hi), axis=1)
    return inside & np.all(Y @ term.C.T <= term.e + WITNESS_SLACK, axis=1)


def runtime_confirms(net: ReLUNetwork, term: Disjunct, x: np.ndarray, tensor: str | None = None) -> bool | None:
    """Whether onnxruntime, running the network's ONNX file in its own precision, confirms a counterexample.

    The check VNN-COMP makes of a witness: the runtime's outputs at ``x``
    agree with ours (``rtol`` 1e-3) and meet the disjunct's constraints
    (``atol`` 1e-4). None where it cannot be made: the network was not read
    from an ONNX file, or onnxruntime is not installed.
    """
    from ..io.onnx import runtime_outputs

    y_rt = runtime_outputs(net.source, x[None], tensor)
    if y_rt is None:
        return None
    y = net(x[None])[0]
    scale = RUNTIME_WITNESS_ATOL + RUNTIME_WITNESS_RTOL * np.abs(y)
    return bool(np.all(np.abs(y_rt[0] - y) <= scale)
                and np.all(term.C @ y_rt[0] <= term.e + RUNTIME_WITNESS_ATOL))
