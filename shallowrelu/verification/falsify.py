"""Counterexamples found fast: a gradient attack (PGD with restarts), then a walk over regions.

Owns the search for an input in a disjunct's box whose outputs meet its
constraints ``C y <= e``. The violation of one disjunct, ``v(x) = max_i
(C y(x) - e)_i``, is piecewise linear; of several disjuncts on one box,
the least of theirs. Its gradient at a point is one row of ``C A`` for the
point's region, found by one backward pass through the kinks.

The attack descends ``v`` from many starts at once by projected
sign-gradient steps whose size decays, in rounds (restarts) until its time
runs out: uniform starts, starts on the box's faces (the counterexamples
of ACAS Xu sit there, where uniform samples never land), and, in later
rounds, output-diversified starts (the first steps push the outputs along
a random direction, then the descent takes over). From the best points the
region walk minimises ``v`` exactly on the point's region by one LP; an
optimum on a facet steps across to the neighbouring region and repeats.
Whatever is found is confirmed by the forward pass (:func:`.result.meets`)
before it counts; nothing here can say ``unsat``.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ..errors import SolverError
from ..limits import check_time
from ..network import ReLUNetwork
from ..polytope.lp import solve_lp
from ..tolerances import VERTEX_TOL, WALK_PROGRESS, WALK_STEP
from .result import Work, meets
from .vnnlib import Disjunct

# Starts descending together in one round: in few dimensions many (cheap), in many fewer but longer.
_STARTS_FEW, _STARTS_MANY = 2048, 256
# Steps of the first round, and of every later round, in many dimensions (in few, every round is short).
_STEPS_FEW, _STEPS_FIRST, _STEPS_LATER = 15, 30, 100
# Inputs from which a network counts as having many: fewer, longer attack rounds, and (in verify) the
# neuron split rather than the input split.
MANY_INPUTS = 32
# Output-diversified steps at the start of a later round.
_ODS_STEPS = 2
# The step decays from this share of the box's width to the next over a round.
_RATE_FIRST, _RATE_LAST = 0.1, 0.02


def violation(net: ReLUNetwork, terms: Sequence[Disjunct], X: np.ndarray,
              direction: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``v(x)`` of the disjuncts at the rows of ``X`` and its gradient there (of the row that attains it).

    With ``direction`` (one output direction per row of ``X``) the value is
    ``-direction . y`` instead: its descent pushes the outputs along it.
    """
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
    Y = H @ W.T + b
    if direction is not None:
        v, g = -(Y * direction).sum(axis=1), -direction @ W
    else:
        C = np.vstack([t.C for t in terms])
        V = Y @ C.T - np.concatenate([t.e for t in terms])
        # per disjunct the largest row, then the least disjunct
        sizes = np.cumsum([0] + [len(t.e) for t in terms])
        worst = np.stack([V[:, a:z].argmax(axis=1) + a for a, z in zip(sizes[:-1], sizes[1:])], axis=1)
        per = np.take_along_axis(V, worst, axis=1)
        which = np.take_along_axis(worst, per.argmin(axis=1)[:, None], axis=1)[:, 0]
        v, g = per.min(axis=1), C[which] @ W
    for (W, _), f in zip(net.layers[-2::-1], factors[::-1]):
        g = (g * f) @ W
    return v, g


def _found(net: ReLUNetwork, terms: Sequence[Disjunct], X: np.ndarray) -> np.ndarray | None:
    """A row of ``X`` the forward pass confirms for some disjunct, or None."""
    for t in terms:
        hit = meets(net, t, X)
        if hit.any():
            return X[np.argmax(hit)]
    return None


def descend(net: ReLUNetwork, terms: Disjunct | Sequence[Disjunct], X: np.ndarray, lo: np.ndarray, hi: np.ndarray,
            steps: int, ods: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Projected sign-gradient descent on ``v`` from the starts ``X``, each kept in its box ``[lo, hi]``.

    The step decays from a tenth of the box's width to a fiftieth. With
    ``ods`` (an output direction per start), the first steps push the
    outputs along it (output-diversified starts).

    Returns ``(x, best, least)``: a confirmed counterexample or None, the
    point of least violation met from each start (rows), and that violation.
    """
    terms = [terms] if isinstance(terms, Disjunct) else list(terms)
    width = hi - lo
    least = np.full(len(X), np.inf)
    best = X.copy()
    for step in range(steps + 1):
        check_time()  # a step over hundreds of starts in 784 dimensions takes a tenth of a second
        pushing = ods is not None and step < _ODS_STEPS
        v, g = violation(net, terms, X, ods if pushing else None)
        if not pushing:
            better = v < least
            best[better], least[better] = X[better], v[better]
            hit = np.flatnonzero(v <= 0)
            if hit.size:
                x = _found(net, terms, X[hit])
                if x is not None:
                    return x, best, least
        if step < steps:
            rate = _RATE_FIRST * (_RATE_LAST / _RATE_FIRST) ** (step / max(steps - 1, 1))
            X = np.clip(X - rate * width * np.sign(g), lo, hi)
    return None, best, least


def attack(net: ReLUNetwork, terms: Disjunct | Sequence[Disjunct], rng: np.random.Generator, until: float = 0.0,
           work: Work | None = None, rounds: int = 1, first: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
    """PGD on the disjuncts of one box, in rounds of restarts: at least ``rounds``, more until ``until``.

    The first round: half the starts uniform in the box, half with each
    coordinate put on a face of the box with probability 1/2. Later rounds
    add output-diversified starts and take more steps.

    ``first`` False starts with a later round.

    Returns ``(x, best)``: a confirmed counterexample or None, and the
    points of least violation met, the least first (the region walk starts there).
    """
    terms = [terms] if isinstance(terms, Disjunct) else list(terms)
    lo, hi = terms[0].lo, terms[0].hi
    n, m = lo.size, net.n_outputs
    many = n >= MANY_INPUTS
    starts = _STARTS_MANY if many else _STARTS_FEW
    found_best, found_least = [], []
    done = 0
    while done < rounds or time.time() < until:
        X = lo + (hi - lo) * rng.random((starts, n))
        face = rng.random(X.shape) < 0.5
        X[starts // 2:] = np.where(face, np.where(rng.random(X.shape) < 0.5, lo, hi), X)[starts // 2:]
        ods = None if first else rng.uniform(-1.0, 1.0, size=(starts, m))
        if first:
            X = np.vstack([(lo + hi) / 2, X])
        steps = (_STEPS_FIRST if first else _STEPS_LATER) if many else _STEPS_FEW
        x, best, least = descend(net, terms, X, lo, hi, steps, ods)
        if work is not None:
            work.points += len(X) * (steps + 1)
        if x is not None:
            return x, best[np.argsort(least, kind="stable")]
        found_best.append(best)
        found_least.append(least)
        first = False
        done += 1
    best, least = np.vstack(found_best), np.concatenate(found_least)
    return None, best[np.argsort(least, kind="stable")]


def _region_rows(net: ReLUNetwork, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The region of ``x`` as ``G t + g <= 0`` (one row per hidden neuron) and its output map ``(A, d)``."""
    pattern = net.patterns(x[None])[0]
    G, g = net.region_rows(pattern)
    return G, g, *net.affine_map(pattern)


def region_walk(net: ReLUNetwork, term: Disjunct, x: np.ndarray, deadline: float,
                max_regions: int = 200, work: Work | None = None) -> np.ndarray | None:
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
        if work is not None:
            work.lps += 1
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
