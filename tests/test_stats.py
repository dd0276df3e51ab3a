"""Research statistics and 2-D pictures, checked against independent computations."""

import csv
import json

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.stats import catalogue_stats, write_table
from shallowrelu.testing.nets import random_net
from shallowrelu.testing.oracles import polygon_regions
from tests.helpers import SQUARE
from tests.helpers import run_cli as run


def test_stats_volumes_and_layers_against_polygon_splitting():
    net = random_net([2, 8, 6, 1], seed=41)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    st = catalogue_stats(cat)
    oracle = polygon_regions(net.layers, SQUARE)
    assert st.volume_exact and st.total_volume == pytest.approx(4.0)
    by_pattern = {tuple(int(b) for b in p): v for p, v in zip(cat.patterns(), st.volumes)}
    for pattern, area in oracle.items():
        assert by_pattern[pattern] == pytest.approx(area, rel=1e-7, abs=1e-12)
    # distinct layer-1 patterns = regions of the first layer's arrangement alone
    first = polygon_regions([net.layers[0], (np.ones((1, 8)), np.zeros(1))], SQUARE)
    assert st.regions_per_layer == [len(first), len(cat)]
    P = cat.patterns()
    for layer, index in st.never_split:
        k = sum(net.hidden_sizes[:layer - 1]) + index
        assert P[:, k].all() or not P[:, k].any()


def test_volumes_estimated_by_sampling_above_4d():
    net = random_net([5, 6, 1], seed=42)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    st = catalogue_stats(cat, samples=100_000)
    assert not st.volume_exact and st.samples == 100_000
    assert st.total_volume == pytest.approx(32.0, rel=0.02)
    exact = cat.volumes()  # qhull works in 5-D; the estimate must be close to it
    assert np.abs(st.volumes - exact).max() < 0.05 * 32


def test_table_csv_and_parquet(tmp_path):
    cat = sr.enumerate_regions(random_net([2, 5, 1], seed=43), sr.Box(-1, 1))
    st = catalogue_stats(cat)
    write_table(tmp_path / "t.csv", cat, st)
    with open(tmp_path / "t.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(cat)
    assert set(rows[0]) == {"region", "pattern", "volume", "inradius", "facets", "x1", "x2"}
    assert rows[3]["pattern"] == "".join("1" if b else "0" for b in cat[3].pattern)
    import pyarrow.parquet as pq  # the parquet extra, part of the test extras

    write_table(tmp_path / "t.parquet", cat, st)
    assert pq.read_table(tmp_path / "t.parquet").num_rows == len(cat)





def test_stats_and_explain_on_a_five_input_net(tmp_path):
    net = random_net([5, 6, 2], seed=46)
    sr.save_network(net, tmp_path / "n5.npz")
    proc = run("stats", str(tmp_path / "n5.npz"), "--box=-1,1", "--json", "--volume-samples", "50000")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["volume_exact"] is False and d["total_volume"] == pytest.approx(32.0, rel=0.03)
    proc = run("explain", str(tmp_path / "n5.npz"), "--box=-1,1", "--point=0.1,0.2,-0.3,0.4,0", "--json",
               "--no-shallow-gates")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["radius"] > 0


