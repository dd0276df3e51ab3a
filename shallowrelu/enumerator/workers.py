"""Where the chunks run when not in this process: a local process pool or Ray tasks.

Owns the worker side (a search per worker process, rebuilt from the plan's
:class:`WorkerSpec`, that runs one chunk at a time and sends its regions home
as a flat table, with the parts of its subtree it handed on) and the two
backends that take chunks as they come. The order in which results come back
is free; :mod:`.run` keeps them by chunk id, whose order is the catalogue's.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time

from ..catalogue import RegionTable
from ..choices import BACKENDS  # noqa: F401 - re-exported: where the chunks run
from .interrupts import interrupts_held, worker_signals
from .node import Stats, Subtree
from .search import Search, WorkerSpec

ChunkId = tuple[int, ...]
"""A chunk's place: ``(i,)`` for chunk ``i`` of the plan, ``id + (j,)`` for part ``j`` (from 1) a chunk handed on.
Sorted, the ids give the catalogue's order."""

Result = tuple[ChunkId, RegionTable, Stats, list[Subtree], dict]
"""A finished chunk: its id, its regions, the work it took, the parts it handed on, the hooks' tally."""


_worker: Search | None = None
_worker_error: Exception | None = None


def _exit_if_orphaned(parent: int, poll: float = 0.0) -> None:
    """Leave quietly once the parent is gone (polling every ``poll`` seconds if positive)."""
    # A parent killed outright (SIGKILL) cannot stop its pool: leave quietly
    # rather than finish the chunk and fail on the broken pipe.
    while poll and os.getppid() == parent:
        time.sleep(poll)
    if os.getppid() != parent:
        os._exit(1)


def _start_worker(spec: WorkerSpec) -> None:
    """A pool process's start: signals left to the parent, the search rebuilt once."""
    global _worker, _worker_error
    worker_signals()
    threading.Thread(target=_exit_if_orphaned, args=(os.getppid(), 0.2), daemon=True).start()
    try:
        _worker = spec.search()
    except Exception as exc:  # noqa: BLE001 - a failing initializer makes the pool respawn workers forever
        _worker_error = exc


def _finish_chunk(search: Search, chunk: tuple[ChunkId, Subtree]) -> Result:
    """Run one chunk and pack its result with the hooks' tally."""
    i, subtree = chunk
    regions, stats, parts = search.run_chunk(subtree)
    return i, regions, stats, parts, {} if search.hooks is None else search.hooks.tally()


def _work(chunk: tuple[ChunkId, Subtree]) -> Result:
    """One chunk in a pool process."""
    if _worker_error is not None:
        raise _worker_error
    parent = os.getppid()
    result = _finish_chunk(_worker, chunk)
    _exit_if_orphaned(parent)
    return result


class Workers:
    """Chunks handed to ``jobs`` workers as they come, results taken as they end (in any order).

    The base is a pool of local processes; :class:`RayWorkers` uses Ray
    tasks. Use as a context manager: leaving it stops the workers at once,
    also on Ctrl-C.
    """

    def __init__(self, spec: WorkerSpec, jobs: int) -> None:
        self.pending = 0
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._pool = None
        try:
            with interrupts_held():
                self._pool = _pool_context().Pool(jobs, _start_worker, (spec,))
        except BaseException:  # a Ctrl-C held while the pool forked is raised on leaving: stop the pool
            if self._pool is not None:
                self._pool.terminate()
            raise

    def submit(self, chunk: tuple[ChunkId, Subtree]) -> None:
        """Queue one chunk."""
        self._pool.apply_async(_work, (chunk,), callback=self._done.put, error_callback=self._done.put)
        self.pending += 1

    def next(self) -> Result:
        """The next chunk to finish; a worker's exception is raised here."""
        while True:
            try:  # a bounded wait, so that Ctrl-C is seen at once
                result = self._done.get(timeout=0.05)
                break
            except queue.Empty:
                continue
        self.pending -= 1
        if isinstance(result, BaseException):
            raise result
        return result

    def close(self) -> None:
        """Stop the workers, dropping what they have under way."""
        self._pool.terminate()

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# A Ray worker process keeps its search between chunks of the same run.
_ray_worker: tuple[str, Search] | None = None


def _ray_work(run_id: str, spec: WorkerSpec, chunk: tuple[ChunkId, Subtree]) -> Result:
    """One chunk in a Ray worker, the search rebuilt once per run."""
    global _ray_worker
    if _ray_worker is None or _ray_worker[0] != run_id:
        _ray_worker = (run_id, spec.search())
    return _finish_chunk(_ray_worker[1], chunk)


def _import_ray():
    """Ray, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError("the Ray backend needs Ray: pip install 'shallowrelu[ray]'") from None
    return ray


class RayWorkers(Workers):
    """Chunks run as Ray tasks, at most ``jobs`` at a time (None: one per CPU of the cluster).

    Connects to the cluster in ``RAY_ADDRESS`` if set, else starts Ray on
    this machine, unless the caller has already called ``ray.init``.
    """

    def __init__(self, spec: WorkerSpec, jobs: int | None) -> None:
        self._ray = ray = _import_ray()
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        self._jobs = jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_ray_work)
        self._run_id, self._spec = os.urandom(8).hex(), ray.put(spec)
        self._queue: list[tuple[ChunkId, Subtree]] = []
        self._running: list = []
        self.pending = 0

    def submit(self, chunk: tuple[ChunkId, Subtree]) -> None:
        self._queue.append(chunk)
        self.pending += 1
        self._start()

    def _start(self) -> None:
        """Start queued chunks while fewer than ``jobs`` run."""
        while self._queue and len(self._running) < self._jobs:
            self._running.append(self._remote.remote(self._run_id, self._spec, self._queue.pop(0)))

    def next(self) -> Result:
        ready, self._running = self._ray.wait(self._running, num_returns=1)
        self.pending -= 1
        self._start()
        try:
            return self._ray.get(ready[0])
        except self._ray.exceptions.RayTaskError as exc:  # the worker's own exception, as a local pool gives it
            raise exc.cause from None

    def close(self) -> None:
        for ref in self._running:
            self._ray.cancel(ref, force=True)


def workers(backend: str, spec: WorkerSpec, jobs: int | None) -> Workers:
    """The workers of ``backend`` ("local" or "ray") for chunks of the search ``spec`` rebuilds."""
    return RayWorkers(spec, jobs) if backend == "ray" else Workers(spec, jobs)


def _pool_context():
    """The multiprocessing context of the pool: fork where the platform has it."""
    # fork starts a worker in milliseconds and needs no importable __main__
    # (spawn re-runs the main script, which fails for a script read from
    # stdin); the LPs run single-threaded, so no solver thread is cut off by it.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")

