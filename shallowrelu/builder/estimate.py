"""Estimate before building: what a catalogue's face lattice would take, and the construction it decides.

Owns the estimate of the face lattice (:func:`estimate_faces`, from a few
regions' faces counted exactly) and the choice between the ``faces`` and
``cells`` constructions by that estimate against the time and memory budget
(:func:`choose_mode`). The counting itself is :mod:`.faces`'s.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..catalogue import Catalogue
from ..choices import SHALLOW_MODES
from ..limits import MemoryBudgetError, check_memory, gib, memory_budget
from ..polytope.vertices import vertex_bound, vertices_or_empty
from . import faces

# Regions whose faces are counted exactly to estimate the face lattice of a catalogue.
_ESTIMATE_SAMPLE = 24
# Faces of one region beyond which counting stops: the lattice is then far over any budget.
_REGION_FACES_CAP = 200_000
# The faces build's time is a part per region (its vertices, pieces and boxes) and a part per face
# enumerated (a face shared by k regions counted k times), fitted on ACAS Xu 1_1 on this project's
# 2-core machine: over prop 3's box (5-D, 71,930 regions, 1.8e7 faces estimated) it takes 205 s, over
# prop 4's (a 4-D slice, 19,143 regions, 1.55e6 faces) 34 s. One rate per face alone (30,000 a second,
# from prop 4) made prop 3 725 s, and auto chose cells where faces fits.
_SECONDS_PER_REGION = 1.26e-3
_SECONDS_PER_FACE = 6.3e-6
# Memory of the build per face enumerated, at its peak: prop 3 peaked at 1.4 GB.
_BYTES_PER_FACE = 80
# ``auto`` builds faces only when the estimate says the lattice takes at most this long (seconds on the
# reference machine) and half the memory budget; ACAS Xu prop 4, the largest lattice we build, takes 46 s.
AUTO_FACES_SECONDS = 300


@dataclass(frozen=True)
class FaceEstimate:
    """What building a catalogue's face lattice would take, estimated before building it.

    Attributes
    ----------
    faces : float
        Faces enumerated over all regions (a face shared by ``k`` regions
        counted ``k`` times); ``inf`` when a sampled region alone was too large
        to count (:data:`_REGION_FACES_CAP` faces, or too many vertices for qhull).
    bytes : float
        Memory at the build's peak.
    seconds : float
        Time of the build on this project's reference machine.
    sampled : int
        Regions whose faces were counted (all of them when the catalogue is small).
    """

    faces: float
    bytes: float
    seconds: float
    sampled: int

    def words(self) -> str:
        """The estimate in a phrase: ``"about 1.2e+06 faces, 0.4 GiB, 40 s"``."""
        if not np.isfinite(self.faces):
            return (f"too many faces to count (a region with over {faces.QHULL_VERTICES:,} vertices or "
                    f"{_REGION_FACES_CAP:,} faces)")
        return f"about {self.faces:.2g} faces, {gib(self.bytes)}, {self.seconds:.0f} s"


def estimate_faces(cat: Catalogue, sample: int = _ESTIMATE_SAMPLE) -> FaceEstimate:
    """What :func:`face_lattice` would take on ``cat``, from the faces of a few regions counted exactly.

    The regions counted are ``sample`` evenly spaced ones (every region
    when there are fewer), each cut by the cutting box over an unbounded
    domain as the build does, and the one with the most facets, which
    only checks that the lattice can be counted; the estimate scales the
    evenly spaced ones' mean to all regions. Counting stops at the first region
    that may have more vertices than qhull should be given or has more than
    :data:`_REGION_FACES_CAP` faces: then the estimate is infinite. Costs a
    fraction of a second up to 5-D and at most a few seconds in 13-D, once
    per catalogue (the default ``sample`` is remembered while the catalogue
    lives).

    Parameters
    ----------
    cat : Catalogue
    sample : int
        Regions counted besides the one with the most facets.

    Returns
    -------
    FaceEstimate
    """
    if sample == _ESTIMATE_SAMPLE and cat in _ESTIMATES:
        return _ESTIMATES[cat]
    est = _estimate(cat, sample)
    if sample == _ESTIMATE_SAMPLE:
        _ESTIMATES[cat] = est
    return est


# The estimate of each catalogue still in use: a command asks once to choose the mode and again to build.
_ESTIMATES: "weakref.WeakKeyDictionary[Catalogue, FaceEstimate]" = weakref.WeakKeyDictionary()


def _estimate(cat: Catalogue, sample: int) -> FaceEstimate:
    """:func:`estimate_faces`, counted now."""
    R, n = len(cat), cat.dim
    if R == 0:
        return FaceEstimate(0.0, 0.0, 0.0, 0)
    facets = np.diff(cat.table.facet_ptr)
    pick = np.linspace(0, R - 1, min(R, sample)).round().astype(int).tolist()
    widest = int(facets.argmax())
    counts = []
    # the region with the most facets is counted first, to find a lattice too large to count, but it is
    # no typical region: the mean is over the evenly spaced ones
    for i, _, G, g in faces.region_rows(cat, [widest] + sorted(set(pick))):
        if G.shape[0] == 0:
            counts.append(1)
            continue
        if vertex_bound(G.shape[0], n) > faces.QHULL_VERTICES:
            return FaceEstimate(np.inf, np.inf, np.inf, len(counts))
        V = vertices_or_empty(G, g, cat.table.interior[i])
        try:
            counts.append(len(faces.region_faces(V, G, g, cap=_REGION_FACES_CAP)[0]) if V.shape[0] else 1)
        except faces.TooManyFaces:
            return FaceEstimate(np.inf, np.inf, np.inf, len(counts))
    total = float(np.mean(counts[1:])) * R
    return FaceEstimate(total, total * _BYTES_PER_FACE, R * _SECONDS_PER_REGION + total * _SECONDS_PER_FACE,
                        len(counts))


def choose_mode(cat: Catalogue, mode: str = "auto") -> tuple[str, str]:
    """The construction to build, and why in one line, from the face lattice's estimate.

    ``auto`` is ``faces`` where its estimate (:func:`estimate_faces`) fits
    :data:`AUTO_FACES_SECONDS` and half the memory budget, else ``cells``;
    an explicit ``faces`` is refused when its estimate exceeds the budget.
    ``cells`` is always built.

    Parameters
    ----------
    cat : Catalogue
    mode : {"auto", "faces", "cells"}

    Returns
    -------
    (mode, reason) : (str, str)
        ``mode`` is ``faces`` or ``cells``.

    Raises
    ------
    MemoryBudgetError
        For ``faces`` whose estimate exceeds the memory budget.
    """
    if mode not in SHALLOW_MODES:
        raise ValueError(f"mode must be one of {SHALLOW_MODES}, got {mode!r}")
    if mode == "cells":
        return "cells", "cells mode, as asked"
    est = estimate_faces(cat)
    if mode == "faces":
        if not np.isfinite(est.faces):
            raise MemoryBudgetError(f"faces mode: {est.words()}; cells mode builds one gate per region")
        check_memory(est.bytes, f"faces mode ({est.words()}; cells mode builds one gate per region)")
        return "faces", f"faces mode, as asked ({est.words()})"
    if est.seconds <= AUTO_FACES_SECONDS and est.bytes <= memory_budget() / 2:
        return "faces", f"faces mode chosen ({est.words()})"
    return "cells", (f"cells mode chosen: faces mode would take {est.words()} (over {AUTO_FACES_SECONDS} s or half "
                     "the memory budget); cells are exact inside regions, sums on shared boundaries")
