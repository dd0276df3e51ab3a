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

import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import CatalogueFormatError
from ..io.files import (append_record, iter_records, npz_arrays, npz_bytes, read_record_at, records_extent,
                        starts_as_record_log)
from ..limits import stoppable
from .catalogue import Catalogue
from .fileformat import from_arrays, to_arrays
from .table import RegionTable


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
            # Cut a record that a crash left half-written, so appends stay readable.
            os.truncate(self.path, records_extent(self.path)[1])
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
        # Stored, not deflated: deflating took the parent a fifth of a core beside two
        # workers (0.5 s per chunk of 16,384 regions), for a file deleted at the end.
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
    def read(path: str | os.PathLike, regions: bool = True) -> Catalogue:
        """The regions logged so far as one interrupted catalogue, chunks in catalogue order, with the
        parts the chunks handed on that are not logged as its ``frontier``.

        With ``regions`` False the catalogue holds none, only the record of
        its chunks in ``info["chunks"]``: what a run resumes from whose
        regions stay in the log (``enumerate_regions(..., to=)``). The log is
        read a record at a time either way.

        Raises
        ------
        CatalogueFormatError
            If the file holds no complete record or records of different runs.
        """
        path = Path(path)
        if not path.is_file():
            raise CatalogueFormatError(f"{path}: no such chunk log")
        first, logged, tables, frontier = None, [], {}, {}
        for offset, payload in iter_records(path):
            chunk = ChunkLog._chunk(path, payload, offset)
            if first is None:
                first = chunk
            elif chunk.network.fingerprint() != first.network.fingerprint():
                raise CatalogueFormatError(f"{path}: chunks of different networks")
            cid = tuple(chunk.info["chunk"])
            logged.append([list(cid), len(chunk), True, chunk.info.get("counts", {}), len(chunk.frontier)])
            tables[cid] = chunk.table if regions else chunk.table.rows(0, 0)
            # a part is logged after the chunk that handed it on: keep only the parts still open
            frontier.pop(cid, None)
            frontier.update(chunk.frontier)
        if first is None:
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
        offsets = {}
        for offset, payload in iter_records(self.path):
            offsets[tuple(self._chunk(self.path, payload, offset).info["chunk"])] = offset
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
        """The chunk of the record at ``offset`` of the log at ``path``, with the parts it handed on."""
        label = f"{path} record at {offset}"
        arrays = npz_arrays(payload, label, CatalogueFormatError, "chunk")
        chunk = Catalogue(*from_arrays(arrays, path))
        parts: dict[str, dict[str, np.ndarray]] = {}
        for key, value in arrays.items():
            if key.startswith("open"):
                j, name = key[4:].split(".", 1)
                parts.setdefault(j, {})[name] = value
        chunk.frontier = {tuple(int(k) for k in part.pop("id")): part for part in parts.values()}
        return chunk
