"""The two ways into the region search: :func:`enumerate_regions` and :func:`search_regions`.

Owns the set-up (the domain's affine hull, the network restricted to it),
resuming an interrupted catalogue, and the catalogue's ``info`` with its
completeness certificate. The work itself is :mod:`.search`, :mod:`.plan`
and :mod:`.run`'s.
"""

from __future__ import annotations

import os
import time
from typing import Callable

import numpy as np

from ..catalogue import Catalogue, Certificate, ChunkLog, RegionArrays, RegionTable
from ..catalogue.certificate import certify
from ..catalogue.columnar import write_parquet
from ..catalogue.fileformat import to_arrays
from ..catalogue.locate import PointIndex
from ..choices import PART_SUFFIX
from ..errors import DomainError
from ..network import ReLUNetwork, as_network
from ..polytope import Domain, Slice
from ..polytope.hull import AffineHull, affine_hull
from ..tolerances import DEFAULT_TOLERANCES, Tolerances
from .hooks import ProgressFn, SearchHooks
from .node import Stats, Subtree
from .plan import Chunk, plan
from .run import Book, Run, check_parallel, run_plan
from .search import Search
from .workers import ChunkId


def search_regions(net: ReLUNetwork, domain: Domain, hooks: SearchHooks, *,
                   tol: Tolerances = DEFAULT_TOLERANCES, samples: int = 256, seed: int = 0, jobs: int | None = 1,
                   backend: str = "local") -> dict:
    """Run the region search with ``hooks`` deciding what to prune and what to do with each region.

    With ``jobs > 1`` (or ``backend="ray"``) the chunks run in worker
    processes, each with its own copy of ``hooks`` (so they must pickle); an
    exception a hook raises there ends the search and is raised here.

    Returns
    -------
    dict
        ``lps`` (search LPs), ``interrupted``, and ``unresolved`` (chunks
        left out because an LP failed on every attempt).
    """
    hull = affine_hull(domain, net.n_inputs, tol)
    if hull.B.shape[1] == 0:
        raise DomainError("domain is a single point; there is nothing to search")
    jobs = check_parallel(jobs, backend)
    hooks.hull = hull
    work_net = net.restrict(hull.x0, hull.B) if hull.flat else net
    search = Search(work_net, hull, tol, samples=samples, seed=seed, hooks=hooks)
    books, todo = _opened(plan(search))
    run = run_plan(search, todo, books, jobs=jobs, backend=backend)
    return {"lps": run.stats.search_lps, "interrupted": run.interrupted, "unresolved": run.stats.unresolved}


def _opened(chunks: list[Chunk]) -> tuple[dict[ChunkId, Book], list[tuple[ChunkId, Subtree]]]:
    """The plan's chunks by id: those it finished (regions met while cutting the tree), and the open ones."""
    books = {(i,): Book(c, len(c), True) for i, c in enumerate(chunks) if isinstance(c, RegionTable)}
    return books, [((i,), c) for i, c in enumerate(chunks) if isinstance(c, Subtree)]


def _resumed(resume: Catalogue, net: ReLUNetwork, hull: AffineHull, options: dict, chunks: list[Chunk],
             regions: bool) -> tuple[dict[ChunkId, Book], list[tuple[ChunkId, Subtree]]]:
    """What an interrupted catalogue finished, after checking it comes from the same run, and what is left.

    Returns the books of its finished chunks (their regions, or with
    ``regions`` False only their number: they are in the run's chunk log)
    and the open chunks. A chunk that handed on parts is reused with its
    parts when each part finished or is in ``resume.frontier``; else (a
    frontier not saved with the catalogue) its plan chunk runs again whole.
    """
    if resume.network.fingerprint() != net.fingerprint():
        raise ValueError("the catalogue to resume is of another network")
    same_domain = (resume.hull.B.shape == hull.B.shape and np.array_equal(resume.hull.x0, hull.x0)
                   and np.array_equal(resume.hull.domain.P, hull.domain.P)
                   and np.array_equal(resume.hull.domain.p, hull.domain.p))
    if not same_domain:
        raise ValueError("the catalogue to resume was made over another domain")
    changed = [k for k in ("samples", "seed", "chunk_regions") if resume.info.get(k) != options[k]]
    if Tolerances.from_info(resume.info).record() != options["tolerances"]:
        changed.append("tolerances")
    if changed:
        raise ValueError(f"the catalogue to resume was made with other options: {', '.join(changed)}")
    if resume.info.get("chunks") is None:
        raise ValueError("the catalogue to resume has no record of its chunks (made by an older version)")
    logged, start = {}, 0
    for cid, count, done, counts, parts in resume.info["chunks"]:
        logged[tuple(cid)] = (start, count, done, counts, parts)
        start += count

    def reused(cid: ChunkId, subtree: Subtree | None) -> list[tuple[ChunkId, Book | Subtree]] | None:
        """The chunk ``cid`` and its parts, finished or open; None if an open one is not known."""
        if cid not in logged or not logged[cid][2]:
            return None if subtree is None else [(cid, subtree)]
        at, count, _, counts, parts = logged[cid]
        out = [(cid, Book(resume.table.rows(at, at + count) if regions else None, count, True,
                          Stats.from_record(counts), parts))]
        for j in range(1, parts + 1):
            part = resume.frontier.get(cid + (j,))
            more = reused(cid + (j,), None if part is None else Subtree.from_arrays(part))
            if more is None:
                return None
            out += more
        return out

    books, todo = _opened(chunks)
    opened = [(cid, item) for top, chunk in todo for cid, item in reused(top, None) or [(top, chunk)]]
    books.update((cid, item) for cid, item in opened if isinstance(item, Book))
    return books, [(cid, item) for cid, item in opened if isinstance(item, Subtree)]


def enumerate_regions(net: ReLUNetwork, domain: Domain = None, *, tol: Tolerances = DEFAULT_TOLERANCES,
                      samples: int = 256, seed: int = 0, jobs: int | None = 1, backend: str = "local",
                      resume: Catalogue | None = None, progress: ProgressFn | None = None,
                      on_chunk: Callable[[Catalogue], None] | None = None,
                      to: str | os.PathLike | None = None) -> Catalogue:
    """Find every full-dimensional activation region of ``net`` over ``domain``.

    Parameters
    ----------
    net : ReLUNetwork
    domain : Box, Polytope or None
        ``None`` is all of R^n (the paper's setting). A flat domain is
        handled in the coordinates of its affine hull.
    tol : Tolerances
        Floats decide the sides of a split thicker than ``tol.min_radius``;
        thinner ones are decided in exact arithmetic, so every region is
        found down to ``tol.resolution`` (thinner ones exist but are only
        counted); regions thinner than ``tol.min_inradius`` are counted as
        ``thin``.
    samples : int
        Random interior points thrown in at the start; each region that
        catches one needs no LP to be found. Fixed by ``seed``.
    seed : int
    jobs : int or None
        Workers for the chunks, the independent subtrees of the search (1: all in this process;
        None: one per core, or per CPU of the Ray cluster). The catalogue is
        the same for every value.
    backend : {"local", "ray"}
        ``"local"``: a pool of processes on this machine. ``"ray"``: Ray
        tasks (``pip install 'shallowrelu[ray]'``), on the cluster named by
        ``RAY_ADDRESS`` or else a Ray instance started here; a caller's own
        ``ray.init(...)`` is used as it is. Same catalogue either way.
    resume : Catalogue, optional
        An interrupted catalogue of the same network, domain and options:
        its finished chunks are kept, the rest is searched.
    progress : callable(regions, lps), optional
        Called after every region (after every chunk with ``jobs > 1``).
    on_chunk : callable(Catalogue), optional
        Gets each finished chunk's regions as a small catalogue with
        ``info["chunk"]``, its index in the plan (see :class:`ChunkLog`).
    to : path, optional
        A ``.parquet`` file (pyarrow): the regions are not kept in memory
        but stream to the chunk log ``TO.part`` as chunks finish, and the
        catalogue is written to ``to`` at the end, a chunk at a time, and
        returned with its regions on disk. The memory of a run is then
        that of the chunks under way, whatever the region count. To resume
        such a run, pass ``resume=ChunkLog.read(TO.part, regions=False)``:
        the finished chunks stay in the log.

    Returns
    -------
    Catalogue
        Regions in depth-first order (inactive side first), the same for
        the same network, domain and options. ``cat.info`` holds ``lps``,
        ``seconds``, ``thin``, ``exact_decisions``, ``below_resolution``,
        ``vertices_dropped`` (splits searched by LPs where vertices would not serve), ``interrupted`` (with
        ``stop_reason`` where the memory budget stopped it), ``complete`` and ``chunks``
        (per chunk: its index, its region count, finished or not, the work it took). A run
        stopped by Ctrl-C returns the regions found so far with
        ``interrupted`` True; pass it as ``resume`` to finish it.

    Examples
    --------
    >>> import numpy as np, shallowrelu as sr
    >>> net = sr.ReLUNetwork([(np.array([[1.0], [-1.0]]), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))])
    >>> len(sr.enumerate_regions(net))
    2
    """
    net = as_network(net, "enumerate_regions")
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    jobs = check_parallel(jobs, backend)
    start = time.perf_counter()
    hull = affine_hull(domain, net.n_inputs, tol)
    if hull.B.shape[1] == 0:
        raise DomainError("domain is a single point; there is nothing to enumerate")
    work_net = net.restrict(hull.x0, hull.B) if hull.flat else net
    search = Search(work_net, hull, tol, samples=samples, seed=seed)
    options = {"samples": samples, "seed": seed, "tolerances": tol.record(), "chunk_regions": search.chunk_regions}
    chunks = plan(search)
    books, todo = _opened(chunks) if resume is None else _resumed(resume, net, hull, options, chunks, to is None)
    log = None if to is None else ChunkLog(f"{to}{PART_SUFFIX}", keep=resume is not None)
    sinks = [f for f in (on_chunk, None if log is None else log.append) if f is not None]

    def stream(cid: ChunkId, found: RegionTable, stats: Stats, parts: dict[ChunkId, Subtree]) -> None:
        """Hand a finished chunk to each sink, as a small catalogue with the parts it handed on."""
        chunk = Catalogue(net, hull, found, {"chunk": list(cid), "counts": stats.record(), **options})
        chunk.frontier = {k: part.arrays() for k, part in parts.items()}
        for sink in sinks:
            sink(chunk)
    run = run_plan(search, todo, books, jobs=jobs, progress=progress, stream=stream if sinks else None,
                   backend=backend, keep=log is None)
    st = run.stats
    info = {
        "lps": st.search_lps + st.facet_lps,
        "search_lps": st.search_lps,
        "facet_lps": st.facet_lps,
        "thin": st.thin,
        "thin_min_radius": None if st.thin == 0 else st.thin_min_radius,
        "exact_decisions": st.exact,
        "below_resolution": st.below_resolution,
        "vertices_dropped": st.vertices_dropped,
        "interrupted": run.interrupted,
        "stop_reason": run.reason or None,
        "unresolved": st.unresolved,
        "unresolved_error": st.unresolved_error or None,
        "resumed": resume is not None,
        "bounded": search.bounded,
        **({"slice": domain.record()} if isinstance(domain, Slice) else {}),
        "radius_cap": search.r_max,
        **options,
        "chunks": [book.record(cid) for cid, book in run.ordered()],
    }
    frontier = {cid: subtree.arrays() for cid, subtree in run.open.items()} if run.interrupted else {}
    if log is not None:
        return _written(to, log, net, work_net, hull, run, info, tol, start, frontier)
    tables = [book.regions for _, book in run.ordered()]
    run.books.clear()  # so that the chunks go as soon as they are joined
    cat = Catalogue(net, hull, RegionTable.concat(tables) if tables else search.take(), info)
    cat.frontier = frontier
    del tables
    _certified(info, cat.certificate(tol) if not run.interrupted else None, start)
    return cat


def _certified(info: dict, cert: Certificate | None, start: float) -> None:
    """Put the certificate (None: the run was interrupted) and the time taken into ``info``."""
    info["complete"] = bool(cert is not None and cert.complete and not info["unresolved"])
    info["certificate"] = None if cert is None else cert.as_dict()
    info["seconds"] = time.perf_counter() - start


def _written(to: str | os.PathLike, log: ChunkLog, net: ReLUNetwork, work_net: ReLUNetwork, hull: AffineHull,
             run: Run, info: dict, tol: Tolerances, start: float, frontier: dict) -> Catalogue:
    """The catalogue of a run whose chunks streamed to ``log``: certified and written to ``to`` a chunk at
    a time in catalogue order (with the regions held in memory: met while cutting the plan, or of an
    interrupted chunk), then opened from it with ``frontier``, the open chunks of an interrupted run."""
    ordered = run.ordered()
    chunks = log.tables([cid for cid, _ in ordered], {cid: b.regions for cid, b in ordered if b.regions is not None})
    run.books.clear()
    empty = RegionArrays(hull.B.shape[1], net.n_outputs, net.n_neurons).freeze()
    cert = None
    if not run.interrupted:
        points = PointIndex(np.concatenate([empty.patterns] + [t.patterns for t in chunks()]), chunks, work_net,
                            tol.min_radius)
        cert = certify(chunks, hull, info["bounded"], points.locate, tol.min_radius)
    _certified(info, cert, start)
    write_parquet(to, to_arrays(net, hull, empty, info), chunks())
    if not run.interrupted:  # the file holds everything the log had
        log.path.unlink(missing_ok=True)
    cat = Catalogue.load(to)
    cat.info["seconds"] = info["seconds"]
    cat.frontier = frontier
    return cat
