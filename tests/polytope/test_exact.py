"""The exact LP and the exact forms of a pattern, against exact forward passes and HiGHS."""

from fractions import Fraction

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.polytope.exact import ExactNetwork, max_margin, norm_weight, rational
from tests.helpers import exact_preactivations


def test_exact_forms_are_the_exact_forward_pass():
    rng = np.random.default_rng(0)
    net = sr.ReLUNetwork([(rng.normal(size=(5, 3)), rng.normal(size=5)), (rng.normal(size=(4, 5)), rng.normal(size=4)),
                          (rng.normal(size=(1, 4)), rng.normal(size=1))])
    x = rational(rng.uniform(-1, 1, size=3))
    z = exact_preactivations(net, x)
    pattern = np.array([v > 0 for layer in z for v in layer])
    forms = ExactNetwork(net).forms(pattern, 2)
    for f, zl in zip(forms, z):
        got = [(sum((Fraction(int(m)) * v for m, v in zip(row, x)), Fraction(0)) + int(c)) / f.D
               for row, c in zip(f.M, f.v)]
        assert got == zl


def test_exact_lp_matches_highs_on_random_polytopes():
    from scipy.optimize import linprog
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(1, 5))
        A = rng.normal(size=(int(rng.integers(n + 1, 3 * n + 4)), n))
        c = -rng.uniform(0.05, 1.0, size=len(A)) + A @ rng.uniform(-0.3, 0.3, size=n) * rng.integers(0, 2)
        w = [norm_weight(rational(a)) for a in A]
        best = max_margin(np.array([rational(a) for a in A], dtype=object), rational(c), w,
                          [Fraction(-2)] * n, [Fraction(2)] * n, Fraction(10))
        # the same LP in floats: max s, A t + w s <= -c, |t| <= 2, s <= 10
        res = linprog(np.append(np.zeros(n), -1.0), A_ub=np.hstack([A, np.array([[float(v)] for v in w])]), b_ub=-c,
                      bounds=[(-2, 2)] * n + [(None, 10)], method="highs")
        assert float(best.value) == pytest.approx(-res.fun, abs=1e-9)
        t = best.point
        assert all(sum(Fraction(a) * v for a, v in zip(row, t)) + Fraction(ci) + wi * best.value <= 0
                   for row, ci, wi in zip(A, c, w))


def test_exact_lp_sees_a_slab_of_width_1e_minus_300():
    # 0 < x < 1e-300 in 1-D: no float LP can see it, exact arithmetic does
    A = np.array([[Fraction(-1)], [Fraction(1)]], dtype=object)
    c = np.array([Fraction(0), Fraction(-1e-300)], dtype=object)
    best = max_margin(A, c, [Fraction(1)] * 2, [Fraction(-1)], [Fraction(1)], Fraction(1))
    assert best.value == Fraction(1e-300) / 2
    touching = np.array([Fraction(0), Fraction(0)], dtype=object)  # 0 < x < 0: a point, no region
    assert max_margin(A, touching, [Fraction(1)] * 2, [Fraction(-1)], [Fraction(1)], Fraction(1)).value == 0
