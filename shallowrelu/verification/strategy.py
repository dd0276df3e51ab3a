"""The one interface every method of deciding a disjunct has.

A :class:`Strategy` decides one disjunct. :meth:`Strategy.run` works until
a given time and returns an :class:`Outcome` once the disjunct is decided,
None before; it can be called again, and a strategy that keeps its state
between calls (the input and neuron splits) goes on where it stopped, one
that cannot (the region search, the MILP) starts afresh with more time.
Past the global deadline (:mod:`shallowrelu.limits`) a strategy raises
:class:`~shallowrelu.limits.OutOfTime`. Its :attr:`Strategy.work` counts what
it did. :mod:`.scheduler` runs strategies in turns or races them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..network import ReLUNetwork
from ..tolerances import BOUND_MARGIN, Tolerances
from .result import Decider, Verdict, Work
from .vnnlib import Disjunct


@dataclass(frozen=True)
class Outcome:
    """A strategy's answer for its disjunct.

    Parameters
    ----------
    verdict : Verdict
        ``sat`` (``x`` confirmed by the forward pass), ``unsat``, or
        ``unknown`` (the method ended without a proof: some piece stayed
        undecided, ``note`` says which).
    decided_by : Decider
    x : ndarray, optional
    note : str
    """

    verdict: Verdict
    decided_by: Decider
    x: np.ndarray | None = None
    note: str = ""


class Strategy(ABC):
    """One method deciding one disjunct, run in slices until a deadline.

    Parameters
    ----------
    net : ReLUNetwork
    disjunct : Disjunct
    tol : Tolerances

    Attributes
    ----------
    resumable : bool
        Whether :meth:`run` goes on where the last call stopped.
    work : Work
        What it did so far.
    """

    resumable = True

    def __init__(self, net: ReLUNetwork, disjunct: Disjunct, tol: Tolerances) -> None:
        self.net, self.disjunct, self.tol = net, disjunct, tol
        self.work = Work()

    @abstractmethod
    def run(self, until: float) -> Outcome | None:
        """Work until ``until`` (``time.time()`` seconds); the outcome once the disjunct is decided, else None.

        Raises
        ------
        OutOfTime
            Past the global deadline.
        """


def bound_rows(disjunct: Disjunct) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose lower bounds can close a disjunct: those of ``C y <= e``, the average of every pair and
    of all of them.

    The disjunct holds only where every row does, so a set on which any
    average of rows is positive everywhere is closed too; bounded as one row,
    an average can be positive where no single row's bound is (the rows'
    relaxations cancel), which halved the boxes of ACAS Xu prop 2 on net 1_1.
    """
    C, e = disjunct.C, disjunct.e
    k = len(e)
    if k < 2:
        return C, e
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)] if k > 2 else []
    rows = [C] + [(C[[i, j]].mean(axis=0))[None] for i, j in pairs] + [C.mean(axis=0)[None]]
    rhs = [e] + [np.array([e[[i, j]].mean()]) for i, j in pairs] + [np.array([e.mean()])]
    return np.vstack(rows), np.concatenate(rhs)


def proof_margin(coef: np.ndarray, const: np.ndarray, lo: np.ndarray, hi: np.ndarray, e: np.ndarray) -> np.ndarray:
    """What a lower bound ``coef . x + const`` of ``C y - e`` must clear to prove its row positive.

    Float rounding in the bound grows with the size of the terms it adds
    up, so the margin is ``BOUND_MARGIN`` relative to them: the threshold
    ``e``, the largest value of the linear function's terms over the box,
    and its constant. Shapes: ``(B, r, n)``, ``(B, r)``, boxes ``(B, n)``
    (or one box ``(n,)``), ``(r,)``; returns ``(B, r)``.
    """
    reach = np.maximum(np.abs(lo), np.abs(hi))
    scale = (np.abs(coef) @ reach if reach.ndim == 1 else np.einsum("brn,bn->br", np.abs(coef), reach))
    return BOUND_MARGIN * (1.0 + np.abs(e) + scale + np.abs(const))
