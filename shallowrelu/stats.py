"""Research statistics of a catalogue: counts, volumes, facets, inradii, what each layer did.

Reads a catalogue and writes tables (CSV, or Parquet with pyarrow) and a
text report whose long lists are cut to a line (the JSON and the table
keep them whole); never enumerates or changes a catalogue. The regions are
read a chunk at a time (:meth:`Catalogue.chunks`: one row group of a
Parquet catalogue), keeping a few numbers per region, never every region's
facets and maps at once. Patterns are read bit-packed, as the catalogue
keeps them, and the label of a region from its own affine map: no
``(regions, neurons)`` array and no forward pass over the regions.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .catalogue import Catalogue
from .catalogue.certificate import region_volumes
from .catalogue.table import RegionTable
from .errors import ShallowReLUError
from .io.files import atomic_path
from .polytope.lp import bounding_box

# Exact volumes (:meth:`Catalogue.volumes`: one batch from the facets up to
# 3-D, qhull per region in 4-D) up to this dimension; above it they are
# estimated by sampling, and the result says so.
EXACT_VOLUME_MAX_DIM = 4

# A line of the text report that lists things is cut to about this many characters, saying how many more.
_LINE_CHARS = 120


@dataclass(frozen=True)
class CatalogueStats:
    """Per-region figures and what each layer's split produced.

    Attributes
    ----------
    volumes : ndarray
        Per region; exact or estimated (``volume_exact``); ``nan`` over an
        unbounded domain.
    facets, inradius : ndarray
        Facet count and Chebyshev radius per region.
    regions_per_layer : list of int
        Distinct activation patterns of layers ``1..l``, for each ``l``.
    never_split : list of (layer, index)
        Neurons with the same sign in every region.
    per_label : dict
        For a network of two or more outputs, per label (class name where
        the network has them) the regions whose centre gets it and their
        volume (None where volumes are not known).
    """

    regions: int
    volumes: np.ndarray
    volume_exact: bool
    total_volume: float | None
    facets: np.ndarray
    inradius: np.ndarray
    regions_per_layer: list[int]
    never_split: list[tuple[int, int]]
    samples: int
    per_label: dict[str, dict] | None = None

    def as_dict(self) -> dict:
        """JSON-ready summary with distributions as quantiles."""
        def dist(a):
            """Quantiles and mean of the finite values (None when there are none)."""
            a = a[np.isfinite(a)]
            if a.size == 0:
                return None
            q = np.quantile(a, [0, 0.25, 0.5, 0.75, 1])
            return {"min": q[0], "q1": q[1], "median": q[2], "q3": q[3], "max": q[4], "mean": float(a.mean())}

        return {"regions": self.regions, "total_volume": self.total_volume, "volume_exact": self.volume_exact,
                "volume_samples": self.samples, "volume": dist(self.volumes),
                "facets": dist(self.facets.astype(float)), "inradius": dist(self.inradius),
                "regions_per_layer": self.regions_per_layer,
                "never_split": [f"layer {l} neuron {i}" for l, i in self.never_split],
                "per_label": self.per_label}


def catalogue_stats(cat: Catalogue, samples: int = 200_000, seed: int = 0) -> CatalogueStats:
    """Statistics of a catalogue, read a chunk of regions at a time.

    Parameters
    ----------
    cat : Catalogue
        In memory, or on disk (``.parquet``) and read a row group at a time.
    samples : int
        Uniform samples of the domain's bounding box used to estimate volumes
        above dimension ``EXACT_VOLUME_MAX_DIM``.
    seed : int

    Returns
    -------
    CatalogueStats
    """
    R = len(cat)
    bounded = bool(cat.info.get("bounded", False))
    exact = bounded and R > 0 and cat.dim <= EXACT_VOLUME_MAX_DIM
    classifier = cat.network.n_outputs >= 2
    # per region, chunk by chunk; each list starts with an empty array, so that no chunk at all joins too
    packed = [np.zeros((0, (cat.network.n_neurons + 7) // 8), np.uint8)]
    facets, inradius, volumes, labels = [np.zeros(0, np.int64)], [np.zeros(0)], [np.zeros(0)], [np.zeros(0, np.int64)]
    for t in cat.chunks():
        packed.append(t.patterns)
        facets.append(np.diff(t.facet_ptr))
        inradius.append(t.inradius)
        if exact:
            volumes.append(region_volumes(t, cat.dim))
        if classifier:
            labels.append(_labels(t))
    volume = np.concatenate(volumes) if exact else np.full(R, np.nan)
    used = 0
    if bounded and R and not exact:
        lo, hi = bounding_box(cat.hull.domain)
        T = lo + (hi - lo) * np.random.default_rng(seed).random((samples, cat.dim))
        idx = cat.region_of(cat.hull.to_x(T))
        counts = np.bincount(idx[idx >= 0], minlength=R)
        volume = counts / samples * float(np.prod(hi - lo))
        used = samples
    total = float(volume.sum()) if bounded and R else None
    per_label = _per_label(cat, np.concatenate(labels), volume, total is not None) if classifier and R else None
    patterns = np.concatenate(packed)
    ids = cat.network.neuron_ids()
    return CatalogueStats(regions=R, volumes=volume, volume_exact=exact, total_volume=total,
                          facets=np.concatenate(facets), inradius=np.concatenate(inradius),
                          regions_per_layer=_distinct_prefixes(patterns, cat.network.hidden_sizes),
                          never_split=[ids[k] for k in np.flatnonzero(_constant_bits(patterns, len(ids)))],
                          samples=used, per_label=per_label)


def _distinct_prefixes(packed: np.ndarray, widths: tuple[int, ...]) -> list[int]:
    """For each layer ``l``, the distinct patterns of layers ``1..l`` among the bit-packed rows ``packed``."""
    counts, start = [], 0
    for width in widths:
        start += width
        full, rest = divmod(start, 8)
        prefix = packed[:, :full + (rest > 0)].copy()
        if rest:  # the first bits of the last byte (packbits puts the first bit highest)
            prefix[:, full] &= (0xFF << (8 - rest)) & 0xFF
        counts.append(len(np.unique(prefix.view(f"V{prefix.shape[1]}"))))
    return counts


def _constant_bits(packed: np.ndarray, n: int) -> np.ndarray:
    """Which of the ``n`` pattern bits has the same value in every bit-packed row (none when there are no rows)."""
    if len(packed) == 0:
        return np.zeros(n, dtype=bool)
    always = np.unpackbits(np.bitwise_and.reduce(packed, axis=0), count=n).astype(bool)
    ever = np.unpackbits(np.bitwise_or.reduce(packed, axis=0), count=n).astype(bool)
    return always | ~ever


def _labels(t: RegionTable) -> np.ndarray:
    """The label (argmax output) of each region of ``t`` at its centre: its own affine map there, which is
    what the network computes at that point."""
    return np.argmax(np.einsum("rmn,rn->rm", t.A, t.interior) + t.d, axis=1)


def _per_label(cat: Catalogue, label: np.ndarray, volumes: np.ndarray, known: bool) -> dict[str, dict]:
    """Regions and volume per label (class name where the network has them), from each region's ``label``."""
    net = cat.network
    regions = np.bincount(label, minlength=net.n_outputs)
    volume = np.bincount(label, weights=volumes, minlength=net.n_outputs)
    names = list(net.labels) if net.labels is not None else [str(j) for j in range(net.n_outputs)]
    out: dict[str, dict] = {}
    for j, name in enumerate(names):  # a class name given to two outputs counts both
        entry = out.setdefault(name, {"regions": 0, "volume": 0.0 if known else None})
        entry["regions"] += int(regions[j])
        if known:
            entry["volume"] += float(volume[j])
    return out


def report_lines(name: str, cat: Catalogue, st: CatalogueStats, output: str | None = None) -> list[str]:
    """The statistics as a text report, every line short: long lists are cut, and say where they are whole.

    Parameters
    ----------
    name : str
        What to call the catalogue (its file name).
    cat : Catalogue
    st : CatalogueStats
        Its statistics.
    output : str, optional
        The table written, if any (named on the last line).

    Returns
    -------
    list of str
    """
    d = st.as_dict()
    how = "exact" if st.volume_exact else (f"estimated from {st.samples} samples" if st.samples else "unbounded")
    lines = [f"{name}: {st.regions} regions over a {cat.dim}-D domain",
             f"total volume: {d['total_volume']} ({how})"]
    for key in ("volume", "facets", "inradius"):
        if d[key]:
            q = d[key]
            lines.append(f"{key} per region: min {q['min']:.4g}, median {q['median']:.4g}, mean {q['mean']:.4g}, "
                         f"max {q['max']:.4g}")
    lines.append(_listing("distinct patterns after each layer: ", [str(v) for v in st.regions_per_layer]))
    if not st.never_split:
        lines.append("neurons never split: none")
    else:
        widths = cat.network.hidden_sizes
        lines.append(f"neurons never split: {len(st.never_split)} of {sum(widths)} (all of them: --json, "
                     "key never_split)")
        by_layer: dict[int, list[str]] = {}
        for layer, index in st.never_split:
            by_layer.setdefault(layer, []).append(str(index))
        lines += [_listing(f"  layer {layer}: {len(idx)} of {widths[layer - 1]}: ", idx)
                  for layer, idx in by_layer.items()]
    if st.per_label:
        lines.append(_listing("regions per label (at their centres): ", [
            f"{k} {v['regions']}" + (f" (volume {v['volume']:.4g})" if v["volume"] is not None else "")
            for k, v in st.per_label.items()]))
    if output:
        lines.append(f"wrote {output}")
    return lines


def _listing(head: str, items: list[str]) -> str:
    """``head`` and ``items`` joined by commas, cut to about ``_LINE_CHARS`` characters with how many more
    there are (at least one item is shown)."""
    shown, size = [], len(head)
    for item in items:
        if shown and size + len(item) > _LINE_CHARS:
            return head + ", ".join(shown) + f", ... ({len(items) - len(shown)} more)"
        shown.append(item)
        size += len(item) + 2
    return head + ", ".join(shown)


def _columns(cat: Catalogue) -> list[str]:
    """The columns of :func:`region_rows`, in order."""
    return ["region", "pattern", "volume", "inradius", "facets"] + [f"x{i + 1}" for i in range(cat.network.n_inputs)]


def region_rows(cat: Catalogue, st: CatalogueStats) -> Iterator[dict[str, list]]:
    """One row per region, a chunk of regions at a time: region, pattern (bit string), volume, inradius,
    facets and the interior point's input coordinates ``x1, x2, ...``.

    Parameters
    ----------
    cat : Catalogue
    st : CatalogueStats
        Its statistics (volumes, inradii, facet counts, in catalogue order).

    Yields
    ------
    dict of str to list
        Per column, the values of the chunk's regions.
    """
    N, start = cat.network.n_neurons, 0
    for t in cat.chunks():
        stop = start + len(t)
        interior = cat.hull.to_x(t.interior)
        bits = np.unpackbits(t.patterns, axis=1, count=N) + ord("0")   # (R, N) ASCII digits, one byte each
        cols: dict[str, list] = {
            "region": list(range(start, stop)),
            "pattern": [row.tobytes().decode("ascii") for row in bits],
            "volume": st.volumes[start:stop].tolist(), "inradius": st.inradius[start:stop].tolist(),
            "facets": st.facets[start:stop].tolist()}
        for i in range(interior.shape[1]):
            cols[f"x{i + 1}"] = interior[:, i].tolist()
        yield cols
        start = stop


def write_table(path: str | os.PathLike, cat: Catalogue, st: CatalogueStats) -> None:
    """Write :func:`region_rows` as ``.csv`` or ``.parquet`` (needs ``pip install shallowrelu[parquet]``),
    a chunk of regions at a time, under a temporary name renamed when complete."""
    path = Path(path)
    if path.suffix not in (".csv", ".parquet"):
        raise ShallowReLUError(f"{path}: table must end in .csv or .parquet")
    names = _columns(cat)
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            with open(tmp, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(names)
                for cols in region_rows(cat, st):
                    w.writerows(zip(*cols.values()))
        else:
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise ShallowReLUError("writing .parquet needs pyarrow: pip install 'shallowrelu[parquet]'") from None
            kinds = {"region": pa.int64(), "pattern": pa.string(), "facets": pa.int64()}
            schema = pa.schema([(name, kinds.get(name, pa.float64())) for name in names])
            with pq.ParquetWriter(tmp, schema) as writer:
                for cols in region_rows(cat, st):
                    writer.write_table(pa.table(cols, schema=schema))
