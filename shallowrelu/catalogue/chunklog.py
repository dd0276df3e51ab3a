"""The chunk log an enumeration streams to (``OUT.part``): finished chunks, each forced to disk.

Each finished chunk (an independent subtree of the search) is appended as
one record, a small catalogue file with ``info["chunk"]``, its id (see
``info["chunks"]``), and the parts of its subtree it handed on, as arrays
named ``open<j>.*`` beside the catalogue's. A crash, even SIGKILL, loses only
the chunks under way.
:meth:`ChunkLog.read` turns the log back into an interrupted catalogue to
resume from; :meth:`ChunkLog.tables` reads it a chunk at a time in plan
order, to write a catalogue larger than memory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import CatalogueFormatError
from ..io.files import (append_record, cut_torn_record, iter_records, npz_arrays, npz_bytes, read_record_at,
                        records_extent, starts_as_record_log)
from ..limits import stoppable
from .catalogue import Catalogue
from .fileformat import from_arrays, to_arrays
from .table import RegionTable


@dataclass
class _Head:
    """A record's id, region count, work, network fingerprint and the parts its chunk handed on."""

    cid: tuple[int, ...]
    size: int
    counts: dict
    fingerprint: str
    parts: dict[tuple[int, ...], dict[str, np.ndarray]]


class ChunkLog:
    """Regions streamed to disk chunk by chunk as a run finds them.

    Parameters
    ----------
    path : str or path
    keep : bool
        Keep the records already there (a resumed run), cutting a record a
        crash left half-written; else start an empty log.
    """

    def __init__(self, path: str | os.PathLike, keep: bool = False) -> None:
        self.path = Path(path)
        if keep and self.path.exists():
            cut_torn_record(self.path)  # so that appends stay readable
        else:
            self.path.write_bytes(b"")

    def append(self, chunk: Catalogue) -> None:
        """Append one chunk's regions (``chunk.info["chunk"]`` is its id) and its ``frontier`` (the parts it
        handed on), whole even when Ctrl-C comes.

        A stop signal during the append takes effect once the record is
        written: raised inside the zip writer it left a handle open, and
        zipfile's ValueError on closing replaced the interrupt.
        """
        arrays = to_arrays(chunk.network, chunk.hull, chunk.table, chunk.info)
        for j, (cid, part) in enumerate(sorted(chunk.frontier.items())):
            arrays[f"open{j}.id"] = np.array(cid, dtype=np.int64)
            arrays.update((f"open{j}.{k}", v) for k, v in part.items())
        # Stored, not deflated: deflating cost the parent 0.5 s per chunk of 16,384
        # regions, CPU taken from two workers, for a file deleted at the end.
        with stoppable():
            append_record(self.path, npz_bytes(arrays, compress=False))

    @staticmethod
    def count(path: str | os.PathLike) -> int:
        """How many finished chunks the log holds (0 for a missing file or one cut before its first).

        Raises
        ------
        CatalogueFormatError
            If the file is not a chunk log at all.
        """
        path = Path(path)
        if not path.is_file():
            return 0
        if not starts_as_record_log(path):
            raise CatalogueFormatError(f"{path}: not a shallowrelu chunk log")
        return records_extent(path)[0]

    @staticmethod
    def read(path: str | os.PathLike, regions: bool = True, empty: bool = False) -> Catalogue | None:
        """The regions logged so far as one interrupted catalogue, chunks in catalogue order, with the
        parts the chunks handed on that are not logged as its ``frontier``.

        With ``regions`` False the catalogue holds none, only the record of
        its chunks in ``info["chunks"]``: what a run resumes from whose
        regions stay in the log (``enumerate_regions(..., to=)``). The log is
        read a record at a time either way, once: opening it again to append
        (``ChunkLog(path, keep=True)``) does not read it again. With
        ``empty`` True, a log with no complete chunk gives None.

        Raises
        ------
        CatalogueFormatError
            If the file is not a chunk log, holds records of different runs, or (unless ``empty``) no
            complete record.
        """
        path = Path(path)
        if not path.is_file():
            raise CatalogueFormatError(f"{path}: no such chunk log")
        if not starts_as_record_log(path):
            raise CatalogueFormatError(f"{path}: not a shallowrelu chunk log")
        first, logged, tables, frontier = None, [], {}, {}
        for offset, payload in iter_records(path):
            head = ChunkLog._head(path, payload, offset)
            chunk = ChunkLog._chunk(path, payload, offset) if regions or first is None else None
            if first is None:
                first = chunk
            elif head.fingerprint != first.network.fingerprint():
                raise CatalogueFormatError(f"{path}: chunks of different networks")
            logged.append([list(head.cid), head.size, True, head.counts, len(head.parts)])
            tables[head.cid] = chunk.table if regions else first.table.rows(0, 0)
            # a part is logged after the chunk that handed it on: keep only the parts still open
            frontier.pop(head.cid, None)
            frontier.update(head.parts)
        if first is None:
            if empty:
                return None
            raise CatalogueFormatError(f"{path}: no complete chunk in the log")
        logged.sort()
        info = {k: v for k, v in first.info.items() if k not in ("chunk", "counts")}
        info.update(interrupted=True, complete=False, certificate=None, chunks=logged)
        cat = Catalogue(first.network, first.hull, RegionTable.concat([tables[tuple(c[0])] for c in logged]), info)
        cat.frontier = frontier
        return cat

    def tables(self, order: list[tuple[int, ...]],
               held: dict[tuple[int, ...], RegionTable]) -> Callable[[], Iterator[RegionTable]]:
        """The regions of the chunks ``order`` (chunk ids), in that order, one chunk at a time: those in
        ``held`` from memory, the others from the log (each read when its turn comes).

        Returns a callable that starts the iteration again, for the passes a
        certificate and the file need.
        """
        offsets = {self._head(self.path, payload, offset).cid: offset for offset, payload in iter_records(self.path)}
        missing = [i for i in order if i not in held and i not in offsets]
        if missing:
            raise CatalogueFormatError(f"{self.path}: chunks {missing[:5]} are not in the log")

        def each() -> Iterator[RegionTable]:
            for i in order:
                yield held[i] if i in held else self._chunk(self.path, read_record_at(self.path, offsets[i]),
                                                            offsets[i]).table
        return each

    @staticmethod
    def _chunk(path: Path, payload: bytes, offset: int) -> Catalogue:
        """The chunk of the record at ``offset`` of the log at ``path``."""
        label = f"{path} record at {offset}"
        return Catalogue(*from_arrays(npz_arrays(payload, label, CatalogueFormatError, "chunk"), path))

    @staticmethod
    def _head(path: Path, payload: bytes, offset: int) -> _Head:
        """What the log's books need of the record at ``offset``, without reading its regions."""
        label = f"{path} record at {offset}"
        arrays = npz_arrays(payload, label, CatalogueFormatError, "chunk",
                            keep=lambda k: k in ("info", "fingerprint", "inradius") or k.startswith("open"))
        parts: dict[str, dict[str, np.ndarray]] = {}
        for key, value in arrays.items():
            if key.startswith("open"):
                j, name = key[4:].split(".", 1)
                parts.setdefault(j, {})[name] = value
        try:
            info = json.loads(str(arrays["info"]))
            return _Head(tuple(info["chunk"]), len(arrays["inradius"]), info.get("counts", {}),
                         str(arrays["fingerprint"]),
                         {tuple(int(k) for k in part.pop("id")): part for part in parts.values()})
        except (KeyError, ValueError, TypeError) as exc:
            raise CatalogueFormatError(f"{label}: not a chunk record ({exc})") from None
