"""The Ray backend on a Ray instance started on this machine: same catalogue, same verdicts."""

import importlib.util
import json

import numpy as np
import pytest
import ray

import shallowrelu as sr
from shallowrelu.cli import main
from shallowrelu.polytope.vertices import vertices
from shallowrelu.testing.nets import random_net


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_gives_the_same_bytes_as_one_process(local_ray, pool_from_the_start, tmp_path):
    net = random_net([3, 10, 10, 1], seed=4)
    one = sr.enumerate_regions(net, sr.Box(-1, 1))
    on_ray = sr.enumerate_regions(net, sr.Box(-1, 1), backend="ray")
    one.save(tmp_path / "one.npz")
    on_ray.save(tmp_path / "ray.npz")
    assert len(one) > 100 and on_ray.info["complete"]
    assert pool_from_the_start and pool_from_the_start[0] > 10  # the tasks went to Ray
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "ray.npz").read_bytes()


@pytest.mark.slow
def test_ray_verify_finds_the_counterexample_and_proves_unsat(local_ray, pool_from_the_start):
    net = random_net([2, 8, 6, 1], seed=17, bias=0.3)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    # the exact maximum over the box is at a vertex of some region
    V = np.vstack([vertices(cat.table.facet_G[cat.facet_rows(i)], cat.table.facet_g[cat.facet_rows(i)],
                                        cat.table.interior[i]) for i in range(len(cat))])
    top = net(V)[:, 0].max()

    def prop(threshold):
        return sr.parse_vnnlib(f"""
            (declare-const X_0 Real) (declare-const X_1 Real) (declare-const Y_0 Real)
            (assert (>= X_0 -1)) (assert (<= X_0 1)) (assert (>= X_1 -1)) (assert (<= X_1 1))
            (assert (>= Y_0 {threshold}))""")

    # just below the maximum: found inside a Ray task, raised here
    sat = sr.verify(net, prop(top - 1e-3), samples=0, backend="ray", jobs=2)
    assert sat.verdict.value == "sat" and net(sat.x[None])[0, 0] >= top - 1e-3
    assert sr.verify(net, prop(top + 1e-3), samples=0, backend="ray").verdict.value == "unsat"


@pytest.mark.slow
def test_cli_backend_ray(local_ray, pool_from_the_start, tmp_path, capsys):
    net = random_net([2, 8, 8, 1], seed=2)
    sr.save_network(net, tmp_path / "net.npz")
    assert main(["enumerate", str(tmp_path / "net.npz"), "--box=-1,1", "--backend", "ray", "--jobs", "2",
                 "-o", str(tmp_path / "cat.npz"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert out["regions"] == len(expected) and out["complete"]
    assert np.array_equal(sr.Catalogue.load(tmp_path / "cat.npz").table.interior, expected.table.interior)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend 'spark'"):
        sr.enumerate_regions(random_net([2, 4, 1]), sr.Box(-1, 1), backend="spark")


def test_cli_without_ray_says_how_to_install(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    sr.save_network(random_net([2, 4, 1]), tmp_path / "net.npz")
    code = main(["enumerate", str(tmp_path / "net.npz"), "--box=-1,1", "--backend", "ray", "-o",
                 str(tmp_path / "cat.npz")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "pip install 'shallowrelu[ray]'" in err
    assert not list(tmp_path.glob("cat.npz*"))
