"""Running the plan: the first chunks in this process, the rest on workers if that pays.

Owns the schedule (in process until a pool looks worth its start-up; the
parts a chunk hands on join the work as new chunks), the books kept per
chunk id (its regions, finished or not) and what Ctrl-C leaves: every region
found so far, and the open chunks to resume from. Where the workers run is
:mod:`.workers`'s.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from ..catalogue import RegionTable
from ..limits import MemoryBudgetError, check_held, note_stop
from . import workers
from .hooks import ProgressFn
from .node import Stats, Subtree
from .search import Search
from .workers import BACKENDS, ChunkId

# Seconds of work in this process before the remaining chunks may go to a
# pool; and the seconds of work that must still be left (estimated from the
# chunks done so far) to be worth a pool's start-up.
_POOL_AFTER = 1.0
_POOL_WORTH = 1.0


@dataclass
class Book:
    """What a run knows of one chunk.

    Attributes
    ----------
    regions : RegionTable or None
        Its regions (None: streamed and not kept, or reused from a chunk log).
    size : int
        How many regions it found.
    done : bool
        Whether it finished (an interrupted one keeps its first regions).
    counts : Stats or None
        The work it took (None for regions met while the plan was cut).
    parts : int
        The parts of its subtree it handed on: chunks ``id + (j,)``, j = 1..parts.
    """

    regions: RegionTable | None
    size: int
    done: bool
    counts: Stats | None = None
    parts: int = 0

    def record(self, cid: ChunkId) -> list:
        """The chunk's entry in ``info["chunks"]``: id, regions, finished, work, parts handed on."""
        return [list(cid), self.size, self.done, self.counts.record() if self.counts is not None else {},
                self.parts]


@dataclass
class Run:
    """The outcome of a plan, chunk by chunk.

    Attributes
    ----------
    books : dict
        Per chunk id, what the run knows of it (chunks never started are absent).
    open : dict
        Per chunk id, the subtree of each chunk not finished: what a resume starts from.
    stats : Stats
        The work of the whole run, reused chunks included.
    interrupted : bool
        Ctrl-C, SIGTERM or the memory budget stopped the run.
    reason : str
        Why the memory budget stopped the run ("" otherwise).
    """

    books: dict[ChunkId, Book]
    open: dict[ChunkId, Subtree]
    stats: Stats
    interrupted: bool = False
    reason: str = ""

    def ordered(self) -> list[tuple[ChunkId, Book]]:
        """The chunks with regions, in catalogue order."""
        return sorted((cid, b) for cid, b in self.books.items() if b.done or b.regions is not None)


def run_plan(search: Search, todo: list[tuple[ChunkId, Subtree]], books: dict[ChunkId, Book], *,
             jobs: int | None, progress: ProgressFn | None = None,
             stream: Callable[[ChunkId, RegionTable, Stats, dict[ChunkId, Subtree]], None] | None = None,
             backend: str = "local", keep: bool = True) -> Run:
    """Run the open chunks ``todo`` here, in order, and on ``jobs`` workers what is left after
    ``_POOL_AFTER`` seconds if that looks like ``_POOL_WORTH`` seconds or more.

    A chunk that hands on parts of its subtree (:meth:`Search.run_chunk`)
    adds them as new chunks. The workers are local processes, or Ray tasks
    with ``backend="ray"``. ``books`` holds the chunks already finished
    (regions met while the plan was cut, and chunks an earlier, interrupted
    run finished, their regions in memory or only their number where they
    stay on disk); ``stream`` gets each chunk's regions, work and the parts
    it handed on as soon as the chunk is finished. With ``keep`` False a
    streamed chunk's regions are not kept (the run's memory stays that of
    the chunks under way). Ctrl-C stops the work and keeps every region
    found so far (in-process, also those of the chunk under way, marked not done).
    """
    run = Run(dict(books), dict(todo), Stats())
    run.stats.add(search.stats)
    for book in books.values():
        if book.counts is not None:
            run.stats.add(book.counts)
    todo = deque(todo)
    found = sum(b.size for b in books.values())

    def finish(cid: ChunkId, regions: RegionTable, stats: Stats, parts: list[Subtree]) -> list:
        """Book a finished chunk and its parts, then stream it and report progress; the parts as new chunks."""
        # The books first: a Ctrl-C landing in the callbacks keeps the finished chunk.
        nonlocal found
        book = run.books[cid] = Book(regions, len(regions), True, stats, len(parts))
        new = {cid + (j,): part for j, part in enumerate(parts, 1)}
        run.open.update(new)
        del run.open[cid]
        run.stats.add(stats)
        found += len(regions)
        if stream is not None:
            stream(cid, regions, stats, new)
            if not keep:
                book.regions = None
        if book.regions is not None:
            check_held(f"the run, {found:,} regions found,")
        if progress is not None:
            progress(found, run.stats.search_lps + run.stats.facet_lps)
        return list(new.items())

    start = time.monotonic()
    local_only = backend == "local" and jobs == 1
    done_here = 0

    def here() -> bool:
        """Whether the next chunk runs in this process: a pool costs about half a second to start."""
        if local_only or len(todo) == 1:
            return True
        elapsed = time.monotonic() - start
        return elapsed < _POOL_AFTER or (done_here > 0 and elapsed / done_here * len(todo) < _POOL_WORTH)

    try:
        while todo and here():
            cid, subtree = todo.popleft()
            if progress is not None:
                base = (found, run.stats.search_lps + run.stats.facet_lps)
                search.progress = lambda r, lps, base=base: progress(base[0] + r, base[1] + lps)
            try:
                regions, stats, parts = search.run_chunk(subtree)
            except (KeyboardInterrupt, MemoryBudgetError):
                partial = search.take()  # the chunk's first regions, marked not done
                run.books[cid] = Book(partial, len(partial), False)
                run.stats.add(search.stats)
                raise
            todo.extendleft(reversed(finish(cid, regions, stats, parts)))
            done_here += 1
        if todo:
            with workers.workers(backend, search.spec(), jobs) as pool:
                for chunk in todo:
                    pool.submit(chunk)
                while pool.pending:
                    cid, regions, stats, parts, counts = pool.next()
                    if search.hooks is not None:
                        search.hooks.add_tally(counts)
                    for chunk in finish(cid, regions, stats, parts):
                        pool.submit(chunk)
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

