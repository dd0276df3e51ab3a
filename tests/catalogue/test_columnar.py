"""The Parquet catalogue: written a chunk at a time, read a row group or a column at a time, and readable
without shallowrelu."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

import shallowrelu as sr
from shallowrelu.enumerator import run as run_module
from shallowrelu.limits import MemoryBudgetError, set_memory_budget
from shallowrelu.testing.nets import random_net

FIELDS = ("patterns", "A", "d", "facet_ptr", "facet_G", "facet_g", "facet_layer", "facet_index", "facet_point",
          "facet_margin", "interior", "inradius")


@pytest.fixture(scope="module")
def whole():
    return sr.enumerate_regions(random_net([3, 10, 10, 2], seed=1), sr.Box(-1, 1))


def assert_same_regions(a, b):
    assert len(a) == len(b)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a.table, f), getattr(b.table, f), err_msg=f)


def test_a_parquet_catalogue_reads_back_the_regions_and_answers_without_loading_them(whole, tmp_path):
    whole.save(tmp_path / "c.parquet")
    cat = sr.Catalogue.load(tmp_path / "c.parquet")
    X = np.random.default_rng(0).uniform(-1, 1, (500, 3))
    np.testing.assert_array_equal(cat.region_of(X), whole.region_of(X))
    for i in (0, 17, len(whole) - 1):
        a, b = whole[i], cat[i]
        np.testing.assert_array_equal(a.pattern, b.pattern)
        np.testing.assert_array_equal(a.G, b.G)
        assert a.neurons == b.neurons and a.inradius == b.inradius
    assert {k: v for k, v in cat.summary().items() if k != "seconds"} == \
        {k: v for k, v in whole.summary().items() if k != "seconds"}
    assert cat._table is None  # every answer above came from row groups and columns
    assert_same_regions(whole, cat)


def test_the_file_is_read_by_pyarrow_alone(whole, tmp_path):
    whole.save(tmp_path / "c.parquet")
    table = pq.read_table(tmp_path / "c.parquet", columns=["inradius", "facet_g", "pattern"])
    np.testing.assert_array_equal(table.column("inradius").to_numpy(), whole.table.inradius)
    facets = [len(f) for f in table.column("facet_g").to_pylist()]
    np.testing.assert_array_equal(facets, np.diff(whole.table.facet_ptr))
    assert table.column("pattern")[5].as_py() == whole.table.patterns[5].tobytes()


def test_a_search_streamed_to_parquet_keeps_no_region_and_gives_the_catalogue(whole, tmp_path, monkeypatch):
    kept = []
    original = run_module.run_plan

    def spy(*args, **kwargs):
        run = original(*args, **kwargs)
        kept.append(sum(len(b.regions) for b in run.books.values() if b.regions is not None))
        return run
    monkeypatch.setattr("shallowrelu.enumerator.api.run_plan", spy)
    cat = sr.enumerate_regions(whole.network, sr.Box(-1, 1), to=tmp_path / "s.parquet")
    # only the few regions the plan found while cutting the tree stayed in memory, no chunk run
    assert len(kept) == 1 and kept[0] < len(whole) / 10
    assert cat._table is None and not (tmp_path / "s.parquet.part").exists()
    assert cat.info["complete"] and cat.info["certificate"]["facets_checked"] == \
        whole.info["certificate"]["facets_checked"]
    assert cat.info["certificate"]["volume_sum"] == pytest.approx(8.0, rel=1e-9)
    assert_same_regions(whole, cat)
    again = sr.enumerate_regions(whole.network, sr.Box(-1, 1), to=tmp_path / "j2.parquet", jobs=2)
    assert (tmp_path / "j2.parquet").read_bytes() == (tmp_path / "s.parquet").read_bytes()
    assert len(again) == len(whole)


def test_loading_every_region_past_the_memory_budget_is_refused_in_one_line(whole, tmp_path):
    whole.save(tmp_path / "c.parquet")
    cat = sr.Catalogue.load(tmp_path / "c.parquet")
    set_memory_budget(10_000)
    try:
        with pytest.raises(MemoryBudgetError, match=r"loading the 921 regions of .*c\.parquet"):
            cat.table
        assert len(cat) == 921 and cat[3].pattern.size  # row groups still serve
    finally:
        set_memory_budget(None)


def test_cli_enumerate_to_parquet_then_stats_and_convert_read_it(tmp_path):
    net = tmp_path / "n.npz"
    sr.save_network(random_net([2, 8, 8, 1], seed=3), net)

    def cli(*args):
        proc = subprocess.run([sys.executable, "-m", "shallowrelu", *args], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    out = cli("enumerate", str(net), "--box=-1,1", "-o", str(tmp_path / "c.parquet"), "--json")
    assert out["output"].endswith("c.parquet") and out["complete"]
    assert not (tmp_path / "c.parquet.part").exists()
    stats = cli("stats", str(tmp_path / "c.parquet"), "--json")
    assert stats["regions"] == out["regions"] == len(sr.enumerate_regions(sr.load_network(net), sr.Box(-1, 1)))
    conv = cli("convert", str(tmp_path / "c.parquet"), "-o", str(tmp_path / "s.npz"), "--json")
    assert conv["gates"] >= out["regions"]


def test_a_streamed_run_stopped_then_resumed_from_its_log_gives_the_catalogue(whole, tmp_path, monkeypatch):
    from shallowrelu import limits
    from shallowrelu.catalogue import ChunkLog
    from shallowrelu.enumerator import search

    out = tmp_path / "r.parquet"
    # a streamed run holds no finished chunk: it stops inside the first chunk of more than 20 regions
    monkeypatch.setattr(search, "_HELD_CHECK", 20)
    limits.set_memory_budget(1)
    try:
        cut = sr.enumerate_regions(whole.network, sr.Box(-1, 1), to=out)
    finally:
        limits.set_memory_budget(None)
    assert cut.info["interrupted"] and 0 < len(cut) < len(whole)
    log = ChunkLog.read(f"{out}.part", regions=False)
    assert len(log) == 0 and sum(c[1] for c in log.info["chunks"]) > 0  # what finished, but no region loaded
    done = sr.enumerate_regions(whole.network, sr.Box(-1, 1), to=out, resume=log)
    assert done.info["complete"] and not (tmp_path / "r.parquet.part").exists()
    assert_same_regions(whole, done)
