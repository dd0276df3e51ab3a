"""Runs strategies on disjuncts: in turns in this process, or as a race of processes.

A :class:`Unit` is one strategy on one disjunct, or on several that one
model decides together (the MILP of a box's disjuncts). :func:`decide` runs
the units until every disjunct is decided or one is ``sat``:

- with one job, disjunct after disjunct in this process; the units of a
  disjunct take turns in slices that double, so no unit waits more than
  about as long again as the one that decides needed;
- with ``jobs >= 2``, each unit in a forked process, at most ``jobs`` at a
  time in the order given, each with one BLAS thread (the cores given are
  the cores used; a unit may run a pool of its own, as the region search
  does). A unit that *yields* drops to the lowest priority after its first
  seconds and gives up its place to the next unit: it goes on only on a core
  the others leave idle. A disjunct decided by one unit
  stops its other units (a unit of several disjuncts once all of them are
  decided); ``sat`` stops everything. Ordered disjunct by
  disjunct, the units of a disjunct race; ordered method by method,
  disjuncts run side by side.

The parent only waits, so it uses no core of its own. The work record of a
unit that finished is added up; a unit stopped as the loser of a race
takes its counts with it.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Callable

from ..enumerator.interrupts import interrupts_held, worker_signals
from ..errors import SolverError
from ..limits import OutOfTime, deadline as deadline_scope
from .result import Verdict, Work
from .strategy import Outcome, Strategy

# Seconds of the first turn of each unit of a disjunct; each round doubles them.
_FIRST_SLICE = 1.0
# A forked unit leaves once its parent is gone; it looks this often (seconds).
_ORPHAN_POLL = 0.2


@dataclass(frozen=True)
class Unit:
    """One strategy on some disjuncts.

    Parameters
    ----------
    disjuncts : tuple of int
        The disjuncts' indices: the strategy's outcome holds for each of them.
    make : callable
        Builds the strategy (in the process that runs it).
    yields_after : float, optional
        In a race, seconds after which the unit's process runs at the lowest
        priority: it goes on only where other units leave a core idle, and no
        longer takes one of the ``jobs``, so the next unit starts (a unit
        whose first seconds did not decide, against a rival or the units
        queued behind it).
    """

    disjuncts: tuple[int, ...]
    make: Callable[[], Strategy]
    yields_after: float | None = None


@dataclass
class Decisions:
    """What :func:`decide` found: the outcome of every disjunct decided, and the work of all the units."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    work: Work = field(default_factory=Work)

    @property
    def sat(self) -> Outcome | None:
        """The outcome of a disjunct found ``sat``, if any."""
        return next((o for o in self.outcomes.values() if o.verdict is Verdict.SAT), None)


def decide(units: list[Unit], jobs: int, deadline: float) -> Decisions:
    """Run the units until every disjunct they cover is decided, or one is ``sat``.

    A disjunct whose every unit ended ``unknown`` is ``unknown``.

    Raises
    ------
    OutOfTime
        Past ``deadline``, with disjuncts left undecided.
    """
    if jobs >= 2 and len(units) >= 2:
        return _race(units, jobs, deadline)
    found = Decisions()
    for d in dict.fromkeys(d for u in units for d in u.disjuncts):
        if d in found.outcomes:
            continue
        outcome, unit = _turns([u for u in units if d in u.disjuncts], deadline, found.work)
        for covered in unit.disjuncts if outcome.verdict is not Verdict.UNKNOWN else (d,):
            found.outcomes.setdefault(covered, outcome)
        if outcome.verdict is Verdict.SAT:
            break
    return found


def _turns(units: list[Unit], deadline: float, work: Work) -> tuple[Outcome, Unit]:
    """One disjunct's units in turns of doubling slices, in this process: the outcome and the unit that gave it
    (the last one to end ``unknown`` where all do)."""
    active = [(u, u.make()) for u in units]
    strategies = [s for _, s in active]
    unknown = None
    slice_ = _FIRST_SLICE if len(active) > 1 else float("inf")
    try:
        while active:
            for unit, strategy in list(active):
                if time.time() >= deadline:
                    raise OutOfTime
                until = min(deadline, time.time() + slice_)
                # a strategy that cannot resume is stopped at the end of its slice (and restarted with more)
                with deadline_scope(deadline if strategy.resumable else until):
                    try:
                        outcome = strategy.run(until)
                    except OutOfTime:
                        if time.time() >= deadline:
                            raise
                        outcome = None
                if outcome is None:
                    continue
                if outcome.verdict is not Verdict.UNKNOWN:
                    return outcome, unit
                unknown = outcome, unit
                active.remove((unit, strategy))
            slice_ *= 2
        return unknown
    finally:
        for strategy in strategies:
            work.add(strategy.work)


def _race(units: list[Unit], jobs: int, deadline: float) -> Decisions:
    """The units in forked processes, at most ``jobs`` at a time."""
    found = Decisions()
    queue = list(units)
    running: dict = {}  # connection -> (unit, process)
    yields: dict = {}  # process -> when it yields: from then on the lowest priority, and none of the jobs
    left = {d: sum(d in u.disjuncts for u in units) for d in {d for u in units for d in u.disjuncts}}
    try:
        while queue or running:
            now = time.time()
            for proc, at in yields.items():
                if at <= now:
                    _lowest_priority(proc)  # again at each turn: a no-op once done
            while queue and len(running) - sum(at <= now for at in yields.values()) < jobs:
                unit = queue.pop(0)
                if all(d in found.outcomes for d in unit.disjuncts):
                    continue
                conn, proc = _fork(unit, deadline)
                running[conn] = (unit, proc)
                if unit.yields_after is not None:
                    yields[proc] = now + unit.yields_after
            if not running:
                break
            until = min([deadline, *(at for at in yields.values() if at > now)])
            ready = wait(list(running), timeout=max(0.0, until - time.time()) if until < float("inf") else None)
            if not ready:
                if time.time() >= deadline:
                    raise OutOfTime
                continue
            for conn in ready:
                if conn not in running:  # a unit that lost the race to another of this batch
                    continue
                unit, proc = running.pop(conn)
                yields.pop(proc, None)
                try:
                    kind, outcome, work = conn.recv()
                except EOFError:  # the process died without an answer (killed by the system)
                    kind, outcome, work = "error", "a racing process ended without an answer", Work()
                conn.close()
                proc.join()
                found.work.add(work)
                if kind == "timeout":
                    raise OutOfTime
                if kind == "error":
                    raise SolverError(outcome)
                for d in unit.disjuncts:
                    left[d] -= 1
                    if outcome.verdict is not Verdict.UNKNOWN or left[d] == 0:
                        found.outcomes.setdefault(d, outcome)
                if outcome.verdict is Verdict.SAT:
                    return found
                for other, (u, p) in list(running.items()):  # units whose every disjunct is decided lost the race
                    if all(d in found.outcomes for d in u.disjuncts):
                        p.kill()
                        p.join()
                        other.close()
                        del running[other]
                        yields.pop(p, None)
        return found
    finally:
        for conn, (_, proc) in running.items():
            proc.kill()
            proc.join()
            conn.close()


def _lowest_priority(proc) -> None:
    """Let ``proc`` run only on a core no other process wants: nice 19."""
    try:
        os.setpriority(os.PRIO_PROCESS, proc.pid, 19)
    except ProcessLookupError:  # it ended since the last look
        pass


def _fork(unit: Unit, deadline: float):
    """Start a unit in a forked process; its connection and process."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    with interrupts_held():
        proc = ctx.Process(target=_unit_process, args=(send, unit, deadline, os.getpid()))
        proc.start()
    send.close()
    return receive, proc


def _unit_process(conn, unit: Unit, deadline: float, parent: int) -> None:
    """A unit in its own process: one BLAS thread, signals left to the parent, the answer sent home."""
    worker_signals()
    threading.Thread(target=_leave_if_orphaned, args=(parent,), daemon=True).start()
    from threadpoolctl import threadpool_limits

    work = Work()
    with threadpool_limits(1), deadline_scope(deadline):
        try:
            strategy = unit.make()
            work = strategy.work
            outcome = strategy.run(deadline)
            kind = "outcome" if outcome is not None else "timeout"
        except OutOfTime:
            kind, outcome = "timeout", None
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it there
            kind, outcome = "error", f"{type(exc).__name__}: {exc}"
    conn.send((kind, outcome, work))
    conn.close()


def _leave_if_orphaned(parent: int) -> None:
    """Exit once the parent process is gone (killed outright, it cannot stop its units)."""
    while os.getppid() == parent:
        time.sleep(_ORPHAN_POLL)
    os._exit(1)
