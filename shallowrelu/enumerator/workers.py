"""Where the subtrees run when not in this process: a local process pool or Ray tasks.

Owns the worker side (a search per worker process, rebuilt from the plan's
arguments, that runs one task at a time and sends its regions home as a flat
table) and the two backends that hand out the tasks. The order in which
results come back is free; :mod:`.run` puts them in plan order.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from contextlib import ExitStack
from typing import Iterator

from ..catalogue import RegionTable
from ..choices import BACKENDS  # noqa: F401 - re-exported: where the subtrees run
from .interrupts import interrupts_held
from .search import Node, Search, Stats


_worker: Search | None = None
_worker_error: Exception | None = None


def _exit_if_orphaned(parent: int, poll: float = 0.0) -> None:
    # A parent killed outright (SIGKILL) cannot stop its pool: leave quietly
    # rather than finish the task and fail on the broken pipe.
    while poll and os.getppid() == parent:
        time.sleep(poll)
    if os.getppid() != parent:
        os._exit(1)


def _make_worker(args: tuple) -> Search:
    net, hull, tol, samples, seed, src, task_keys, hooks = args
    search = Search(net, hull, tol, samples, seed, None, hooks)
    search.src, search.task_keys = list(src), task_keys
    return search


def _start_worker(args: tuple) -> None:
    global _worker, _worker_error
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent takes Ctrl-C and stops the pool,
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # which ends a worker by SIGTERM, quietly
    threading.Thread(target=_exit_if_orphaned, args=(os.getppid(), 0.2), daemon=True).start()
    try:
        _worker = _make_worker(args)
    except Exception as exc:  # noqa: BLE001 - a failing initializer makes the pool respawn workers forever
        _worker_error = exc


def _finish_task(search: Search, task: tuple[int, Node]) -> tuple[int, RegionTable, Stats, dict]:
    i, node = task
    regions, stats = search.run_task(node)
    return i, regions, stats, {} if search.hooks is None else search.hooks.tally()


def _work(task: tuple[int, Node]) -> tuple[int, RegionTable, Stats, dict]:
    if _worker_error is not None:
        raise _worker_error
    parent = os.getppid()
    result = _finish_task(_worker, task)
    _exit_if_orphaned(parent)
    return result


def pool_results(init: tuple, tasks: list, jobs: int) -> Iterator[tuple]:
    with ExitStack() as stack:
        with interrupts_held():
            pool = stack.enter_context(_pool_context().Pool(min(jobs, len(tasks)), _start_worker, (init,)))
        yield from pool.imap_unordered(_work, tasks)


# A Ray worker process keeps its search between tasks of the same run.
_ray_worker: tuple[str, Search] | None = None


def _ray_work(run_id: str, init: tuple, task: tuple[int, Node]) -> tuple[int, RegionTable, Stats, dict]:
    global _ray_worker
    if _ray_worker is None or _ray_worker[0] != run_id:
        _ray_worker = (run_id, _make_worker(init))
    return _finish_task(_ray_worker[1], task)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ImportError("the Ray backend needs Ray: pip install 'shallowrelu[ray]'") from None
    return ray


def ray_results(init: tuple, tasks: list, jobs: int | None) -> Iterator[tuple]:
    """Run the tasks as Ray tasks, at most ``jobs`` at a time (None: one per CPU of the cluster).

    Connects to the cluster in ``RAY_ADDRESS`` if set, else starts Ray on
    this machine, unless the caller has already called ``ray.init``.
    """
    ray = _import_ray()
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    if jobs is None:
        jobs = max(1, int(ray.cluster_resources().get("CPU", 1)))
    remote = ray.remote(num_cpus=1, max_retries=0)(_ray_work)
    run_id, init_ref = os.urandom(8).hex(), ray.put(init)
    queue, running = list(tasks), []
    try:
        while queue or running:
            while queue and len(running) < jobs:
                running.append(remote.remote(run_id, init_ref, queue.pop(0)))
            ready, running = ray.wait(running, num_returns=1)
            try:
                yield ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:  # the worker's own exception, as a local pool gives it
                raise exc.cause from None
    finally:
        for ref in running:
            ray.cancel(ref, force=True)


def _pool_context():
    # fork starts a worker in milliseconds and needs no importable __main__
    # (spawn re-runs the main script, which fails for a script read from
    # stdin); the LPs run single-threaded, so no solver thread is cut off by it.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")

