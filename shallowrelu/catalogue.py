"""The catalogue of activation regions: flat arrays, point location, completeness, files.

Internally every region lives in the coordinates ``t`` of the domain's affine
hull (``x = x0 + B t``; ``t == x`` unless the domain is flat). ``Region``
objects and ``region_of`` speak in input coordinates ``x``.

Owns the regions' flat tables, point location, adjacency, the completeness
certificate, the catalogue file and the chunk log an interrupted run leaves.
It stores what the search found and never searches or builds networks
itself; files go through :mod:`shallowrelu.io.files`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .errors import CatalogueFormatError
from .io.files import (append_record, atomic_savez, npz_arrays, npz_bytes, read_npz, read_records,
                       starts_as_record_log)
from .network import ReLUNetwork
from .polytope import Polytope
from .polytope.hull import AffineHull
from .polytope.volume import volume, volumes_by_facets

FORMAT = "shallowrelu-catalogue/1"
DOMAIN_FACET = "domain"

Neuron = tuple[int, int] | str


@dataclass(frozen=True)
class Region:
    """One full-dimensional activation region, in input coordinates.

    Attributes
    ----------
    index : int
        Position in the catalogue.
    pattern : ndarray of bool, shape (N,)
        Activation pattern (neuron active iff ``z > 0``).
    A, d : ndarray
        The network on this region: ``y = A x + d``.
    G, g : ndarray
        Facets in closed form ``G x + g <= 0``, irredundant, unit normals.
    neurons : tuple
        Per facet, the hidden neuron ``(layer, index)`` (layers from 1) whose
        hyperplane it lies on, or ``"domain"``.
    interior : ndarray, shape (n,)
        Centre of the largest ball in the region (Chebyshev centre).
    inradius : float
        Radius of that ball (capped at ``info["radius_cap"]`` when unbounded).
    """

    index: int
    pattern: np.ndarray
    A: np.ndarray
    d: np.ndarray
    G: np.ndarray
    g: np.ndarray
    neurons: tuple[Neuron, ...]
    interior: np.ndarray
    inradius: float


@dataclass(frozen=True)
class RegionTable:
    """All regions as flat arrays (``t`` coordinates); facets are ragged via ``facet_ptr``."""

    patterns: np.ndarray      # (R, ceil(N/8)) uint8, bit-packed
    A: np.ndarray             # (R, m, n)
    d: np.ndarray             # (R, m)
    facet_ptr: np.ndarray     # (R + 1,) int64
    facet_G: np.ndarray       # (F, n)
    facet_g: np.ndarray       # (F,)
    facet_layer: np.ndarray   # (F,) int32, 0 for a domain facet
    facet_index: np.ndarray   # (F,) int32, neuron index or domain row
    facet_point: np.ndarray   # (F, n) a point on the facet
    facet_margin: np.ndarray  # (F,) that point's distance to the region's other facets
    interior: np.ndarray      # (R, n)
    inradius: np.ndarray      # (R,)

    def __len__(self) -> int:
        return self.patterns.shape[0]

    def rows(self, start: int, stop: int) -> "RegionTable":
        """Regions ``start:stop`` as a table of their own."""
        f0, f1 = self.facet_ptr[start], self.facet_ptr[stop]
        fields_ = {f.name: getattr(self, f.name) for f in fields(self)}
        out = {k: (v[f0:f1] if k.startswith("facet_") else v[start:stop]) for k, v in fields_.items()}
        out["facet_ptr"] = self.facet_ptr[start:stop + 1] - f0
        return RegionTable(**out)

    @staticmethod
    def concat(tables: list["RegionTable"]) -> "RegionTable":
        """The regions of ``tables`` (at least one) in order, as one table."""
        ptrs = [tables[0].facet_ptr[:1]]
        base = 0
        for t in tables:
            ptrs.append(t.facet_ptr[1:] + base)
            base += int(t.facet_ptr[-1])
        out = {f.name: np.concatenate([getattr(t, f.name) for t in tables]) for f in fields(RegionTable)
               if f.name != "facet_ptr"}
        return RegionTable(facet_ptr=np.concatenate(ptrs), **out)


class RegionArrays:
    """Accumulates regions as the search finds them; ``freeze`` gives a :class:`RegionTable`.

    Each region is appended as one tuple, so an interrupt between two
    statements can never leave the table half-updated.
    """

    def __init__(self, n: int, m: int, n_neurons: int) -> None:
        self.n, self.m, self.N = n, m, n_neurons
        self._regions: list[tuple] = []

    def __len__(self) -> int:
        return len(self._regions)

    def append(self, pattern, A, d, G, g, sources, points, margins, interior, inradius) -> None:
        layer = np.array([s[0] for s in sources], dtype=np.int32)
        index = np.array([s[1] for s in sources], dtype=np.int32)
        self._regions.append((np.packbits(pattern), A, d, G, g, layer, index, points, margins,
                              interior, inradius))

    def freeze(self) -> RegionTable:
        n, m, R = self.n, self.m, len(self._regions)
        cols = list(zip(*self._regions)) if R else [[] for _ in range(11)]

        def stack(col, shape, dtype=np.float64):
            return np.array(col, dtype=dtype).reshape(shape) if R else np.zeros(shape, dtype)

        def cat(col, shape, dtype=np.float64):
            return np.concatenate(col).astype(dtype).reshape(shape) if R else np.zeros((0,) + shape[1:], dtype)

        counts = [len(x) for x in cols[4]]
        return RegionTable(
            patterns=stack(cols[0], (R, (self.N + 7) // 8), np.uint8),
            A=stack(cols[1], (R, m, n)), d=stack(cols[2], (R, m)),
            facet_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            facet_G=cat(cols[3], (-1, n)), facet_g=cat(cols[4], (-1,)),
            facet_layer=cat(cols[5], (-1,), np.int32), facet_index=cat(cols[6], (-1,), np.int32),
            facet_point=cat(cols[7], (-1, n)), facet_margin=cat(cols[8], (-1,)),
            interior=stack(cols[9], (R, n)), inradius=stack(cols[10], (R,)))


@dataclass(frozen=True)
class Certificate:
    """Evidence that the catalogue covers the domain (DESIGN.md section 1).

    ``complete`` holds when every facet that is not a domain facet has a
    catalogued region on its other side and, where checked, the region
    volumes add up to the domain's.
    """

    facets_checked: int
    facets_without_neighbour: int
    volume_checked: bool
    volume_sum: float
    domain_volume: float

    @property
    def volume_ok(self) -> bool:
        """Volumes agree to 1e-6 relative (True when not checked)."""
        if not self.volume_checked:
            return True
        return abs(self.volume_sum - self.domain_volume) <= 1e-6 * max(self.domain_volume, 1e-300)

    @property
    def complete(self) -> bool:
        """The catalogue passed every check."""
        return self.facets_without_neighbour == 0 and self.volume_ok

    def as_dict(self) -> dict:
        """JSON-ready summary."""
        return {"complete": self.complete, "facets_checked": self.facets_checked,
                "facets_without_neighbour": self.facets_without_neighbour,
                "volume_checked": self.volume_checked, "volume_sum": self.volume_sum,
                "domain_volume": self.domain_volume}


# A point this many min_radius outside a closed region (relative to its size)
# still belongs to it: rounding, or a sliver too thin to be a region.
_LOCATE_SLACK = 10.0
# Points located per forward pass of the network: bounds the memory of a
# certificate over millions of facets.
_LOCATE_BATCH = 65_536

# Past this dimension the volume check is skipped (said so in the certificate):
# the batch of :func:`volumes_by_facets` stops here, and qhull per region costs
# more than the search.
_VOLUME_MAX_DIM = 3


class Catalogue:
    """Every full-dimensional activation region of a network over a domain.

    Build one with :func:`shallowrelu.enumerate_regions` or :meth:`load`.
    ``len(cat)``, ``cat[i]`` (a :class:`Region`), ``cat.region_of(X)``,
    ``cat.save(path)``. ``cat.info`` holds how it was made (LPs, seconds,
    thin regions, completeness). ``cat.work_network`` is the network in the
    domain's hull coordinates ``t`` (the network itself unless the domain is flat).
    """

    def __init__(self, network: ReLUNetwork, hull: AffineHull, table: RegionTable, info: dict) -> None:
        self.network = network
        self.hull = hull
        self.table = table
        self.info = info
        self.work_network = network.restrict(hull.x0, hull.B) if hull.flat else network
        self._index: dict[bytes, int] | None = None

    # -- access -------------------------------------------------------------
    def __len__(self) -> int:
        return self.table.patterns.shape[0]

    @property
    def dim(self) -> int:
        """Dimension of the domain (of its affine hull)."""
        return self.hull.B.shape[1]

    def patterns(self) -> np.ndarray:
        """All activation patterns as a ``(R, N)`` bool array."""
        N = self.network.n_neurons
        return np.unpackbits(self.table.patterns, axis=1, count=N).astype(bool)

    def facet_rows(self, i: int) -> slice:
        """Slice of the facet arrays that belongs to region ``i``."""
        p = self.table.facet_ptr
        return slice(int(p[i]), int(p[i + 1]))

    def __getitem__(self, i: int) -> Region:
        R = len(self)
        if not -R <= i < R:
            raise IndexError(f"region index {i} out of range for {R} regions")
        i %= R
        t, h = self.table, self.hull
        sl = self.facet_rows(i)
        Bt = h.B.T
        A = t.A[i] @ Bt
        G = t.facet_G[sl] @ Bt
        neurons = tuple(DOMAIN_FACET if l == 0 else (int(l), int(k))
                        for l, k in zip(t.facet_layer[sl], t.facet_index[sl]))
        pattern = np.unpackbits(t.patterns[i], count=self.network.n_neurons).astype(bool)
        return Region(index=i, pattern=pattern, A=A, d=t.d[i] - A @ h.x0, G=G, g=t.facet_g[sl] - G @ h.x0,
                      neurons=neurons, interior=h.to_x(t.interior[i])[0], inradius=float(t.inradius[i]))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # -- point location -------------------------------------------------------
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
        tol = _LOCATE_SLACK * self.info.get("min_radius", 2e-9)
        inside = self.hull.domain.contains(T, tol)
        if self.hull.flat:
            inside &= np.linalg.norm(self.hull.to_x(T) - X, axis=1) <= tol * (1 + np.abs(X).max(axis=1))
        out[inside] = self._locate_t(T[inside])
        return out

    def _locate_t(self, T: np.ndarray) -> np.ndarray:
        if self._index is None:
            self._index = {bytes(row): i for i, row in enumerate(self.table.patterns)}
        packed = np.packbits(self.work_network.patterns(T), axis=1)
        found = np.array([self._index.get(bytes(row), -1) for row in packed], dtype=np.int64)
        for k in np.flatnonzero(found < 0):
            found[k] = self._closest(T[k])
        return found

    @property
    def facet_owner(self) -> np.ndarray:
        """The region of every row of the facet arrays."""
        return np.repeat(np.arange(len(self)), np.diff(self.table.facet_ptr))

    def violation(self, t: np.ndarray) -> np.ndarray:
        """Per region, the largest ``G t + g`` over its facets (``t`` coordinates): the signed
        distance by which ``t`` lies outside the region's closed polytope (``-inf`` without facets)."""
        tab = self.table
        viol = np.full(len(self), -np.inf)
        np.maximum.at(viol, self.facet_owner, tab.facet_G @ t + tab.facet_g)
        return viol

    def _closest(self, t: np.ndarray) -> int:
        """The region whose closed polytope holds ``t`` best (least violation), if within tolerance."""
        if len(self) == 0:
            return -1
        viol = self.violation(t)
        best = int(np.argmin(viol))
        tol = _LOCATE_SLACK * self.info.get("min_radius", 2e-9)
        return best if viol[best] <= tol * (1 + np.abs(t).max()) else -1

    # -- completeness ---------------------------------------------------------
    def volumes(self) -> np.ndarray:
        """Exact volume of every region (bounded domains): up to 3-D from its facets in one batch,
        above by qhull's vertices, ``nan`` where qhull fails."""
        tab = self.table
        if self.dim <= _VOLUME_MAX_DIM:
            return volumes_by_facets(tab.facet_G, tab.facet_g, tab.facet_ptr, tab.interior)
        return np.array([volume(tab.facet_G[self.facet_rows(i)], tab.facet_g[self.facet_rows(i)],
                                tab.interior[i]) for i in range(len(self))])

    def neighbours(self, tol=None) -> np.ndarray:
        """The region across each facet: ``-1`` for a domain facet or where none was found.

        A point on the facet (at distance ``margin`` from the region's other
        facets) is pushed a step ``min(margin / 4, min_radius)`` across, less
        than the half-width of any region, and located. Indexed like the
        facet arrays of :attr:`table`.
        """
        min_r = self.info.get("min_radius", 2e-9) if tol is None else tol.min_radius
        tab = self.table
        out = np.full(tab.facet_g.shape[0], -1, dtype=np.int64)
        inner = np.flatnonzero(tab.facet_layer != 0)
        for start in range(0, inner.size, _LOCATE_BATCH):  # in batches: every point is a forward pass
            rows = inner[start:start + _LOCATE_BATCH]
            step = np.minimum(tab.facet_margin[rows] / 4, min_r)
            out[rows] = self._locate_t(tab.facet_point[rows] + step[:, None] * tab.facet_G[rows])
        out[out == self.facet_owner] = -1
        return out

    def certificate(self, tol=None) -> Certificate:
        """Check that the regions cover the domain: every inner facet has a region beyond it
        (:meth:`neighbours`); in dimension <= 3 over a bounded domain the region volumes
        must also add up to the domain's.
        """
        tab = self.table
        inner = tab.facet_layer != 0
        missing = int(np.count_nonzero(self.neighbours(tol)[inner] < 0))
        bounded = bool(self.info.get("bounded", False))
        check_volume = bounded and 1 <= self.dim <= _VOLUME_MAX_DIM and len(self) > 0
        vol_sum = dom_vol = 0.0
        if check_volume:
            vol_sum = float(self.volumes().sum())
            D = self.hull.domain
            scale = np.where(np.linalg.norm(D.P, axis=1) > 0, np.linalg.norm(D.P, axis=1), 1.0)
            dom_vol = volume(D.P / scale[:, None], -D.p / scale, tab.interior[0])
        return Certificate(int(np.count_nonzero(inner)), missing, check_volume, vol_sum, dom_vol)

    # -- files ----------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the catalogue (with its network and domain) to an ``.npz`` file, atomically.

        The file is written under a temporary name in the same directory and
        renamed when complete, so a failure never leaves a partial file.
        """
        atomic_savez(path, self._arrays())

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {f.name: getattr(self.table, f.name) for f in fields(RegionTable)}
        for i, (W, b) in enumerate(self.network.layers):
            arrays[f"net_W{i}"], arrays[f"net_b{i}"] = W, b
        arrays.update(hull_x0=self.hull.x0, hull_B=self.hull.B, domain_P=self.hull.domain.P,
                      domain_p=self.hull.domain.p, format=np.array(FORMAT),
                      fingerprint=np.array(self.network.fingerprint()),
                      info=np.array(json.dumps(_reproducible(self.info), sort_keys=True)))
        return arrays

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Catalogue":
        """Read a catalogue written by :meth:`save`.

        Raises
        ------
        CatalogueFormatError
            If the file is missing, truncated, not a catalogue, or inconsistent.
        """
        path = Path(path)
        return cls._from_arrays(read_npz(path, CatalogueFormatError, "catalogue"), path)

    @classmethod
    def _from_arrays(cls, data: dict[str, np.ndarray], path: Path) -> "Catalogue":
        if str(data.get("format", "")) != FORMAT:
            raise CatalogueFormatError(f"{path}: not a shallowrelu catalogue (format {FORMAT} expected)")
        try:
            n_layers = sum(1 for k in data if k.startswith("net_W"))
            net = ReLUNetwork(tuple((data[f"net_W{i}"], data[f"net_b{i}"]) for i in range(n_layers)),
                              source=str(path))
            table = RegionTable(**{f.name: data[f.name] for f in fields(RegionTable)})
            hull = AffineHull(data["hull_x0"], data["hull_B"], Polytope(data["domain_P"], data["domain_p"]))
            info = json.loads(str(data["info"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise CatalogueFormatError(f"{path}: incomplete catalogue ({exc})") from None
        _check_table(path, table, net, hull)
        if str(data["fingerprint"]) != net.fingerprint():
            raise CatalogueFormatError(f"{path}: network weights do not match the stored fingerprint")
        return cls(net, hull, table, info)

    def summary(self) -> dict:
        """Counts and figures for a report (JSON-ready)."""
        r = self.table.inradius
        nf = np.diff(self.table.facet_ptr)
        out = {"regions": len(self), "inputs": self.network.n_inputs, "dimension": self.dim,
               "neurons": self.network.n_neurons, "hidden": list(self.network.hidden_sizes)}
        out.update({k: self.info[k] for k in ("lps", "seconds", "thin", "exact_decisions", "below_resolution",
                                              "complete", "interrupted") if k in self.info})
        if len(self):
            out.update(facets_mean=float(nf.mean()), facets_max=int(nf.max()),
                       inradius_min=float(r.min()), inradius_median=float(np.median(r)))
        return out


class ChunkLog:
    """Regions streamed to disk subtree by subtree as a run finds them (the ``OUT.part`` file).

    Each finished subtree is appended as one record (a small catalogue with
    ``info["chunk"]``, its index in the run's plan) and forced to disk, so a
    crash, even SIGKILL, loses only the subtrees under way. :meth:`read`
    turns the log back into an interrupted catalogue to resume from.
    """

    def __init__(self, path: str | os.PathLike, keep: bool = False) -> None:
        self.path = Path(path)
        if keep and self.path.exists():
            # Cut a record that a crash left half-written, so appends stay readable.
            _, good = read_records(self.path)
            os.truncate(self.path, good)
        else:
            self.path.write_bytes(b"")

    def append(self, chunk: "Catalogue") -> None:
        """Append one subtree's regions (``chunk.info["chunk"]`` is its index)."""
        append_record(self.path, npz_bytes(chunk._arrays()))

    @staticmethod
    def count(path: str | os.PathLike) -> int:
        """How many finished subtrees the log holds (0 for a missing file or one cut before its first).

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
        return len(read_records(path)[0])

    @staticmethod
    def read(path: str | os.PathLike) -> "Catalogue":
        """The regions logged so far as one interrupted catalogue, subtrees in plan order.

        Raises
        ------
        CatalogueFormatError
            If the file holds no complete record or records of different runs.
        """
        path = Path(path)
        if not path.is_file():
            raise CatalogueFormatError(f"{path}: no such chunk log")
        records, _ = read_records(path)
        if not records:
            raise CatalogueFormatError(f"{path}: no complete chunk in the log")
        chunks = sorted((Catalogue._from_arrays(npz_arrays(r, f"{path} record {k}", CatalogueFormatError,
                                                           "chunk"), path) for k, r in enumerate(records)),
                        key=lambda c: c.info["chunk"])
        first = chunks[0]
        if any(c.network.fingerprint() != first.network.fingerprint() for c in chunks):
            raise CatalogueFormatError(f"{path}: chunks of different networks")
        info = {k: v for k, v in first.info.items() if k not in ("chunk", "counts")}
        info.update(interrupted=True, complete=False, certificate=None,
                    chunks=[[c.info["chunk"], len(c), True, c.info.get("counts", {})] for c in chunks])
        return Catalogue(first.network, first.hull, RegionTable.concat([c.table for c in chunks]), info)


def _reproducible(info: dict) -> dict:
    # Wall-clock time differs between identical runs; the file must not.
    return {k: v for k, v in info.items() if k != "seconds"}


def _check_table(path: Path, t: RegionTable, net: ReLUNetwork, hull: AffineHull) -> None:
    R = t.patterns.shape[0]
    n, m = hull.B.shape[1], net.n_outputs
    F = t.facet_g.shape[0]
    expect = {"patterns": (R, (net.n_neurons + 7) // 8), "A": (R, m, n), "d": (R, m), "facet_ptr": (R + 1,),
              "facet_G": (F, n), "facet_layer": (F,), "facet_index": (F,), "facet_point": (F, n),
              "facet_margin": (F,), "interior": (R, n), "inradius": (R,)}
    for name, shape in expect.items():
        if getattr(t, name).shape != shape:
            raise CatalogueFormatError(f"{path}: array {name} has shape {getattr(t, name).shape}, expected {shape}")
    if hull.B.shape[0] != net.n_inputs or hull.domain.dim != n:
        raise CatalogueFormatError(f"{path}: domain does not match the network's {net.n_inputs} inputs")
    ptr = t.facet_ptr
    if (ptr[0] != 0 or ptr[-1] != F or np.any(np.diff(ptr) < 0)):
        raise CatalogueFormatError(f"{path}: facet_ptr is not a valid index")
