"""What several test modules share: the data folder, generated polytopes, reference computations, checks."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

import shallowrelu as sr
from shallowrelu.polytope.leaves import regions_by_vertices
from shallowrelu.polytope.lp import chebyshev_ball
from shallowrelu.polytope.vertices import distinct_vertices, vertices
from shallowrelu.tolerances import DEFAULT_TOLERANCES
from shallowrelu.verification.vnnlib import Term

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def independent_counterexample(net, prop, seed=0, samples=20_000, steps=300):
    """An independent search for a counterexample: random points, then coordinate descent on the
    largest constraint violation from the best of them. Returns a point or None."""
    rng = np.random.default_rng(seed)
    for t in prop.terms:
        def worst(X, t=t):
            return (net(X) @ t.C.T - t.e).max(axis=1)
        X = t.lo + (t.hi - t.lo) * rng.random((samples, t.lo.size))
        v = worst(X)
        if v.min() <= 0:
            return X[np.argmin(v)]
        x = X[np.argmin(v)]
        step = (t.hi - t.lo) / 4
        for _ in range(steps):
            cand = np.clip(x + step * rng.choice([-1.0, 0.0, 1.0], size=(64, x.size)), t.lo, t.hi)
            cv = worst(cand)
            if cv.min() < worst(x[None])[0]:
                x = cand[np.argmin(cv)]
            else:
                step = step / 2
            if worst(x[None])[0] <= 0:
                return x
    return None


def wait_for_chunk(part, size_before: int, proc, extra: float = 0.0, limit: float = 60.0) -> None:
    """Wait until the CLI run ``proc`` has streamed one more finished chunk to ``part``, then ``extra`` seconds.

    Signalling at a fixed delay raced the search on a fast machine (the run
    had finished before the signal came); the first new chunk says the
    search is under way with most of its subtrees still to run.
    """
    end = time.monotonic() + limit
    while time.monotonic() < end and proc.poll() is None:
        if os.path.exists(part) and os.path.getsize(part) > size_before:
            break
        time.sleep(0.01)
    time.sleep(extra)


def check_answer(net, prop, res):
    if res.verdict is sr.Verdict.SAT:
        t_ok = [np.all(np.abs(net(res.x[None])[0] - res.y) < 1e-12)]
        assert all(t_ok)
        assert any(np.all((res.x >= t.lo) & (res.x <= t.hi)) and np.all(t.C @ res.y <= t.e + 1e-9)
                   for t in prop.terms)
    elif res.verdict is sr.Verdict.UNSAT:
        assert independent_counterexample(net, prop) is None


def assert_chunks_agree(partial, full):
    """Each chunk of ``partial`` holds the first regions of the same chunk of ``full``."""
    where, start = {}, 0
    for i, count, *_ in full.info["chunks"]:
        where[tuple(i)], start = (start, count), start + count
    start = 0
    for i, count, done, *_ in partial.info["chunks"]:
        at, full_count = where[tuple(i)]
        assert count == full_count if done else count <= full_count
        np.testing.assert_array_equal(partial.table.patterns[start:start + count],
                                      full.table.patterns[at:at + count])
        np.testing.assert_array_equal(partial.table.interior[start:start + count],
                                      full.table.interior[at:at + count])
        start += count
    assert start == len(partial)


def random_polytope(rng, n: int, k: int):
    """``k`` random unit rows around the origin, inside the box [-1, 1]^n."""
    G = rng.normal(size=(k, n))
    G = np.vstack([G / np.linalg.norm(G, axis=1, keepdims=True), np.eye(n), -np.eye(n)])
    g = np.concatenate([-rng.uniform(0.2, 1.0, k), -np.ones(2 * n)])
    return G, g


def facet_tables(polytopes):
    """Facets (irredundant, as a catalogue stores them) of each polytope, stacked with their pointers."""
    Gs, gs, ptr, inside = [], [], [0], []
    for G, g in polytopes:
        ball = chebyshev_ball(G, g, 10.0)
        ((facet, _, _), _), = regions_by_vertices([G], [g], [distinct_vertices(vertices(G, g, ball.x))],
                                                  DEFAULT_TOLERANCES)
        Gs.append(G[facet])
        gs.append(g[facet])
        ptr.append(ptr[-1] + int(facet.sum()))
        inside.append(ball.x)
    return np.vstack(Gs), np.concatenate(gs), np.array(ptr), np.array(inside)


def max_by_vertices(net, box):
    cat = sr.enumerate_regions(net, box)
    V = np.vstack([vertices(cat.table.facet_G[cat.facet_rows(i)], cat.table.facet_g[cat.facet_rows(i)],
                            cat.table.interior[i]) for i in range(len(cat))])
    return float(net(V)[:, 0].max())


def threshold_term(n, top, above, rows=1):
    # unsafe: y_0 >= top +- 1e-6, i.e. -y_0 <= -(threshold); with rows=2 also y_0 <= top + 1 (true near the
    # maximum), so that the rows' averages and their joint bound take part
    threshold = top + (1e-6 if above else -1e-6)
    C, e = np.array([[-1.0], [1.0]])[:rows], np.array([-threshold, top + 1.0])[:rows]
    return Term(-np.ones(n), np.ones(n), C, e)


SQUARE = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "shallowrelu", *args], capture_output=True, text=True, timeout=300)


def exact_preactivations(net: sr.ReLUNetwork, x: list[Fraction]) -> list[list[Fraction]]:
    """Every hidden pre-activation at ``x``, in rational arithmetic on the float64 weights."""
    h, out = x, []
    for W, b in net.layers[:-1]:
        z = [sum((Fraction(w) * v for w, v in zip(row, h)), Fraction(0)) + Fraction(c) for row, c in zip(W, b)]
        out.append(z)
        h = [max(v, Fraction(0)) for v in z]
    return out


class FlakyHighs:
    """A real HiGHS model whose status reads ``fault`` on the solves the shared counter picks."""

    count = 0

    def __init__(self, real, fault, failing):
        self._real, self._fault, self._failing, self._last = real, fault, failing, 0

    def run(self):
        FlakyHighs.count += 1
        self._last = FlakyHighs.count
        return self._real.run()

    def getModelStatus(self):
        return self._fault if self._failing(self._last) else self._real.getModelStatus()

    def __getattr__(self, name):
        return getattr(self._real, name)


def assert_same_table(a, b):
    for f in dataclasses.fields(a.table):
        np.testing.assert_array_equal(getattr(a.table, f.name), getattr(b.table, f.name), err_msg=f.name)
