"""Counterexamples found fast: random points, a gradient attack, then a walk over regions.

Owns the search for an input in a disjunct's box whose outputs meet its
constraints ``C y <= e``. The violation ``v(x) = max_i (C y(x) - e)_i`` is
piecewise linear; its gradient at a point is one row of ``C A`` for the
point's region, found by one backward pass through the relu masks. Many
starts descend at once (projected sign-gradient steps, shrinking). From the
best point the region walk minimises ``v`` exactly on the point's region by
one LP; an optimum on a facet steps across to the neighbouring region and
repeats. Whatever is found is confirmed by the forward pass
(:func:`.result.meets`) before it counts; nothing here can say ``unsat``.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import SolverError
from ..limits import check_time
from ..network import ReLUNetwork
from ..polytope.lp import solve_lp
from .result import meets
from .vnnlib import Term
from ..tolerances import VERTEX_TOL, WALK_PROGRESS, WALK_STEP


def violation(net: ReLUNetwork, term: Term, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``v(x)`` at the rows of ``X`` and its gradient there (the gradient of the largest row)."""
    H, factors = X, []
    for l, (W, b) in enumerate(net.layers[:-1]):
        Z = H @ W.T + b
        k = net.kinks_of(l)
        if k is None:
            factors.append(Z > 0)
            H = np.maximum(Z, 0.0)
        else:  # each unit outputs f * z on the point's region
            factors.append(k.factors(k.bits(Z)))
            H = Z * factors[-1]
    W, b = net.layers[-1]
    V = (H @ W.T + b) @ term.C.T - term.e
    worst = V.argmax(axis=1)
    g = term.C[worst] @ W
    for (W, _), f in zip(net.layers[-2::-1], factors[::-1]):
        g = (g * f) @ W
    return V.max(axis=1), g


def attack(net: ReLUNetwork, term: Term, rng: np.random.Generator, starts: int = 2048,
           steps: int = 15) -> tuple[np.ndarray | None, np.ndarray]:
    """Projected sign-gradient descent on ``v`` from ``starts`` points at once.

    Half the starts are uniform in the box, half have each coordinate put
    on a face of the box with probability 1/2: counterexamples of properties
    like ACAS Xu's sit at the box's boundary, where the projected descent
    of a uniform start rarely arrives.

    Returns ``(x, best)``: a confirmed counterexample or None, and the
    points of least violation met from each start, the least first (the
    region walk starts there).
    """
    lo, hi = term.lo, term.hi
    X = lo + (hi - lo) * rng.random((starts, lo.size))
    face = rng.random(X.shape) < 0.5
    X[starts // 2:] = np.where(face, np.where(rng.random(X.shape) < 0.5, lo, hi), X)[starts // 2:]
    x, best, least = descend(net, term, np.vstack([(lo + hi) / 2, X]), lo, hi, steps)
    return x, best[np.argsort(least, kind="stable")]


def descend(net: ReLUNetwork, term: Term, X: np.ndarray, lo: np.ndarray, hi: np.ndarray,
            steps: int) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """:func:`attack` from the given starts ``X``, each kept in its own box ``[lo, hi]`` (rows or one box).

    Returns ``(x, best, least)``: a confirmed counterexample or None, the
    point of least violation met from each start (rows), and that violation.
    """
    width = hi - lo
    least = np.full(len(X), np.inf)
    best = X.copy()
    for step in range(steps + 1):
        check_time()  # a step over thousands of starts in 784 dimensions takes a tenth of a second
        v, g = violation(net, term, X)
        better = v < least
        best[better], least[better] = X[better], v[better]
        hit = np.flatnonzero(v <= 0)
        if hit.size:
            found = X[hit][meets(net, term, X[hit])]
            if len(found):
                return found[0], best, least
        if step < steps:
            rate = 0.1 * (0.02 / 0.1) ** (step / max(steps - 1, 1))  # from a tenth of the box to a fiftieth
            X = np.clip(X - rate * width * np.sign(g), lo, hi)
    return None, best, least


def _region_rows(net: ReLUNetwork, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The region of ``x`` as ``G t + g <= 0`` (one row per hidden neuron) and its output map ``(A, d)``."""
    pattern = net.patterns(x[None])[0]
    G, g = net.region_rows(pattern)
    return G, g, *net.affine_map(pattern)


def region_walk(net: ReLUNetwork, term: Term, x: np.ndarray, deadline: float,
                max_regions: int = 200) -> np.ndarray | None:
    """From ``x``, minimise ``v`` exactly region by region; a confirmed counterexample or None.

    On the region of the current point one LP (variables ``x`` and ``s``)
    minimises ``s`` subject to ``C (A x + d) - e <= s``, the region's rows
    and the box. ``s <= 0`` at the optimum is a counterexample. Otherwise the
    walk steps a hair across the region's facets tight at the optimum into
    the neighbour (the piecewise-linear simplex method) while ``s`` falls.
    """
    n = x.size
    lo, hi = term.lo, term.hi
    scale = WALK_STEP * (1.0 + float(np.abs(hi - lo).max()))
    best = np.inf
    for _ in range(max_regions):
        if time.time() > deadline:
            return None
        G, g, A, d = _region_rows(net, x)
        k = term.C.shape[0]
        A_ub = np.vstack([np.hstack([term.C @ A, -np.ones((k, 1))]), np.hstack([G, np.zeros((len(g), 1))]),
                          np.hstack([np.eye(n), np.zeros((n, 1))]), np.hstack([-np.eye(n), np.zeros((n, 1))])])
        b_ub = np.concatenate([term.e - term.C @ d, -g, hi, -lo])
        try:
            res = solve_lp(np.append(np.zeros(n), 1.0), A_ub, b_ub)
        except SolverError:
            return None
        if not res.feasible or not np.isfinite(res.value):
            return None
        y = np.clip(res.x[:n], lo, hi)
        if meets(net, term, y[None])[0]:
            return y
        if res.value >= best - WALK_PROGRESS:
            return None
        best = res.value
        tight = np.flatnonzero(np.abs(G @ y + g) <= VERTEX_TOL * (1.0 + np.abs(g)))
        if tight.size == 0:
            return None  # the optimum is inside the region: no neighbour does better from here
        step = G[tight].sum(axis=0)
        norm = np.linalg.norm(step)
        if norm == 0:
            return None
        x = np.clip(y + scale * step / norm, lo, hi)
    return None
