"""The MILP method: one big-M model per disjunct minimising the constraint violation.

The independent second answer beside the region search (``--method milp``).
Owns only the reading of the MILP's answer as a verdict; the model is
:mod:`shallowrelu.milp`'s.
"""

from __future__ import annotations

import time

import numpy as np

from ..network import ReLUNetwork
from .result import Verdict, meets
from .vnnlib import Term
from ..tolerances import MILP_PROOF_MARGIN


def milp_term(net: ReLUNetwork, term: Term, deadline: float) -> tuple[Verdict, np.ndarray | None]:
    """One disjunct decided by the MILP: its least violation, then the forward pass on the minimiser."""
    from ..milp import least_violation  # PuLP only for this method

    left = deadline - time.time()
    if left <= 0:
        return Verdict.TIMEOUT, None
    margin = MILP_PROOF_MARGIN * (1.0 + float(np.max(np.abs(term.e), initial=0.0)))
    res = least_violation(net, term.lo, term.hi, term.C, term.e, cutoff=margin,
                          time_limit=None if np.isinf(left) else left)
    if res.status != "optimal":
        return Verdict.TIMEOUT, None
    if res.value > margin:
        return Verdict.UNSAT, None
    x = np.clip(res.x, term.lo, term.hi)
    return (Verdict.SAT, x) if meets(net, term, x[None])[0] else (Verdict.UNKNOWN, None)
