"""Ctrl-C and SIGTERM while worker processes start: held, then raised again.

Owns the one signal-handling trick the pool needs. Python drops an
exception raised in an at-fork callback, so an interrupt landing while the
pool forks would be lost; this module holds it until the forks are done.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

_HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while the pool forks, and raise them again once it has.

    Python drops an exception raised in an at-fork callback (logging
    registers one) with an "Exception ignored" line: an interrupt landing
    there was lost and the run went on to the end. A worker forked in the
    meantime takes such a signal as its default action.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner, held = os.getpid(), []

    def hold(signum, frame):  # noqa: ARG001 - signal handler signature
        """Keep the signal for later (a forked child takes its default action)."""
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        held.append(signum)

    previous = {s: signal.getsignal(s) for s in _HELD}
    kept = [s for s, h in previous.items() if h is not None]  # None: a handler not set from Python
    for s in kept:
        signal.signal(s, hold)
    try:
        yield
    finally:
        for s in kept:
            signal.signal(s, previous[s])
        for s in dict.fromkeys(held):
            signal.raise_signal(s)
