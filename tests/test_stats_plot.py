"""Research statistics and 2-D pictures, checked against independent computations."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

import shallowrelu as sr
from nets import random_net
from oracles import polygon_regions
from shallowrelu.plot import PALETTE, colouring
from shallowrelu.stats import catalogue_stats, write_table

SQUARE = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


def run(*args):
    return subprocess.run([sys.executable, "-m", "shallowrelu", *args], capture_output=True, text=True, timeout=300)


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


def test_colouring_gives_neighbours_different_colours():
    cat = sr.enumerate_regions(random_net([2, 8, 8, 1], seed=44), sr.Box(-1, 1))
    colour = colouring(cat)
    nb = cat.neighbours()
    owner = np.repeat(np.arange(len(cat)), np.diff(cat.table.facet_ptr))
    pairs = [(a, b) for a, b in zip(owner, nb) if b >= 0]
    assert pairs and all(colour[a] != colour[b] for a, b in pairs)


def _palette_colours_in(png):
    from PIL import Image

    with Image.open(png) as im:
        img = np.asarray(im.convert("RGB")).reshape(-1, 3)
        size = im.size
    present = {tuple(int(v) for v in c) for c in np.unique(img, axis=0)}
    rgb = {i: tuple(int(h[k:k + 2], 16) for k in (1, 3, 5)) for i, h in enumerate(PALETTE)}
    return {i for i, c in rgb.items() if c in present}, size


def test_plot_png_has_the_region_colours(tmp_path):
    proc = run("plot", str(sr.example_path()), "--box=-1,1", "--point=0.3,-0.2", "-o", str(tmp_path / "p.png"))
    assert proc.returncode == 0, proc.stderr
    found, size = _palette_colours_in(tmp_path / "p.png")
    assert size == (700, 600)
    cat = sr.enumerate_regions(sr.load_network(sr.example_path()), sr.Box(-1, 1))
    assert found == set(colouring(cat).tolist())


def test_plot_a_slice_of_a_five_input_net(tmp_path):
    net = random_net([5, 10, 8, 3], seed=45)
    sr.save_network(net, tmp_path / "n5.npz")
    origin, d1, d2 = np.zeros(5), np.eye(5)[0], np.array([0, 1.0, 1.0, 0, 0]) / np.sqrt(2)
    for name, v in (("o", origin), ("d1", d1), ("d2", d2)):
        np.save(tmp_path / f"{name}.npy", v)
    proc = run("plot", str(tmp_path / "n5.npz"), "--box=-1,1", "--slice", str(tmp_path / "o.npy"),
               str(tmp_path / "d1.npy"), str(tmp_path / "d2.npy"), "--point=0.2,0.1", "-o", str(tmp_path / "s.png"),
               "--json")
    assert proc.returncode == 0, proc.stderr
    regions = json.loads(proc.stdout)["regions"]
    # independent: the slice net's regions by polygon splitting
    W, b = net.layers[0]
    B = np.stack([d1, d2], axis=1)
    assert regions == len(polygon_regions([(W @ B, b)] + list(net.layers[1:]), SQUARE))
    found, _ = _palette_colours_in(tmp_path / "s.png")
    assert len(found) >= 3


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


def test_plot_refuses_a_3d_catalogue(tmp_path):
    net = random_net([3, 4, 1], seed=47)
    sr.save_network(net, tmp_path / "n3.npz")
    proc = run("plot", str(tmp_path / "n3.npz"), "--box=-1,1", "-o", str(tmp_path / "x.png"))
    assert proc.returncode == 1 and "2-D" in proc.stderr and not (tmp_path / "x.png").exists()
