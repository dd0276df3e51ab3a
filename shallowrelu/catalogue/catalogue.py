"""The :class:`Catalogue`: every region of a network over a domain, and the questions it answers.

Ties together the flat table (:mod:`.table`), point location
(:mod:`.locate`), the completeness certificate (:mod:`.certificate`) and the
file (:mod:`.fileformat`). Internally every region lives in the coordinates
``t`` of the domain's affine hull (``x = x0 + B t``); :class:`Region`
objects and :meth:`Catalogue.region_of` speak in input coordinates ``x``.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import CatalogueFormatError
from ..io.files import atomic_savez, read_npz
from ..network import ReLUNetwork
from ..polytope.hull import AffineHull
from ..tolerances import Tolerances
from . import certificate as _certificate
from .columnar import RegionFile, is_parquet, write_parquet
from .fileformat import from_arrays, to_arrays
from .locate import PointIndex
from .region import DOMAIN_FACET, Region
from .table import RegionTable


class Catalogue:
    """Every full-dimensional activation region of a network over a domain.

    Build one with :func:`shallowrelu.enumerate_regions` or :meth:`load`.
    ``len(cat)``, ``cat[i]`` (a :class:`Region`), ``cat.region_of(X)``,
    ``cat.save(path)``. ``cat.info`` holds how it was made (LPs, seconds,
    thin regions, completeness, the tolerances). ``cat.work_network`` is the
    network in the domain's hull coordinates ``t`` (the network itself unless
    the domain is flat).

    A catalogue read from a ``.parquet`` file keeps its regions on disk:
    ``len``, ``cat[i]``, iteration, :meth:`chunks`, :meth:`region_of` and
    :meth:`summary` read a row group or a column at a time; :attr:`table`
    loads every region, or refuses in one line over the memory budget.

    Parameters
    ----------
    network : ReLUNetwork
    hull : AffineHull
        The domain and its affine hull.
    table : RegionTable or RegionFile
        The regions, in ``t`` coordinates, in memory or in a Parquet file.
    info : dict
        How the catalogue was made (JSON-ready).

    Attributes
    ----------
    frontier : dict
        Of an interrupted enumeration: per open chunk id (a tuple, see
        ``info["chunks"]``) the subtree still to search, as plain arrays; what
        ``enumerate_regions(..., resume=)`` starts from. Kept in memory and in
        the chunk log, not in a catalogue file (resume from the log).
    """

    def __init__(self, network: ReLUNetwork, hull: AffineHull, table: RegionTable | RegionFile,
                 info: dict) -> None:
        self.network = network
        self.hull = hull
        self._table = table if isinstance(table, RegionTable) else None
        self._file = table if isinstance(table, RegionFile) else None
        self.info = info
        self.frontier: dict[tuple[int, ...], dict[str, np.ndarray]] = {}
        self.work_network = network.restrict(hull.x0, hull.B) if hull.flat else network

    def __repr__(self) -> str:
        state = ("interrupted" if self.info.get("interrupted")
                 else "complete" if self.info.get("complete") else "not certified complete")
        return (f"Catalogue({len(self)} regions of a {self.network.describe()} over a {self.dim}-D domain, "
                f"{state})")

    # -- access -------------------------------------------------------------
    @property
    def table(self) -> RegionTable:
        """Every region as flat arrays (``t`` coordinates); read from a Parquet file on first use.

        Raises
        ------
        MemoryBudgetError
            If the regions of a Parquet catalogue would not fit in the memory budget.
        """
        if self._table is None:
            self._table = self._file.table()
        return self._table

    def chunks(self) -> Iterator[RegionTable]:
        """The regions as consecutive tables: one row group of a Parquet file at a time, or the one table."""
        if self._table is not None:
            yield self._table
        else:
            yield from self._file.chunks()

    def _rows(self, start: int, stop: int) -> RegionTable:
        """Regions ``start:stop``, read from disk where they are not in memory."""
        return self._table.rows(start, stop) if self._table is not None else self._file.rows(start, stop)

    def _packed_patterns(self) -> np.ndarray:
        """Every bit-packed pattern, ``(R, ceil(N/8))`` uint8 (one column of a Parquet file)."""
        return self._table.patterns if self._table is not None else self._file.column("pattern")

    def __len__(self) -> int:
        return len(self._table) if self._table is not None else len(self._file)

    @property
    def dim(self) -> int:
        """Dimension of the domain (of its affine hull)."""
        return self.hull.B.shape[1]

    @property
    def tol(self) -> Tolerances:
        """The tolerances the catalogue was made with (from ``info["tolerances"]``)."""
        return Tolerances.from_info(self.info)

    def patterns(self) -> np.ndarray:
        """All activation patterns as a ``(R, N)`` bool array."""
        N = self.network.n_neurons
        return np.unpackbits(self._packed_patterns(), axis=1, count=N).astype(bool)

    def facet_rows(self, i: int) -> slice:
        """Slice of the facet arrays that belongs to region ``i``."""
        return self.table.facet_rows(i)

    @property
    def facet_owner(self) -> np.ndarray:
        """The region of every row of the facet arrays."""
        return self.table.facet_owner

    def __getitem__(self, i: int) -> Region:
        R = len(self)
        if not -R <= i < R:
            raise IndexError(f"region index {i} out of range for {R} regions")
        i %= R
        t, h = self._rows(i, i + 1), self.hull
        Bt = h.B.T
        A = t.A[0] @ Bt
        G = t.facet_G @ Bt
        neurons = tuple(DOMAIN_FACET if l == 0 else (int(l), int(k))
                        for l, k in zip(t.facet_layer, t.facet_index))
        pattern = np.unpackbits(t.patterns[0], count=self.network.n_neurons).astype(bool)
        return Region(index=i, pattern=pattern, A=A, d=t.d[0] - A @ h.x0, G=G, g=t.facet_g - G @ h.x0,
                      neurons=neurons, interior=h.to_x(t.interior[0])[0], inradius=float(t.inradius[0]))

    def __iter__(self) -> Iterator[Region]:
        return (self[i] for i in range(len(self)))

    # -- point location -------------------------------------------------------
    @cached_property
    def _points(self) -> PointIndex:
        """Point location, set up on first use."""
        return PointIndex(self._packed_patterns(), self.chunks, self.work_network, self.tol.min_radius)

    def region_of(self, X: np.ndarray) -> np.ndarray:
        """Index of the region of each row of ``X``; -1 outside the domain.

        A point on a boundary gets one of the regions whose closure holds it,
        as does a point in a sliver too thin (``min_radius``) to be a region.
        """
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != self.network.n_inputs:
            raise ValueError(f"expected points with {self.network.n_inputs} coordinates, got {X.shape[1]}")
        T = self.hull.to_t(X)
        out = np.full(X.shape[0], -1, dtype=np.int64)
        slack = self._points.slack
        inside = self.hull.domain.contains(T, slack)
        if self.hull.flat:
            inside &= np.linalg.norm(self.hull.to_x(T) - X, axis=1) <= slack * (1 + np.abs(X).max(axis=1))
        out[inside] = self.locate_t(T[inside])
        return out

    def locate_t(self, T: np.ndarray) -> np.ndarray:
        """Index of the region of each row of ``T`` (hull coordinates, not checked against the domain)."""
        return self._points.locate(T)

    def violation(self, t: np.ndarray) -> np.ndarray:
        """Per region, the largest ``G t + g`` over its facets (``t`` coordinates): the signed
        distance by which ``t`` lies outside the region's closed polytope (``-inf`` without facets)."""
        return self._points.violation(t)

    # -- completeness ---------------------------------------------------------
    def volumes(self) -> np.ndarray:
        """Exact volume of every region (bounded domains): up to 3-D from its facets in one batch,
        above by qhull's vertices, ``nan`` where qhull fails."""
        return _certificate.region_volumes(self.table, self.dim)

    def neighbours(self, tol: Tolerances | None = None) -> np.ndarray:
        """The region across each facet (indexed like the facet arrays of :attr:`table`):
        ``-1`` for a domain facet or where none was found.

        Parameters
        ----------
        tol : Tolerances, optional
            Its ``min_radius`` sets the step across a facet; default the catalogue's own.
        """
        min_radius = (tol or self.tol).min_radius
        return _certificate.neighbours(self.table, self.locate_t, min_radius)

    def certificate(self, tol: Tolerances | None = None) -> _certificate.Certificate:
        """Check that the regions cover the domain: every inner facet has a region beyond it
        (:meth:`neighbours`); in dimension <= 3 over a bounded domain the region volumes
        must also add up to the domain's.

        Parameters
        ----------
        tol : Tolerances, optional
            Default the catalogue's own.
        """
        return _certificate.certify(self.chunks, self.hull, bool(self.info.get("bounded", False)), self.locate_t,
                                    (tol or self.tol).min_radius)

    # -- files ----------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the catalogue (with its network and domain) to ``path``, atomically.

        ``.parquet`` (pyarrow) is written a row group at a time, so a
        catalogue read from one is copied without loading it; any other name
        is one ``.npz``. The file is written under a temporary name in the
        same directory and renamed when complete, so a failure never leaves
        a partial file.
        """
        if Path(path).suffix.lower() == ".parquet":
            write_parquet(path, self.meta(), self.chunks())
        else:
            atomic_savez(path, to_arrays(self.network, self.hull, self.table, self.info))

    def meta(self) -> dict[str, np.ndarray]:
        """The arrays of the catalogue's file without its regions: network, domain, ``info``."""
        return to_arrays(self.network, self.hull, self._rows(0, 0), self.info)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Catalogue":
        """Read a catalogue written by :meth:`save`; a ``.parquet`` one keeps its regions on disk.

        Raises
        ------
        CatalogueFormatError
            If the file is missing, truncated, not a catalogue, or inconsistent.
        """
        path = Path(path)
        if is_parquet(path):
            net, hull, empty, info = from_arrays(RegionFile.meta(path), path)
            return cls(net, hull, RegionFile(path, empty), info)
        return cls(*from_arrays(read_npz(path, CatalogueFormatError, "catalogue"), path))

    def summary(self) -> dict:
        """Counts and figures for a report (JSON-ready)."""
        if self._table is not None:
            r, nf = self._table.inradius, np.diff(self._table.facet_ptr)
        else:
            r, nf = self._file.column("inradius"), self._file.facet_counts
        out = {"regions": len(self), "inputs": self.network.n_inputs, "dimension": self.dim,
               "neurons": self.network.n_neurons, "hidden": list(self.network.hidden_sizes)}
        out.update({k: self.info[k] for k in ("lps", "seconds", "thin", "exact_decisions", "below_resolution",
                                              "complete", "interrupted") if k in self.info})
        if len(self):
            out.update(facets_mean=float(nf.mean()), facets_max=int(nf.max()),
                       inradius_min=float(r.min()), inradius_median=float(np.median(r)))
        return out
