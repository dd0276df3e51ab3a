"""2-D pictures of the regions, checked against the catalogue and polygon splitting."""

import json

import numpy as np

import shallowrelu as sr
from shallowrelu.plot import PALETTE, colouring, plot_partition
from shallowrelu.testing.nets import random_net
from shallowrelu.testing.oracles import polygon_regions
from tests.helpers import SQUARE
from tests.helpers import run_cli as run


def test_colouring_gives_neighbours_different_colours():
    cat = sr.enumerate_regions(random_net([2, 8, 8, 1], seed=44), sr.Box(-1, 1))
    colour = colouring(cat)
    nb = cat.neighbours()
    owner = np.repeat(np.arange(len(cat)), np.diff(cat.table.facet_ptr))
    pairs = [(a, b) for a, b in zip(owner, nb) if b >= 0]
    assert pairs and all(colour[a] != colour[b] for a, b in pairs)


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


def test_plot_refuses_a_3d_catalogue(tmp_path):
    net = random_net([3, 4, 1], seed=47)
    sr.save_network(net, tmp_path / "n3.npz")
    proc = run("plot", str(tmp_path / "n3.npz"), "--box=-1,1", "-o", str(tmp_path / "x.png"))
    assert proc.returncode == 1 and "2-D" in proc.stderr and not (tmp_path / "x.png").exists()


def test_a_parquet_catalogue_is_drawn_from_its_chunks_as_the_one_in_memory(tmp_path):
    net, box = random_net([2, 8, 6, 3], seed=5), sr.Box(-1, 1)
    sr.enumerate_regions(net, box, to=tmp_path / "c.parquet")  # a row group per chunk of the search
    cat, whole = sr.Catalogue.load(tmp_path / "c.parquet"), sr.enumerate_regions(net, box)
    assert len(cat._file.group_sizes) > 1
    np.testing.assert_array_equal(colouring(cat), colouring(whole))
    e = sr.explain(whole, np.array([0.3, -0.2]))  # a point, its ball and counterfactuals drawn over the regions
    for options in ({}, {"output": 2, "explanation": e}):
        plot_partition(cat, tmp_path / "disk.png", **options)
        plot_partition(whole, tmp_path / "memory.png", **options)
        assert (tmp_path / "disk.png").read_bytes() == (tmp_path / "memory.png").read_bytes(), options
    assert cat._table is None  # drawn from row groups and columns


def test_cli_plot_of_a_parquet_catalogue_within_a_budget_its_regions_exceed(tmp_path):
    net, box = random_net([2, 8, 8, 1], seed=3), sr.Box(-1, 1)
    sr.enumerate_regions(net, box, to=tmp_path / "c.parquet")
    sr.enumerate_regions(net, box).save(tmp_path / "c.npz")
    assert 2 * sr.Catalogue.load(tmp_path / "c.parquet")._file.nbytes() > 20 * 1024  # loading all is refused
    for options in ([], ["--color-by-output", "0"]):
        for name in ("c.parquet", "c.npz"):
            proc = run("plot", str(tmp_path / name), *options, "-o", str(tmp_path / f"{name}.png"), "--max-memory",
                       "20K")
            assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "c.parquet.png").read_bytes() == (tmp_path / "c.npz.png").read_bytes(), options


def _palette_colours_in(png):
    from PIL import Image

    with Image.open(png) as im:
        img = np.asarray(im.convert("RGB")).reshape(-1, 3)
        size = im.size
    present = {tuple(int(v) for v in c) for c in np.unique(img, axis=0)}
    rgb = {i: tuple(int(h[k:k + 2], 16) for k in (1, 3, 5)) for i, h in enumerate(PALETTE)}
    return {i for i, c in rgb.items() if c in present}, size
