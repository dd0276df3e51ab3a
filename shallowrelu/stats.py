"""Research statistics of a catalogue: counts, volumes, facets, inradii, what each layer did.

Reads a catalogue and writes tables (CSV, or Parquet with pyarrow); never
enumerates or changes a catalogue.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .catalogue import Catalogue
from .errors import ShallowReLUError
from .io.files import atomic_path
from .polytope.lp import bounding_box

# Exact volumes (:meth:`Catalogue.volumes`: one batch from the facets up to
# 3-D, qhull per region in 4-D) up to this dimension; above it they are
# estimated by sampling, and the result says so.
EXACT_VOLUME_MAX_DIM = 4


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
    """Statistics of a catalogue.

    Parameters
    ----------
    cat : Catalogue
    samples : int
        Uniform samples of the domain's bounding box used to estimate volumes
        above dimension ``EXACT_VOLUME_MAX_DIM``.
    seed : int

    Returns
    -------
    CatalogueStats
    """
    t = cat.table
    R = len(cat)
    bounded = bool(cat.info.get("bounded", False))
    volumes = np.full(R, np.nan)
    exact = False
    total = None
    used = 0
    if bounded and R:
        if cat.dim <= EXACT_VOLUME_MAX_DIM:
            volumes = cat.volumes()
            exact = True
        else:
            lo, hi = bounding_box(cat.hull.domain)
            T = lo + (hi - lo) * np.random.default_rng(seed).random((samples, cat.dim))
            idx = cat.region_of(cat.hull.to_x(T))
            counts = np.bincount(idx[idx >= 0], minlength=R)
            volumes = counts / samples * float(np.prod(hi - lo))
            used = samples
        total = float(volumes.sum())
    patterns = cat.patterns()
    per_layer, start = [], 0
    for width in cat.network.hidden_sizes:
        start += width
        per_layer.append(int(np.unique(np.packbits(patterns[:, :start], axis=1), axis=0).shape[0]) if R else 0)
    constant = patterns.all(axis=0) | ~patterns.any(axis=0) if R else np.zeros(0, dtype=bool)
    ids = cat.network.neuron_ids()
    return CatalogueStats(regions=R, volumes=volumes, volume_exact=exact, total_volume=total,
                          facets=np.diff(t.facet_ptr), inradius=t.inradius.copy(), regions_per_layer=per_layer,
                          never_split=[ids[k] for k in np.flatnonzero(constant)], samples=used,
                          per_label=_per_label(cat, volumes, total is not None))


def _per_label(cat: Catalogue, volumes: np.ndarray, known: bool) -> dict[str, dict] | None:
    """Regions and volume per label of the network's output at each region's centre (classifiers only)."""
    net = cat.network
    if net.n_outputs < 2 or len(cat) == 0:
        return None
    labels = net.labels_of(net(cat.hull.to_x(cat.table.interior)))
    names = list(net.labels) if net.labels is not None else [str(j) for j in range(net.n_outputs)]
    return {name: {"regions": sum(1 for v in labels if v == name),
                   "volume": float(sum(vol for v, vol in zip(labels, volumes) if v == name)) if known else None}
            for name in names}


def region_rows(cat: Catalogue, st: CatalogueStats) -> dict[str, list]:
    """One row per region: pattern (bit string), volume, inradius, facets, interior point."""
    interior = cat.hull.to_x(cat.table.interior) if len(cat) else np.zeros((0, cat.network.n_inputs))
    cols: dict[str, list] = {
        "region": list(range(len(cat))),
        "pattern": ["".join("1" if b else "0" for b in p) for p in cat.patterns()],
        "volume": st.volumes.tolist(), "inradius": st.inradius.tolist(), "facets": st.facets.tolist()}
    for i in range(interior.shape[1]):
        cols[f"x{i + 1}"] = interior[:, i].tolist()
    return cols


def write_table(path: str | os.PathLike, cat: Catalogue, st: CatalogueStats) -> None:
    """Write :func:`region_rows` as ``.csv`` or ``.parquet`` (needs ``pip install shallowrelu[parquet]``),
    under a temporary name renamed when complete."""
    path = Path(path)
    cols = region_rows(cat, st)
    if path.suffix not in (".csv", ".parquet"):
        raise ShallowReLUError(f"{path}: table must end in .csv or .parquet")
    if path.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ShallowReLUError("writing .parquet needs pyarrow: pip install 'shallowrelu[parquet]'") from None
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            with open(tmp, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(list(cols))
                w.writerows(zip(*cols.values()))
        else:
            pq.write_table(pa.table(cols), tmp)
