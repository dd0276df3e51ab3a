"""Where the chunks run when not in this process: a local process pool or Ray tasks.

Owns the worker side (a search per worker process, rebuilt from the plan's
:class:`WorkerSpec`, that runs one chunk at a time and sends its regions home
as a flat table) and the two backends that hand out the chunks. The order in
which results come back is free; :mod:`.run` puts them in plan order.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from contextlib import ExitStack
from typing import Iterator

from ..catalogue import RegionTable
from ..choices import BACKENDS  # noqa: F401 - re-exported: where the chunks run
from .interrupts import interrupts_held, worker_signals
from .node import Node, Stats
from .search import Search, WorkerSpec

Result = tuple[int, RegionTable, Stats, dict]
"""A finished chunk: its index in the plan, its regions, the work it took, the hooks' tally."""


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


def _finish_chunk(search: Search, chunk: tuple[int, Node]) -> Result:
    """Run one chunk and pack its result with the hooks' tally."""
    i, node = chunk
    regions, stats = search.run_chunk(node)
    return i, regions, stats, {} if search.hooks is None else search.hooks.tally()


def _work(chunk: tuple[int, Node]) -> Result:
    """One chunk in a pool process."""
    if _worker_error is not None:
        raise _worker_error
    parent = os.getppid()
    result = _finish_chunk(_worker, chunk)
    _exit_if_orphaned(parent)
    return result


def pool_results(spec: WorkerSpec, chunks: list[tuple[int, Node]], jobs: int) -> Iterator[Result]:
    """Run the chunks (each with its plan index) on a pool of ``jobs`` local processes, yielding as they end."""
    with ExitStack() as stack:
        with interrupts_held():
            pool = stack.enter_context(_pool_context().Pool(min(jobs, len(chunks)), _start_worker, (spec,)))
        yield from pool.imap_unordered(_work, chunks)


# A Ray worker process keeps its search between chunks of the same run.
_ray_worker: tuple[str, Search] | None = None


def _ray_work(run_id: str, spec: WorkerSpec, chunk: tuple[int, Node]) -> Result:
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


def ray_results(spec: WorkerSpec, chunks: list[tuple[int, Node]], jobs: int | None) -> Iterator[Result]:
    """Run the chunks as Ray tasks, at most ``jobs`` at a time (None: one per CPU of the cluster).

    Connects to the cluster in ``RAY_ADDRESS`` if set, else starts Ray on
    this machine, unless the caller has already called ``ray.init``.
    """
    ray = _import_ray()
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    if jobs is None:
        jobs = max(1, int(ray.cluster_resources().get("CPU", 1)))
    remote = ray.remote(num_cpus=1, max_retries=0)(_ray_work)
    run_id, spec_ref = os.urandom(8).hex(), ray.put(spec)
    queue, running = list(chunks), []
    try:
        while queue or running:
            while queue and len(running) < jobs:
                running.append(remote.remote(run_id, spec_ref, queue.pop(0)))
            ready, running = ray.wait(running, num_returns=1)
            try:
                yield ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:  # the worker's own exception, as a local pool gives it
                raise exc.cause from None
    finally:
        for ref in running:
            ray.cancel(ref, force=True)


def _pool_context():
    """The multiprocessing context of the pool: fork where the platform has it."""
    # fork starts a worker in milliseconds and needs no importable __main__
    # (spawn re-runs the main script, which fails for a script read from
    # stdin); the LPs run single-threaded, so no solver thread is cut off by it.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")

