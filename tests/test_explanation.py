"""Explanations against independent computations: finite differences, polygon geometry, a dense grid, and
the nearest-first counterfactual search against the scan of every region and label."""

import json
import subprocess
import sys

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu import explanation
from shallowrelu.cli.main import main
from shallowrelu.explanation import report_lines
from shallowrelu.limits import OutOfTime
from shallowrelu.polytope.lp import nearest_point
from shallowrelu.testing.nets import random_net
from shallowrelu.testing.oracles import distance_to_polygon_boundary, polygon_pieces
from shallowrelu.tolerances import LABEL_MARGIN

SQUARE = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


@pytest.fixture(scope="module")
def classifier():
    net = random_net([2, 10, 8, 3], seed=31, bias=0.3)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    return net, cat


def test_local_model_matches_finite_differences(classifier, rng):
    net, cat = classifier
    for x in rng.uniform(-0.9, 0.9, size=(20, 2)):
        e = sr.explain(cat, x, norms=())
        h = 1e-7 * max(1e-3, min(1.0, e.radius))
        J = np.stack([(net(x + h * ei) - net(x - h * ei))[0] / (2 * h) for ei in np.eye(2)], axis=1)
        np.testing.assert_allclose(e.A, J, atol=1e-6)
        np.testing.assert_allclose(e.output, net(x[None])[0], atol=1e-12)


def test_ball_radius_matches_the_polygon_of_the_region(classifier, rng):
    net, cat = classifier
    pieces = polygon_pieces(net.layers, SQUARE)
    for x in rng.uniform(-0.95, 0.95, size=(25, 2)):
        e = sr.explain(cat, x, norms=())
        poly = pieces[tuple(int(b) for b in net.patterns(x[None])[0])]
        assert e.radius == pytest.approx(distance_to_polygon_boundary(x, poly), rel=1e-9, abs=1e-12)
        assert np.linalg.norm(e.nearest_facet_point - x) == pytest.approx(e.radius, abs=1e-12)
        assert [f.distance for f in e.facets] == sorted(f.distance for f in e.facets)


def test_counterfactual_has_another_label_and_none_is_closer_on_a_grid(classifier):
    net, cat = classifier
    g = np.linspace(-1, 1, 401)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    labels = np.argmax(net(grid), axis=1)
    for x in (np.array([0.2, -0.3]), np.array([-0.6, 0.7])):
        e = sr.explain(cat, x)
        other = grid[labels != e.label]
        for cf in e.counterfactuals:
            assert int(np.argmax(net(cf.point[None])[0])) == cf.label != e.label
            norm = np.inf if cf.norm == "inf" else 2
            nearest_on_grid = np.linalg.norm(other - x, ord=norm, axis=1).min()
            assert cf.distance <= nearest_on_grid + 1e-9
            # and the grid, 0.005 apart, comes close to it
            assert nearest_on_grid <= cf.distance + 0.005 * (2 if norm == np.inf else 2 ** 0.5)


def test_shallow_gates_reproduce_the_output(classifier):
    net, cat = classifier
    shallow = sr.build_shallow(cat)
    x = np.array([0.1, 0.4])
    e = sr.explain(cat, x, shallow, norms=())
    assert len(e.gates) == 1 and e.gates[0].region == e.region and e.gates[0].coefficient == 1
    np.testing.assert_allclose(sum(g.coefficient * g.value for g in e.gates), net(x[None])[0], atol=1e-12)
    # on a facet several gates open and their signed sum is still the output
    k = next(i for i, f in enumerate(e.facets) if f.neuron != "domain")
    on = e.point - e.facets[k].distance * -e.facets[k].normal
    e2 = sr.explain(cat, on, shallow, norms=())
    assert len(e2.gates) >= 3
    np.testing.assert_allclose(sum(g.coefficient * g.value for g in e2.gates), net(on[None])[0], atol=1e-9)


def test_point_outside_the_domain_is_an_error(classifier):
    _, cat = classifier
    with pytest.raises(sr.DomainError, match="outside"):
        sr.explain(cat, np.array([2.0, 0.0]))


def test_cli_explain_json_keys(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "explain", str(sr.example_path()), "--box", "-1,1",
                           "--point", "-0.5,0.25", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in ("region", "pattern", "A", "d", "radius", "nearest_facet_point", "facets", "counterfactual"):
        assert key in data
    assert {"neuron", "inequality", "distance"} <= set(data["facets"][0])
    assert {"point", "label", "distance", "norm"} <= set(data["counterfactual"])
    np.save(tmp_path / "pts.npy", np.array([[0.1, 0.2], [-0.3, 0.4]]))
    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "explain", str(sr.example_path()), "--box=-1,1",
                           "--points", str(tmp_path / "pts.npy"), "--json", "--no-shallow-gates"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["explanations"]) == 2


def test_cli_explain_reads_a_saved_shallow_network(tmp_path):
    cat, shallow, other = tmp_path / "cat.npz", tmp_path / "s.npz", tmp_path / "other.npz"
    sr.enumerate_regions(sr.load_network(sr.example_path()), sr.Box(-1, 1)).save(cat)
    sr.build_shallow(sr.Catalogue.load(cat)).save(shallow)
    explain = [sys.executable, "-m", "shallowrelu", "explain", str(cat), "--point=-0.5,0.25", "--json", "--shallow"]
    proc = subprocess.run(explain + [str(shallow)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    built = subprocess.run(explain[:-1], capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout) == json.loads(built.stdout)   # the same open gates as a fresh build
    assert json.loads(proc.stdout)["shallow_gates"]
    sr.build_shallow(sr.enumerate_regions(random_net([2, 4, 2], seed=9), sr.Box(-1, 1))).save(other)
    proc = subprocess.run(explain + [str(other)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "another network" in proc.stderr


def test_milp_counterfactual_agrees_with_the_catalogue_search(classifier):
    # two independent exact methods for the same l_inf distance
    net, cat = classifier
    for x in (np.array([0.2, -0.3]), np.array([-0.6, 0.7]), np.array([0.9, 0.9])):
        by_regions = sr.explain(cat, x, norms=("inf",)).counterfactuals[0]
        by_milp = sr.explain(cat, x, norms=("inf",), counterfactual_method="milp").counterfactuals[0]
        assert by_milp.method.startswith("MILP") and by_regions.method.startswith("catalogue")
        # the MILP keeps a label margin of 1e-5 above HiGHS's feasibility tolerance
        assert by_regions.distance <= by_milp.distance + 1e-9
        assert by_milp.distance == pytest.approx(by_regions.distance, abs=1e-4)
        assert int(np.argmax(net(by_milp.point[None])[0])) == by_milp.label != sr.explain(cat, x, norms=()).label


def _exhaustive(cat, x, label, norm):
    """The nearest input with another label by one LP or QP for every region and label: the scan the
    nearest-first search must agree with. Returns (distance, point, label), or None."""
    t, hull = cat.table, cat.hull
    basis = hull.B if hull.flat and norm == "inf" else None
    xt = hull.to_t(x[None])[0]
    m = t.A.shape[1]
    best = None
    for r in range(len(cat)):
        sl = cat.facet_rows(r)
        for k in (k for k in range(m) if k != label):
            others = [j for j in range(m) if j != k]
            rows = np.vstack([t.facet_G[sl], t.A[r][others] - t.A[r][k]])
            rhs = np.concatenate([-t.facet_g[sl], t.d[r][k] - t.d[r][others] - LABEL_MARGIN])
            res = nearest_point(xt, rows, rhs, norm, basis=basis)
            if res.feasible and (best is None or res.value < best[0]):
                best = (res.value, hull.to_x(res.x[None])[0], k)
    return best


def _small_catalogues():
    """Small classifiers over a 2-D box, a 3-D box, all of R^2 (no vertices) and a plane through 5-D inputs."""
    rng = np.random.default_rng(3)
    a, b, c = rng.uniform(-0.8, 0.8, size=(3, 5))
    yield "2-D box", sr.enumerate_regions(random_net([2, 8, 6, 3], seed=51, bias=0.3), sr.Box(-1, 1))
    yield "3-D box", sr.enumerate_regions(random_net([3, 7, 5, 3], seed=52, bias=0.3), sr.Box(-1, 1))
    yield "R^2", sr.enumerate_regions(random_net([2, 6, 5, 4], seed=53, bias=0.3))
    yield "plane in 5-D", sr.enumerate_regions(random_net([5, 12, 10, 4], seed=54, bias=0.3),
                                               sr.Slice.plane(a, b, c, clip=sr.Box(-1, 1)))


@pytest.mark.parametrize("name, cat", list(_small_catalogues()), ids=lambda v: v if isinstance(v, str) else "")
def test_nearest_first_search_agrees_with_the_exhaustive_scan(name, cat):
    rng = np.random.default_rng(7)
    T = cat.table.interior[rng.choice(len(cat), size=4, replace=False)]
    for x in cat.hull.to_x(T + 0.3 * cat.table.inradius[:, None].min() * rng.normal(size=T.shape)):
        label = int(np.argmax(cat.network(x[None])[0]))
        for norm in ("inf", "2"):
            found = sr.counterfactual(cat, x, label, norm)
            scan = _exhaustive(cat, x, label, norm)
            assert (found is None) == (scan is None), (name, norm)
            if found is None:
                continue
            assert found.distance == pytest.approx(scan[0], rel=1e-7, abs=1e-9), (name, norm)
            assert int(np.argmax(cat.network(found.point[None])[0])) == found.label != label
            if norm == "2":  # the l_2 nearest point is unique; an LP's l_inf optimum need not be
                np.testing.assert_allclose(found.point, scan[1], atol=1e-6)


def test_on_a_plane_the_l_inf_distance_is_that_of_the_inputs():
    # a grid over the plane, distances measured between the 5-D inputs: none with another label is nearer
    rng = np.random.default_rng(5)
    a, b, c = rng.uniform(-0.8, 0.8, size=(3, 5))
    net = random_net([5, 8, 6, 3], seed=55, bias=0.3)
    cat = sr.enumerate_regions(net, sr.Slice.plane(a, b, c))
    h = 0.004
    s = np.arange(-0.25, 1.25 + h / 2, h)
    grid = np.stack(np.meshgrid(s, s), axis=-1).reshape(-1, 2)
    X = a + grid[:, :1] * (b - a) + grid[:, 1:] * (c - a)
    labels = np.argmax(net(X), axis=1)
    x = a + 0.3 * (b - a) + 0.3 * (c - a)
    label = int(np.argmax(net(x[None])[0]))
    cf = sr.counterfactual(cat, x, label, "inf")
    nearest_on_grid = np.abs(X[labels != label] - x).max(axis=1).min()
    assert cf.distance == pytest.approx(np.abs(cf.point - x).max())
    assert cf.distance <= nearest_on_grid + 1e-9
    # a grid step moves an input by at most h * (|b - a| + |c - a|)_inf
    assert nearest_on_grid <= cf.distance + 2 * h * np.abs(np.stack([b - a, c - a])).sum(axis=0).max()


def test_the_search_solves_far_fewer_problems_than_there_are_regions():
    net = random_net([2, 40, 40, 10], seed=1, bias=0.3)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert len(cat) > 2000
    g = np.linspace(-1, 1, 401)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    labels = np.argmax(net(grid), axis=1)
    for x in np.random.default_rng(0).uniform(-0.9, 0.9, size=(5, 2)):
        e = sr.explain(cat, x)
        other = grid[labels != e.label]
        for cf in e.counterfactuals:
            search = e.searches[cf.norm]
            assert search.proven and search.regions == len(cat)
            assert search.solves <= len(cat) / 50 and search.examined < len(cat)
            assert search.lower_bound == cf.distance
            nearest_on_grid = np.linalg.norm(other - x, ord=np.inf if cf.norm == "inf" else 2, axis=1).min()
            assert cf.distance <= nearest_on_grid + 1e-9


def _cut_after(monkeypatch, solves):
    """Every LP or QP after the first ``solves`` (counted over all the searches) meets a passed deadline."""
    real = explanation.nearest_point
    count = {"n": 0}

    def solve(*args, **kwargs):
        count["n"] += 1
        if count["n"] > solves:
            raise OutOfTime
        return real(*args, **kwargs)

    monkeypatch.setattr(explanation, "nearest_point", solve)
    return count


def test_a_search_cut_short_gives_the_nearest_found_and_says_so(classifier, monkeypatch):
    _, cat = classifier
    x = np.array([-0.5, -0.5])  # four QPs for the whole search
    whole = sr.explain(cat, x, norms=("2",))
    _cut_after(monkeypatch, 1)
    cut = sr.explain(cat, x, norms=("2",))
    search = cut.searches["2"]
    assert not search.proven and search.solves == 1 and whole.searches["2"].solves > 1
    assert search.lower_bound <= whole.counterfactuals[0].distance
    line = next(l for l in report_lines(cut) if l.startswith("nearest input with another label"))
    if cut.counterfactuals:
        assert cut.counterfactuals[0].distance >= whole.counterfactuals[0].distance - 1e-9
        assert "NOT PROVEN NEAREST" in line and cut.as_dict()["counterfactual"]["proven"] is False
    else:
        assert "none found before the time ran out" in line
    assert cut.as_dict()["counterfactual_search"]["2"]["proven"] is False
    with pytest.raises(OutOfTime):  # the function alone answers exactly or not at all
        sr.counterfactual(cat, x, whole.label, "2")


def test_cli_explain_prints_what_it_found_when_the_time_runs_out(tmp_path, monkeypatch, capsys):
    cat = tmp_path / "cat.npz"
    sr.enumerate_regions(sr.load_network(sr.example_path()), sr.Box(-1, 1)).save(cat)
    argv = ["explain", str(cat), "--point=0.3,-0.2", "--no-shallow-gates", "--time-limit", "600"]
    assert main(argv) == 0
    assert "NOT PROVEN" not in capsys.readouterr().out
    _cut_after(monkeypatch, 1)
    assert main(argv) == 124
    out, err = capsys.readouterr()
    assert out.count("nearest input with another label") == 2 and "the time ran out" in out
    assert "time limit reached (600 s)" in err and "not proven nearest" in err
    _cut_after(monkeypatch, 0)
    assert main(argv + ["--json"]) == 124
    data = json.loads(capsys.readouterr().out)
    assert {s["proven"] for s in data["counterfactual_search"].values()} == {False}
