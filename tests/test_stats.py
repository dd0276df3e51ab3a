"""Research statistics and 2-D pictures, checked against independent computations."""

import csv
import json

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.stats import catalogue_stats, region_rows, report_lines, write_table
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




def _with_dead_and_saturated(n_dead: int, seed: int) -> sr.ReLUNetwork:
    """A 2-input classifier whose first layer has ``n_dead`` neurons with biases far past the box's reach
    (never split there) besides a few that cut it."""
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(n_dead + 6, 2))
    b1 = np.concatenate([rng.choice([-50.0, 50.0], size=n_dead), rng.normal(size=6) * 0.3])
    W2, b2 = rng.normal(size=(5, n_dead + 6)) / np.sqrt(n_dead + 6), rng.normal(size=5) * 0.1
    return sr.ReLUNetwork([(W1, b1), (W2, b2), (rng.normal(size=(3, 5)), np.zeros(3))],
                          labels=("cat", "dog", "bird"))


def test_many_never_split_neurons_make_short_lines_and_the_json_keeps_them_all(tmp_path):
    net = _with_dead_and_saturated(509, seed=47)
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    st = catalogue_stats(cat)
    assert len(st.never_split) >= 509
    lines = report_lines("n.npz", cat, st)
    assert max(len(line) for line in lines) <= 200
    assert f"neurons never split: {len(st.never_split)} of {net.n_neurons}" in lines[6]
    first = [i for layer, i in st.never_split if layer == 1]
    assert lines[7].startswith(f"  layer 1: {len(first)} of {net.hidden_sizes[0]}: {first[0]}, {first[1]}, ")
    assert lines[7].endswith("more)")
    assert st.as_dict()["never_split"] == [f"layer {l} neuron {i}" for l, i in st.never_split]
    sr.save_network(net, tmp_path / "n.npz")
    proc = run("stats", str(tmp_path / "n.npz"), "--box=-1,1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["never_split"] == st.as_dict()["never_split"]


@pytest.mark.parametrize("net", [random_net([2, 5, 6, 4], seed=48, bias=0.3), _with_dead_and_saturated(13, seed=49)],
                         ids=["11 neurons", "labels"])
def test_figures_from_packed_patterns_and_region_maps_are_those_of_the_unpacked_patterns(net):
    # the figures a forward pass over every centre and a (regions, neurons) array gave
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    st = catalogue_stats(cat)
    P = cat.patterns()
    per_layer = [len({tuple(p[:k]) for p in P}) for k in np.cumsum(net.hidden_sizes)]
    assert st.regions_per_layer == per_layer and per_layer[0] < per_layer[-1]
    ids = net.neuron_ids()
    assert st.never_split == [ids[k] for k in range(P.shape[1]) if P[:, k].all() or not P[:, k].any()]
    labels = net.labels_of(net(cat.hull.to_x(cat.table.interior)))
    for name, entry in st.per_label.items():
        mine = [v for v, label in zip(st.volumes, labels) if label == name]
        assert entry["regions"] == len(mine) and entry["volume"] == pytest.approx(sum(mine), abs=1e-15)
    assert sum(e["regions"] for e in st.per_label.values()) == len(cat)
    assert [p for cols in region_rows(cat, st) for p in cols["pattern"]] == \
        ["".join("1" if b else "0" for b in p) for p in P]


def _streamed(net: sr.ReLUNetwork, domain, path) -> tuple[sr.Catalogue, sr.Catalogue]:
    """The catalogue of ``net`` over ``domain`` streamed to the Parquet file ``path`` (a row group per chunk of
    the search) and loaded, and the same catalogue in memory."""
    sr.enumerate_regions(net, domain, to=path)
    cat = sr.Catalogue.load(path)
    assert len(cat._file.group_sizes) > 1  # several chunks to read one after the other
    return cat, sr.enumerate_regions(net, domain)


@pytest.mark.parametrize(("layers", "domain"), [([2, 8, 6, 3], sr.Box(-1, 1)), ([5, 6, 2], sr.Box(-1, 1)),
                                                ([2, 6, 5, 2], None)],
                         ids=["2-D classifier", "5-D, volumes sampled", "unbounded"])
def test_stats_of_a_parquet_catalogue_read_it_a_chunk_at_a_time_and_are_those_in_memory(layers, domain, tmp_path):
    import pyarrow.parquet as pq

    cat, whole = _streamed(random_net(layers, seed=5), domain, tmp_path / "c.parquet")
    st, ref = catalogue_stats(cat, samples=20_000), catalogue_stats(whole, samples=20_000)
    assert st.as_dict() == ref.as_dict()
    for name in ("volumes", "facets", "inradius"):
        np.testing.assert_array_equal(getattr(st, name), getattr(ref, name), err_msg=name)
    assert report_lines("c", cat, st, "t.csv") == report_lines("c", whole, ref, "t.csv")
    for suffix in (".csv", ".parquet"):
        write_table(tmp_path / f"disk{suffix}", cat, st)
        write_table(tmp_path / f"memory{suffix}", whole, ref)
    assert (tmp_path / "disk.csv").read_bytes() == (tmp_path / "memory.csv").read_bytes()
    disk, memory = pq.read_table(tmp_path / "disk.parquet"), pq.read_table(tmp_path / "memory.parquet")
    assert disk.schema == memory.schema and repr(disk.to_pydict()) == repr(memory.to_pydict())  # repr: nan == nan
    assert cat._table is None  # every figure and row came from row groups and columns


def test_cli_stats_of_a_parquet_catalogue_within_a_budget_its_regions_exceed(tmp_path):
    cat, whole = _streamed(random_net([2, 8, 6, 3], seed=5), sr.Box(-1, 1), tmp_path / "c.parquet")
    whole.save(tmp_path / "c.npz")
    assert 2 * cat._file.nbytes() > 20 * 1024  # loading every region is refused within --max-memory 20K
    out = {}
    for name in ("c.parquet", "c.npz"):
        proc = run("stats", str(tmp_path / name), "--json", "-o", str(tmp_path / f"{name}.csv"), "--max-memory",
                   "20K")
        assert proc.returncode == 0, proc.stderr
        out[name] = json.loads(proc.stdout)
        out[name].pop("output")
    assert out["c.parquet"] == out["c.npz"] and out["c.npz"]["regions"] == len(whole)
    assert (tmp_path / "c.parquet.csv").read_bytes() == (tmp_path / "c.npz.csv").read_bytes()
