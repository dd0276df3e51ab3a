"""The columnar catalogue file: Parquet, one row per region, written chunk by chunk and read lazily.

A catalogue of millions of regions does not fit in memory as one table, so
it is written a chunk at a time as row groups and read back a row group or
a column at a time. Parquet (through pyarrow, ``pip install
'shallowrelu[parquet]'``) is read by pandas, DuckDB, polars and Spark as it
is; ``docs/formats.md`` lists the columns. Per region: ``pattern``
(fixed-size binary, the bit-packed pattern), ``A`` (``m * n`` values, row
by row), ``d``, ``interior``, ``inradius``; and its facets as lists:
``facet_G`` (``k * n`` values, row by row), ``facet_g``, ``facet_layer``,
``facet_index``, ``facet_point`` (``k * n``), ``facet_margin``. The
schema's key-value metadata ``shallowrelu`` holds the network, the domain
and ``info``: the arrays of an ``.npz`` catalogue without regions, as
base64.
"""

from __future__ import annotations

import base64
import os
from dataclasses import fields
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..errors import CatalogueFormatError, ShallowReLUError
from ..io.files import atomic_path, npz_arrays, npz_bytes
from ..limits import check_memory
from .table import RegionTable

MAGIC = b"PAR1"
_META_KEY = b"shallowrelu"


def pyarrow():
    """pyarrow and its parquet module, or a one-line error saying how to install them."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ShallowReLUError("a .parquet catalogue needs pyarrow: pip install 'shallowrelu[parquet]'") from None
    return pa, pq


def is_parquet(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` begins as a Parquet file does."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


def _arrow_table(t: RegionTable):
    """One chunk of regions as an Arrow table (the columns of the module docstring)."""
    pa, _ = pyarrow()
    R, n = t.interior.shape
    m = t.d.shape[1]
    width = t.patterns.shape[1]

    def fixed(values: np.ndarray, size: int):
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), size)

    def ragged(values: np.ndarray, per_row: int = 1):
        return pa.LargeListArray.from_arrays(pa.array(t.facet_ptr * per_row), pa.array(values.reshape(-1)))

    return pa.table({
        "pattern": pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), R,
                                                        [None, pa.py_buffer(t.patterns.tobytes())]),
        "A": fixed(t.A, m * n), "d": fixed(t.d, m), "interior": fixed(t.interior, n),
        "inradius": pa.array(t.inradius),
        "facet_G": ragged(t.facet_G, n), "facet_g": ragged(t.facet_g), "facet_layer": ragged(t.facet_layer),
        "facet_index": ragged(t.facet_index), "facet_point": ragged(t.facet_point, n),
        "facet_margin": ragged(t.facet_margin)})


def write_parquet(path: str | os.PathLike, meta: dict[str, np.ndarray], chunks: Iterable[RegionTable]) -> None:
    """Write the regions of ``chunks`` (one row group each, in order) with ``meta`` (the arrays of a catalogue
    file without its regions), atomically: under a temporary name, renamed when whole."""
    _, pq = pyarrow()
    metadata = {_META_KEY: base64.b64encode(npz_bytes(meta))}
    schema = _arrow_table(_empty_like(meta)).schema.with_metadata(metadata)
    with atomic_path(path) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for chunk in chunks:
                if len(chunk):
                    writer.write_table(_arrow_table(chunk).replace_schema_metadata(metadata),
                                       row_group_size=len(chunk))


def _empty_like(meta: dict[str, np.ndarray]) -> RegionTable:
    """A table of no regions with the widths of ``meta``'s (empty) region arrays."""
    return RegionTable(**{f.name: meta[f.name] for f in fields(RegionTable)})


class RegionFile:
    """The regions of a Parquet catalogue, read a row group or a column at a time.

    Parameters
    ----------
    path : str or path
    empty : RegionTable
        A table of no regions with the file's widths (from its metadata).

    Raises
    ------
    CatalogueFormatError
        If the file is not a Parquet catalogue.
    """

    def __init__(self, path: str | os.PathLike, empty: RegionTable) -> None:
        _, pq = pyarrow()
        self.path, self.empty = Path(path), empty
        self.n, self.m = empty.interior.shape[1], empty.d.shape[1]
        try:
            self._file = pq.ParquetFile(self.path)
        except Exception as exc:  # pyarrow raises its own ArrowInvalid and OSError for a damaged file
            raise CatalogueFormatError(f"{path}: not a readable Parquet file ({exc})") from None
        md = self._file.metadata
        self.group_sizes = np.array([md.row_group(k).num_rows for k in range(md.num_row_groups)], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.group_sizes)])
        self._cached: tuple[int, RegionTable] | None = None

    @staticmethod
    def meta(path: str | os.PathLike) -> dict[str, np.ndarray]:
        """The arrays of the catalogue without its regions (network, domain, info), from the schema.

        Raises
        ------
        CatalogueFormatError
            If the file holds no shallowrelu metadata.
        """
        _, pq = pyarrow()
        try:
            schema = pq.read_schema(path)
        except Exception as exc:
            raise CatalogueFormatError(f"{path}: not a readable Parquet file ({exc})") from None
        blob = (schema.metadata or {}).get(_META_KEY)
        if blob is None:
            raise CatalogueFormatError(f"{path}: a Parquet file but no shallowrelu catalogue (no metadata)")
        return npz_arrays(base64.b64decode(blob), str(path), CatalogueFormatError, "catalogue")

    def __len__(self) -> int:
        return int(self.starts[-1])

    def group(self, k: int) -> RegionTable:
        """Row group ``k`` as a table (the last one read is kept)."""
        if self._cached is not None and self._cached[0] == k:
            return self._cached[1]
        table = self._table(self._file.read_row_group(k))
        self._cached = (k, table)
        return table

    def chunks(self) -> Iterator[RegionTable]:
        """Every row group in order, one at a time."""
        for k in range(len(self.group_sizes)):
            yield self.group(k)

    def rows(self, start: int, stop: int) -> RegionTable:
        """Regions ``start:stop`` (within one row group or across several)."""
        if stop <= start:
            return self.empty
        first = int(np.searchsorted(self.starts, start, side="right") - 1)
        last = int(np.searchsorted(self.starts, stop - 1, side="right") - 1)
        parts = [self.group(k) for k in range(first, last + 1)]
        table = parts[0] if len(parts) == 1 else RegionTable.concat(parts)
        base = int(self.starts[first])
        return table.rows(start - base, stop - base)

    def column(self, name: str) -> np.ndarray:
        """One per-region column for every region (``pattern`` as ``(R, width)`` uint8)."""
        col = self._file.read(columns=[name]).column(name).combine_chunks()
        return _patterns(col) if name == "pattern" else col.to_numpy(zero_copy_only=False)

    @cached_property
    def facet_counts(self) -> np.ndarray:
        """The number of facets of every region (read from the list offsets alone)."""
        col = self._file.read(columns=["facet_g"]).column("facet_g").combine_chunks()
        return np.diff(col.offsets.to_numpy())

    def nbytes(self) -> int:
        """The bytes all regions take as one in-memory table (the file's uncompressed size)."""
        md = self._file.metadata
        return sum(md.row_group(k).total_byte_size for k in range(md.num_row_groups))

    def table(self) -> RegionTable:
        """Every region as one table, refused in one line where it would not fit in the memory budget."""
        check_memory(2 * self.nbytes(), f"loading the {len(self):,} regions of {self.path} into memory")
        parts = list(self.chunks())
        self._cached = None
        return RegionTable.concat(parts) if parts else self.empty

    def _table(self, tab) -> RegionTable:
        """An Arrow table of the module's columns as a :class:`RegionTable`."""
        n, m = self.n, self.m
        R = tab.num_rows

        def flat(name: str, dtype=np.float64) -> np.ndarray:
            col = tab.column(name).combine_chunks()
            return np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=dtype)

        patterns = _patterns(tab.column("pattern").combine_chunks()).copy()
        g = tab.column("facet_g").combine_chunks()
        ptr = g.offsets.to_numpy().astype(np.int64)
        return RegionTable(
            patterns=patterns, A=flat("A").reshape(R, m, n), d=flat("d").reshape(R, m),
            facet_ptr=ptr - ptr[0], facet_G=flat("facet_G").reshape(-1, n), facet_g=flat("facet_g"),
            facet_layer=flat("facet_layer", np.int32), facet_index=flat("facet_index", np.int32),
            facet_point=flat("facet_point").reshape(-1, n), facet_margin=flat("facet_margin"),
            interior=flat("interior").reshape(R, n), inradius=np.asarray(tab.column("inradius").to_numpy(),
                                                                         dtype=np.float64))


def _patterns(col) -> np.ndarray:
    """A ``pattern`` column (fixed-size binary) as ``(R, width)`` uint8, a view of its buffer."""
    width = col.type.byte_width
    return (np.frombuffer(col.buffers()[1], dtype=np.uint8, count=len(col) * width, offset=col.offset * width)
            .reshape(len(col), width))
