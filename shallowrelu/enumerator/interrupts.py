"""Ctrl-C, SIGTERM and a time limit's alarm while worker processes start: blocked, then delivered.

Owns the one signal-handling trick the pool needs. Python drops an
exception raised in an at-fork callback, so an interrupt landing while the
pool forks would be lost; this module holds it until the forks are done,
and lets a worker take signals once it has set its own handling.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

_HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Block Ctrl-C, SIGTERM and SIGALRM while the pool forks; they are delivered once it has.

    Python drops an exception raised in an at-fork callback (logging
    registers one): an interrupt landing there was lost and the run went on
    to the end. Blocked by the operating system rather than caught, a signal
    waits until the forks are done. The workers start with both blocked
    until :func:`worker_signals`: a SIGTERM the pool sends a worker that has
    just been forked waits for it instead of being cleared with the fork's
    pending signals (such a worker lived on and the pool waited for it
    forever). Without ``pthread_sigmask`` (Windows, which spawns) nothing is
    held.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def worker_signals() -> None:
    """In a worker process: Ctrl-C left to the parent, which stops the pool; SIGTERM ends it quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)
