"""Regions thinner than float64 can decide, decided exactly (docs/design.md sections 1 and 5).

Oracles: exact rational arithmetic written here (``Fraction`` forward passes,
the polygon and interval splitting of ``oracles.py``), nets whose regions are
known by construction, and HiGHS for the exact LP's optimum.
"""


import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.polytope.exact import rational
from shallowrelu.testing.nets import fuzz_net
from shallowrelu.testing.oracles import compare_with_exact
from tests.helpers import DATA, exact_preactivations


def slab_net(n: int, eps: float, eps2: float, seed: int = 0) -> sr.ReLUNetwork:
    """Regions known by construction, in rotated coordinates: layer 1 cuts u_1 at 0 and eps, layer 2
    cuts u_2 at 0 and eps2 (passed through an always-active neuron), so there are 9 regions
    (4 when both eps are 0: a pattern that is only a hyperplane is no region); the region with both
    slabs has inradius min(eps, eps2) / 2."""
    Q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    u1, u2 = Q[0], Q[1]
    W1 = np.array([u1, u1, u2])
    b1 = np.array([0.0, -eps, 4.0])  # the third neuron is u_2 + 4 > 0 on the box
    W2 = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, -1.0, 0.0]])
    b2 = np.array([-4.0, -4.0 - eps2, 0.0])
    W3 = np.array([[1.0, -2.0, 3.0]])
    return sr.ReLUNetwork([(W1, b1), (W2, b2), (W3, np.zeros(1))])


@pytest.mark.parametrize("n", [2, 3, 5])
@pytest.mark.parametrize("radius", [1e-10, 1e-13, 0.0])
def test_constructed_slivers_are_found_however_thin(n, radius):
    net = slab_net(n, 2 * radius, 3 * radius)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert len(cat) == (9 if radius else 4)
    assert cat.info["complete"], cat.info["certificate"]
    assert cat.info["below_resolution"] == 0
    if not radius:
        return
    assert cat.info["exact_decisions"] > 0
    i = int(np.argmin(cat.table.inradius))
    r = cat[i]
    assert r.inradius == pytest.approx(radius, rel=1e-2)
    # in exact arithmetic the region's centre, and points half its radius away, have its pattern
    rng = np.random.default_rng(n)
    for x in [r.interior] + [r.interior + 0.5 * r.inradius * u / np.linalg.norm(u) for u in rng.normal(size=(5, n))]:
        z = exact_preactivations(net, rational(x))
        assert np.array_equal(np.array([v > 0 for layer in z for v in layer]), r.pattern)
    assert cat.region_of(r.interior)[0] == i
    y = net(r.interior[None])[0]
    assert np.abs(r.A @ r.interior + r.d - y).max() <= 1e-12 * max(1.0, np.abs(y).max())


@pytest.mark.parametrize("n", [2, 3, 5])
@pytest.mark.parametrize("radius", [1e-10, 1e-13])
def test_shallow_network_is_exact_on_constructed_slivers(n, radius):
    net = slab_net(n, 2 * radius, 3 * radius)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    r = cat[int(np.argmin(cat.table.inradius))]
    rng = np.random.default_rng(n)
    D = rng.normal(size=(200, n))
    X = r.interior + 0.9 * r.inradius * rng.random((200, 1)) * D / np.linalg.norm(D, axis=1, keepdims=True)
    Y = net(X)
    for mode in ("faces", "cells"):
        shallow = sr.build_shallow(cat, mode=mode)
        # the sliver's two facets are two hyperplanes, however close
        assert shallow.info["hyperplanes"] >= 4
        assert sr.check_equivalence(net, shallow, cat, samples=300).passed, mode
    # faces mode inside the sliver: the deep network, to the gates' boundary tolerance times the slopes
    assert np.abs(sr.build_shallow(cat)(X) - Y).max() <= 1e-10


def test_thin_regions_over_an_unbounded_domain():
    # over R^2 the always-active neuron of the box is cut at u_2 = -4 too: 3 x 4 regions; the exact
    # LP's optimum lies 2^30 out along the slabs, where 1e-13 is below resolution, so the slabs are
    # found again in boxes around the origin
    cat = sr.enumerate_regions(slab_net(2, 2e-13, 3e-13))
    assert len(cat) == 12 and cat.info["below_resolution"] == 0 and cat.info["complete"]
    assert cat.table.inradius.min() == pytest.approx(1e-13, rel=1e-2)


def test_below_float_resolution_regions_are_counted_not_stored():
    net = slab_net(3, 1e-16, 0.0)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert len(cat) == 2 * 2 and cat.info["below_resolution"] >= 1 and cat.info["complete"]


def test_fuzz_agrees_with_the_exact_oracle():
    # degenerate nets: duplicated, scaled, flipped and near-parallel neurons make rounding slivers
    tol = sr.Tolerances()
    for seed in range(60):
        n = 1 + seed % 2
        net = fuzz_net(seed, n, depth=1 + (seed // 2) % 2)
        cat = sr.enumerate_regions(net, sr.Box(-1, 1))
        assert cat.info["complete"], seed
        assert compare_with_exact(cat, net, n, tol.resolution) == [], seed


def acas_sliver_box(margin: float) -> sr.Box:
    """A small box of ACAS Xu 1_1's prop_4 input set around its thinnest region (found by the
    full run: inradius 3.18e-10, which affinitree 0.23.0 also finds)."""
    from shallowrelu.verification.vnnlib import load_vnnlib
    term = load_vnnlib(DATA / "prop_4.vnnlib").terms[0]
    centre = np.array([-0.3018413, -0.00089407, 0.0, 0.40525256, 0.16666667])
    return sr.Box(np.maximum(term.lo, centre - margin), np.minimum(term.hi, centre + margin))


def test_acas_sliver_is_a_region_and_the_shallow_network_is_exact_on_it():
    net = sr.load_network(DATA / "ACASXU_run2a_1_1_batch_2000.onnx")
    cat = sr.enumerate_regions(net, acas_sliver_box(2e-5))
    assert cat.info["complete"] and cat.info["exact_decisions"] > 0
    i = int(np.argmin(cat.table.inradius))
    r = cat[i]
    assert r.inradius == pytest.approx(3.18e-10, rel=1e-2)
    z = exact_preactivations(net, rational(r.interior))
    assert np.array_equal(np.array([v > 0 for layer in z for v in layer]), r.pattern)
    assert cat.region_of(r.interior)[0] == i
    y = net(r.interior[None])[0]
    assert np.abs(r.A @ r.interior + r.d - y).max() <= 1e-12 * np.abs(y).max()
    # probes inside the sliver: the catalogue's map and the shallow network equal the deep network
    rng = np.random.default_rng(0)
    t = cat.hull.to_t(r.interior)[0]
    D = rng.normal(size=(500, len(t)))
    T = t + 0.9 * r.inradius * rng.random((500, 1)) * D / np.linalg.norm(D, axis=1, keepdims=True)
    X = cat.hull.to_x(T)
    assert np.all(cat.region_of(X) == i)
    Y = net(X)
    assert np.abs(X @ r.A.T + r.d - Y).max() <= 1e-12 * np.abs(Y).max()
    shallow = sr.build_shallow(cat)
    assert np.abs(shallow(X) - Y).max() <= 1e-12 * np.abs(Y).max()
    assert sr.check_equivalence(net, shallow, cat, samples=200).passed


@pytest.mark.slow
def test_acas_prop_4_has_19143_regions():
    # affinitree 0.23.0 finds 19,143 on this input set; floats alone found 19,142 (the sliver was lost)
    from shallowrelu.verification.vnnlib import load_vnnlib
    net = sr.load_network(DATA / "ACASXU_run2a_1_1_batch_2000.onnx")
    term = load_vnnlib(DATA / "prop_4.vnnlib").terms[0]
    cat = sr.enumerate_regions(net, sr.Box(term.lo, term.hi))
    assert len(cat) == 19143
    assert cat.info["complete"]
    assert 0 < cat.info["exact_decisions"] < 100


def test_cli_reports_exact_decisions_and_regions_below_resolution(tmp_path):
    import json
    import subprocess
    import sys
    for radius, below in ((1e-12, False), (0.3e-16, True)):
        path = tmp_path / "slab.npz"
        sr.save_network(slab_net(2, 2 * radius, 3 * radius), path)
        cmd = [sys.executable, "-m", "shallowrelu", "enumerate", str(path), "--box=-1,1"]
        data = json.loads(subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=True).stdout)
        assert data["exact_decisions"] > 0 and (data["below_resolution"] > 0) == below
        assert data["regions"] == (4 if below else 9)
        text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        assert f"decided in exact arithmetic: {data['exact_decisions']}" in text
        assert ("below float resolution" in text) == below
