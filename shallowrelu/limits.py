"""Limits every long phase honours: a deadline, a command's time limit, the stop signals, a memory budget.

Owns four things.

* The process-wide deadline (:func:`deadline`, :func:`time_left`,
  :func:`check_time`): ``verify`` sets it, every HiGHS solve gets the time
  left as its time limit, and loops of numpy work check it; past it
  :class:`OutOfTime` is raised and the caller answers "timeout".
* A command's time limit (:func:`time_limit`): an alarm that stops the work
  the way Ctrl-C does (:class:`Stopped`), so whatever keeps its partial work
  on Ctrl-C (the enumerator's chunks) keeps it here too.
* The guard around a call a stop must not cut in the middle (:func:`stoppable`):
  a solver call, or a record appended to a file. Python runs a signal
  handler only between bytecodes, so SIGINT or SIGTERM arriving while HiGHS
  solves would wait for the solve to end, minutes in 784 dimensions. Inside
  the guard the signal is only recorded; :func:`solver_callback`, which
  HiGHS calls every few milliseconds of simplex, interior-point or MIP
  work, asks the solver to stop; and when the call returns, the handler
  that was set runs.

* The memory budget (:func:`memory_budget`, :func:`check_memory`): large
  allocations are sized against it first, and refused in one line rather
  than killed by the kernel.

Which stop ended the work is kept (:func:`stop_reason`) so that the
command line can give each its exit code.
"""

from __future__ import annotations

import math
import os
import resource
import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from .errors import ShallowReLUError

_deadline = math.inf
_IMPORTED = time.time()
_stopped_by: str | None = None
# What a stop signal was, in the words of messages and exit codes.
_REASONS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated", signal.SIGALRM: "time limit"}


class OutOfTime(Exception):
    """The deadline set by :func:`deadline` passed."""


class Stopped(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or a command's time limit, raised where the work was.

    A subclass of KeyboardInterrupt, so that every place that keeps its
    partial work on Ctrl-C keeps it for all three.
    """


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Within the block, solver calls end by ``at`` (``time.time()`` seconds); nested blocks keep the earliest.

    Parameters
    ----------
    at : float
        The deadline; ``inf`` for none.
    """
    global _deadline
    saved = _deadline
    _deadline = min(saved, at)
    try:
        yield
    finally:
        _deadline = saved


def time_left() -> float:
    """Seconds until the deadline (``inf`` when none is set, negative past it)."""
    return _deadline - time.time()


def check_time() -> None:
    """Raise :class:`OutOfTime` past the deadline."""
    if time.time() > _deadline:
        raise OutOfTime


def process_age() -> float:
    """Seconds since this process started (from ``/proc``; since this module was imported where that fails)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return max(time.time() - (boot + start_ticks / os.sysconf("SC_CLK_TCK")), 0.0)
    except (OSError, ValueError, StopIteration, IndexError):
        return time.time() - _IMPORTED


def stop_reason() -> str | None:
    """What stopped the last piece of work: ``"interrupted"``, ``"terminated"``, ``"time limit"``,
    ``"memory budget"``, or None."""
    return _stopped_by


def _stop(signum: int, frame) -> None:  # noqa: ARG001 - signal handler signature
    """The handler of the stop signals: record which, and raise :class:`Stopped` where the work is."""
    global _stopped_by
    _stopped_by = _REASONS[signum]
    raise Stopped(_stopped_by)


@contextmanager
def stop_signals() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM (and the alarm of :func:`time_limit`) raise :class:`Stopped`."""
    global _stopped_by
    _stopped_by = None
    previous = {s: signal.signal(s, _stop) for s in _REASONS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Within the block, stop the work after ``seconds`` as SIGALRM (:class:`Stopped`, reason ``"time limit"``).

    Use inside :func:`stop_signals`; None sets no limit. A solve under way
    is stopped by :func:`stoppable` like any stop signal (not by a deadline,
    whose :class:`OutOfTime` the enumerator does not take for a stop).
    """
    if seconds is None:
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)


@contextmanager
def stoppable() -> Iterator[list[int]]:
    """Guard a call so that a stop signal takes effect when it ends, not in its middle.

    Yields the list of signals caught during the call; for a solver call,
    pass it as the user data of :func:`solver_callback`, which ends the
    solve within milliseconds. On leaving, the handler that was set
    for the first signal caught runs (raising, for :func:`stop_signals`'s).
    Outside the main thread (where Python delivers no signal) the guard does
    nothing.
    """
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    # Only Python handlers are swapped: a signal left to its default action or ignored keeps it.
    saved = {s: h for s in _REASONS if callable(h := signal.getsignal(s))}
    for s in saved:
        signal.signal(s, lambda signum, frame: caught.append(signum))
    try:
        yield caught
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        if caught:
            # Called here, not re-raised by the OS, so the exception comes before the caller reads the status.
            saved[caught[0]](caught[0], None)


def solver_callback(kind, message, data_out, data_in, caught: list[int]) -> None:  # noqa: ARG001 - HiGHS's signature
    """HiGHS's interrupt callback: stop the solve once :func:`stoppable` caught a signal."""
    if caught and data_in is not None:
        data_in.user_interrupt = True


_memory_budget: float | None = None


class MemoryBudgetError(ShallowReLUError, MemoryError):
    """A piece of work would need more memory than the budget (:func:`memory_budget`)."""


def set_memory_budget(nbytes: float | None) -> None:
    """Set the memory budget in bytes (``--max-memory``); None: the memory available."""
    global _memory_budget
    _memory_budget = nbytes


def memory_budget() -> float:
    """Bytes this process may still allocate: the budget set, else what the machine has available.

    "Available" is the least of the kernel's MemAvailable and, under an
    address-space limit (``ulimit -v``, ``RLIMIT_AS``), the room left below it.
    """
    if _memory_budget is not None:
        return _memory_budget
    global _available
    now = time.monotonic()
    if now - _available[0] > _AVAILABLE_FRESH:
        _available = (now, _read_available())
    return _available[1]


# What /proc says is available is read again after this many seconds: a convert asks before each of
# 100,000 small allocations, and reading /proc each time took an eighth of its time.
_AVAILABLE_FRESH = 0.05
_available = (-math.inf, math.inf)


def _read_available() -> float:
    """:func:`memory_budget` without a budget set, read from ``/proc`` now."""
    room = [math.inf]
    try:
        with open("/proc/meminfo") as f:
            room += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
    except OSError:
        pass
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft != resource.RLIM_INFINITY:
        try:
            with open("/proc/self/statm") as f:
                used = int(f.read().split()[0]) * resource.getpagesize()
        except OSError:
            used = 0
        room.append(soft - used)
    return float(min(room))


def check_memory(nbytes: float, what: str) -> None:
    """Refuse, before allocating, work that needs ``nbytes`` when the budget is smaller.

    Raises
    ------
    MemoryBudgetError
        Naming ``what``, the bytes it needs and the budget.
    """
    budget = memory_budget()
    if nbytes > budget:
        set_by = "--max-memory" if _memory_budget is not None else "memory available"
        raise MemoryBudgetError(f"{what} needs about {gib(nbytes)} of memory; the budget is {gib(budget)} "
                                f"({set_by})")


# Without --max-memory, work that holds what it finds stops when the machine has less than this left:
# room for the file it then writes and for the rest of the machine.
_RESERVE = 512 * 2**20


def resident() -> float:
    """Bytes this process has in memory now (its resident set; 0 where ``/proc`` does not say)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0.0


def check_held(what: str) -> None:
    """Stop work that holds what it finds before it outgrows the memory: with ``--max-memory``, when
    this process holds more than it; else when the machine has less than a reserve left.

    Raises
    ------
    MemoryBudgetError
        Naming ``what``, the memory held and the budget.
    """
    if _memory_budget is not None:
        held = resident()
        if held > _memory_budget:
            raise MemoryBudgetError(f"{what} holds {gib(held)} in memory; the budget is {gib(_memory_budget)} "
                                    "(--max-memory)")
    elif memory_budget() < _RESERVE:
        raise MemoryBudgetError(f"{what} holds {gib(resident())} in memory and the machine has less than "
                                f"{gib(_RESERVE)} left")


def note_stop(reason: str) -> None:
    """Record what stopped the work when it was not a signal (``"memory budget"``), for :func:`stop_reason`."""
    global _stopped_by
    _stopped_by = reason


def gib(nbytes: float) -> str:
    """Bytes in words: ``"1.5 GiB"``, ``"120 MiB"``."""
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"
