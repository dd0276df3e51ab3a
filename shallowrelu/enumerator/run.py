"""Running the plan: the first chunks in this process, the rest on workers if that pays.

Owns the schedule (in process until a pool looks worth its start-up), the
books kept per chunk (its regions, finished or not, in plan order) and
what Ctrl-C leaves: every region found so far. Where the workers run is
:mod:`.workers`'s.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable

from ..catalogue import RegionTable
from ..limits import MemoryBudgetError, check_held, note_stop
from . import workers
from .hooks import ProgressFn
from .node import Stats
from .plan import Chunk
from .search import Search
from .workers import BACKENDS

# Seconds of work in this process before the remaining chunks may go to a
# pool; and the seconds of work that must still be left (estimated from the
# chunks done so far) to be worth a pool's start-up.
_POOL_AFTER = 1.0
_POOL_WORTH = 1.0


@dataclass
class Run:
    """The outcome of a plan, chunk by chunk.

    Attributes
    ----------
    chunks : list
        Per chunk of the plan, its regions once found (None: not run, or
        streamed and not kept).
    sizes : list of int
        Per chunk, the regions found in it.
    done : list of bool
        Per chunk, whether it finished (an interrupted one keeps its first regions).
    stats : Stats
        The work of the whole run, reused chunks included.
    interrupted : bool
        Ctrl-C, SIGTERM or the memory budget stopped the run.
    counts : list
        Per finished chunk, the work it took (so that a resumed run counts what it reuses).
    reason : str
        Why the memory budget stopped the run ("" otherwise).
    """

    chunks: list[RegionTable | None]
    sizes: list[int]
    done: list[bool]
    stats: Stats
    interrupted: bool
    counts: list[Stats | None]
    reason: str = ""


def run_plan(search: Search, chunks: list[Chunk], *, jobs: int | None, progress: ProgressFn | None = None,
             reuse: dict[int, tuple[RegionTable | int, Stats]] | None = None,
             stream: Callable[[int, RegionTable, Stats], None] | None = None,
             backend: str = "local", keep: bool = True) -> Run:
    """Run the plan's open chunks here, in order, and on ``jobs`` workers what is left after
    ``_POOL_AFTER`` seconds if that looks like ``_POOL_WORTH`` seconds or more.

    The workers are local processes, or Ray tasks with ``backend="ray"``.
    ``reuse`` holds regions of chunks finished by an earlier, interrupted run
    (or only their number, where they stay on disk), with the work they
    took; ``stream`` gets each chunk's regions and work as soon as the chunk
    is finished. With ``keep`` False a streamed chunk's regions are not kept
    (the run's memory stays that of the chunks under way).
    Ctrl-C stops the work and keeps every region found so far (in-process,
    also those of the chunk under way, marked not done).
    """
    reuse = reuse or {}
    kept = [c if isinstance(c, RegionTable) else reuse.get(i, (None,))[0] for i, c in enumerate(chunks)]
    run = Run([k if isinstance(k, RegionTable) else None for k in kept],
              [0 if k is None else k if isinstance(k, int) else len(k) for k in kept],
              [k is not None for k in kept], Stats(), False,
              [reuse[i][1] if i in reuse else None for i in range(len(chunks))])
    run.stats.add(search.stats)
    for counts in run.counts:
        if counts is not None:
            run.stats.add(counts)
    todo = [(i, c) for i, c in enumerate(chunks) if not run.done[i]]
    found = sum(run.sizes)

    def finish(i: int, regions: RegionTable, stats: Stats) -> None:
        """Book a finished chunk, then stream it and report progress."""
        # The books first: a Ctrl-C landing in the callbacks keeps the finished chunk.
        nonlocal found
        run.chunks[i], run.sizes[i], run.done[i], run.counts[i] = regions, len(regions), True, stats
        run.stats.add(stats)
        found += len(regions)
        if stream is not None:
            stream(i, regions, stats)
            if not keep:
                run.chunks[i] = None
        if run.chunks[i] is not None:
            check_held(f"the run, {found:,} regions found,")
        if progress is not None:
            progress(found, run.stats.search_lps + run.stats.facet_lps)

    start = time.monotonic()
    local_only = backend == "local" and jobs == 1

    def here(k: int) -> bool:
        """Whether chunk ``k`` of the todo list runs in this process: a pool costs about half a second to start."""
        if local_only or len(todo) - k == 1:
            return True
        elapsed = time.monotonic() - start
        return elapsed < _POOL_AFTER or (k > 0 and elapsed / k * (len(todo) - k) < _POOL_WORTH)

    try:
        k = 0
        while k < len(todo) and here(k):
            i, node = todo[k]
            if progress is not None:
                base = (found, run.stats.search_lps + run.stats.facet_lps)
                search.progress = lambda r, lps, base=base: progress(base[0] + r, base[1] + lps)
            try:
                regions, stats = search.run_chunk(node)
            except (KeyboardInterrupt, MemoryBudgetError):
                run.chunks[i] = search.take()  # the chunk's first regions, marked not done
                run.sizes[i] = len(run.chunks[i])
                run.stats.add(search.stats)
                raise
            finish(i, regions, stats)
            k += 1
        if k < len(todo):
            results = (workers.ray_results if backend == "ray" else workers.pool_results)(search.spec(), todo[k:],
                                                                                           jobs)
            try:
                for i, regions, stats, counts in results:
                    if search.hooks is not None:
                        search.hooks.add_tally(counts)
                    finish(i, regions, stats)
            finally:
                results.close()  # stops the pool or cancels the Ray tasks at once, also on Ctrl-C
    except KeyboardInterrupt:
        run.interrupted = True
    except MemoryBudgetError as exc:  # stopped as Ctrl-C stops, keeping what was found, and said why
        note_stop("memory budget")
        run.interrupted, run.reason = True, str(exc)
    return run


def check_parallel(jobs: int | None, backend: str) -> int | None:
    """``jobs`` checked; None becomes this machine's cores (left None for Ray: the cluster's CPUs)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if jobs is None and backend == "local":
        return os.cpu_count() or 1
    return jobs

