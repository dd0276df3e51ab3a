"""Which gates of a shallow network can be open at a point, found without visiting the others.

Owns the grid over the cell gates' boxes, the guard tests (the same
comparisons the full layer-by-layer pass makes), the chunks of points cut to
a memory budget, and :func:`ragged`, the gather every step here is made of.
Knows the network only through its arrays.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from ..tolerances import INDEX_CLIP, SPAN_ACTIVE, TINY

# Scratch memory one chunk of points may take in an evaluation; chunks are
# cut to fit it, so evaluating a huge network needs little more than the network.
CHUNK_BYTES = 1 << 28


def ragged(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``concatenate([arange(s, s + c) ...])`` over ``zip(starts, counts)``, and the list each entry is from."""
    owner = np.repeat(np.arange(counts.size), counts)
    return np.repeat(starts, counts) + np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts), owner


@dataclass(frozen=True)
class Guards:
    """What the index reads of a shallow network: layer 1, each gate's guard neurons (ragged),
    its parent cell gate, and the cell gates' boxes."""

    W1: np.ndarray
    b1: np.ndarray
    guard_ptr: np.ndarray
    guard: np.ndarray
    parent: np.ndarray
    box: np.ndarray


class GateIndex:
    """Which gates can be open at a point, without visiting the others.

    A uniform grid over the bounded boxes of the cell gates lists in each
    bin the cells whose box meets it (points outside the grid go to its
    nearest bin, which no bounded box outside the grid can hold); cells
    with an unbounded box are tried at every point. A point tests the
    guards of those cells, then of the gates inside the open cells: a
    gate whose parent cell is closed is closed, as its guard holds the
    parent's. Every test and every value is the one the full pass computes.
    """

    def __init__(self, net: Guards) -> None:
        self.guards = net
        G = net.parent.size
        cells = np.flatnonzero(net.parent == np.arange(G))
        bounded = np.all(np.isfinite(net.box), axis=(1, 2))
        self.far = cells[~bounded]
        cells = cells[bounded]
        lo, hi = net.box[bounded, 0], net.box[bounded, 1]
        ends = np.concatenate([lo, hi])
        ends = np.where(np.isfinite(ends), ends, np.nan)
        with np.errstate(invalid="ignore"):
            self.origin = np.nan_to_num(np.nanmin(ends, axis=0, initial=np.inf), posinf=0.0)
            span = np.nan_to_num(np.nanmax(ends, axis=0, initial=-np.inf), neginf=0.0) - self.origin
        extent = np.where(np.isfinite(hi - lo), hi - lo, np.nan)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # all-infinite boxes: no typical extent
            typical = np.nan_to_num(np.nanmedian(extent, axis=0), nan=0.0)
        active = span > SPAN_ACTIVE * span.max(initial=0.0)
        # bins about a typical cell wide, coarsened until the grid and the cells' coverage stay linear in C
        scale = 1.0
        while True:
            per_axis = np.ceil(span / np.maximum(scale * typical, span / max(len(cells), 1) + TINY))
            self.bins = np.where(active, np.maximum(per_axis, 1), 1).astype(np.int64)
            self.width = np.where(active, span / self.bins, 1.0)
            first, last = self._bin_range(lo), self._bin_range(hi)
            covered = np.prod(last - first + 1, axis=1)
            if (covered.sum() <= 32 * len(cells) + 4096 and np.prod(self.bins.astype(float)) <= 8 * len(cells) + 64) \
                    or np.all(self.bins == 1):
                break
            scale *= 1.5
        bins = self.bins
        # the (bin, cell) pairs, bins in mixed radix
        idx, owner = ragged(np.zeros(len(cells), dtype=np.int64), covered)
        flat = np.zeros(idx.size, dtype=np.int64)
        rest, stride = idx, 1
        for a in range(lo.shape[1]):
            count = (last - first + 1)[owner, a]
            flat += (first[owner, a] + rest % count) * stride
            rest //= count
            stride *= int(bins[a])
        order = np.argsort(flat, kind="stable")
        self.bin_ptr = np.searchsorted(flat[order], np.arange(stride + 1))
        self.bin_cells = cells[owner[order]]
        self.strides = np.cumprod(np.concatenate([[1], bins[:-1]]))
        self._bins_seen: dict[int, tuple] = {}
        kids = np.argsort(net.parent, kind="stable")
        self.kid_ptr = np.searchsorted(net.parent[kids], np.arange(G + 1))
        self.kids = kids
        # per bin, the guard entries a point in it gathers: every cell's guard, and about one cell's family
        glen = np.diff(net.guard_ptr).astype(np.float64)
        family = np.bincount(net.parent, weights=glen, minlength=G)
        sums = np.concatenate([[0.0], np.cumsum(glen[self.bin_cells] + 1.0)])[self.bin_ptr]
        widest = np.zeros(stride)
        np.maximum.at(widest, np.repeat(np.arange(stride), np.diff(self.bin_ptr)), family[self.bin_cells])
        far = glen[self.far] + 1.0
        self.bin_cost = np.diff(sums) + np.maximum(widest, family[self.far].max(initial=0.0)) + far.sum() + 1.0

    def _bin_range(self, v: np.ndarray) -> np.ndarray:
        """The bin of each coordinate value, infinite ones clipped to the grid's ends."""
        with np.errstate(invalid="ignore"):
            k = np.floor((v - self.origin) / self.width)
        k = np.nan_to_num(k, nan=0.0, posinf=INDEX_CLIP, neginf=-INDEX_CLIP)
        return np.clip(k, 0, self.bins - 1).astype(np.int64)

    def chunks(self, X: np.ndarray) -> list[slice]:
        """Consecutive slices of the rows of ``X`` whose gathers fit ``CHUNK_BYTES``."""
        per_entry = 16.0 * (X.shape[1] + 4)
        cost = np.cumsum(self.bin_cost[self._bin_range(X) @ self.strides]) * per_entry
        cuts = np.searchsorted(cost, np.arange(1, int(cost[-1] // CHUNK_BYTES) + 1) * CHUNK_BYTES) if len(X) else []
        edges = np.unique(np.concatenate([[0], np.asarray(cuts, dtype=np.int64) + 1, [len(X)]]).clip(0, len(X)))
        return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]

    def open_pairs(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The pairs (row of ``X``, gate) where the gate is open, ordered by row then gate."""
        b = self._bin_range(X) @ self.strides
        order = np.argsort(b, kind="stable")
        edges = np.flatnonzero(np.diff(b[order])) + 1
        found_p, found_c = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for rows in np.split(order, edges) if len(X) else []:
            cells, neurons, incidence = self._bin_guards(int(b[rows[0]]))
            if cells.size == 0:
                continue
            # one product for the bin's points and the guard neurons of its cells
            positive = (X[rows] @ self.guards.W1[neurons].T + self.guards.b1[neurons] > 0).astype(np.float64)
            cell, row = np.nonzero(incidence @ positive.T == 0)
            found_p.append(rows[row])
            found_c.append(cells[cell])
        p, c = np.concatenate(found_p), np.concatenate(found_c)
        idx, owner = ragged(self.kid_ptr[c], self.kid_ptr[c + 1] - self.kid_ptr[c])
        g, p, c = self.kids[idx], p[owner], c[owner]
        ok = np.ones(g.size, dtype=bool)
        other = g != c
        ok[other] = self._passes(X, p[other], g[other])
        order = np.lexsort((g[ok], p[ok]))
        return p[ok][order], g[ok][order]

    def _bin_guards(self, b: int) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
        """A bin's cells, their guard neurons, and which cell each neuron guards (cells x neurons)."""
        if b not in self._bins_seen:
            net = self.guards
            cells = np.concatenate([self.bin_cells[self.bin_ptr[b]:self.bin_ptr[b + 1]], self.far])
            idx, owner = ragged(net.guard_ptr[cells], net.guard_ptr[cells + 1] - net.guard_ptr[cells])
            neurons, local = np.unique(net.guard[idx], return_inverse=True)
            incidence = sp.csr_matrix((np.ones(idx.size), (owner, local)), shape=(cells.size, neurons.size))
            self._bins_seen[b] = (cells, neurons, incidence)
        return self._bins_seen[b]

    def _passes(self, X: np.ndarray, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Whether gate ``g`` is open at row ``p``: none of its guard neurons is positive."""
        net = self.guards
        idx, owner = ragged(net.guard_ptr[g], net.guard_ptr[g + 1] - net.guard_ptr[g])
        neuron = net.guard[idx]
        value = np.einsum("kn,kn->k", X[p[owner]], net.W1[neuron]) + net.b1[neuron]
        closed = np.zeros(g.size, dtype=bool)
        closed[owner[value > 0]] = True
        return ~closed
