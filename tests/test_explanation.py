"""Explanations against independent computations: finite differences, polygon geometry, a dense grid."""

import json
import subprocess
import sys

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.testing.nets import random_net
from shallowrelu.testing.oracles import distance_to_polygon_boundary, polygon_pieces

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
