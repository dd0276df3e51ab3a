"""Chunks that hand the rest of their subtree on: bounded chunks, the same catalogue however the run went."""

import dataclasses

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.catalogue import ChunkLog
from shallowrelu.enumerator import search
from shallowrelu.enumerator.node import Subtree
from tests.helpers import assert_chunks_agree, assert_same_table

SMALL = 20  # regions per chunk before it hands on the rest: the test nets' largest chunks hold over a hundred


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(search, "CHUNK_REGIONS", SMALL)


@pytest.fixture(scope="module")
def split(net):
    """``net``'s catalogue over [-1, 1]^3 with chunks of at most SMALL regions, from one uninterrupted run."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(search, "CHUNK_REGIONS", SMALL)
        return sr.enumerate_regions(net, sr.Box(-1, 1))


def test_no_chunk_holds_more_than_its_share_and_the_regions_are_those_of_whole_chunks(split, full):
    chunks = split.info["chunks"]
    assert max(count for _, count, *_ in chunks) <= SMALL < max(count for _, count, *_ in full.info["chunks"])
    handed = [c for c in chunks if c[4]]
    assert handed and all(len(c[0]) >= 1 for c in chunks) and max(len(c[0]) for c in chunks) >= 3
    ids = [tuple(c[0]) for c in chunks]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for cid, _, done, _, parts in chunks:  # every part a chunk handed on finished, and is listed
        assert done and all((*cid, j) in ids for j in range(1, parts + 1))
    # the same regions in the same depth-first order as with whole chunks, and certified complete
    np.testing.assert_array_equal(split.table.patterns, full.table.patterns)
    assert split.info["complete"] and split.info["chunk_regions"] == SMALL and len(split) == len(full)


@pytest.mark.slow
def test_parts_run_on_workers_give_the_same_bytes(net, split, small_chunks, tmp_path, pool_from_the_start):
    two = sr.enumerate_regions(net, sr.Box(-1, 1), jobs=2)
    assert pool_from_the_start and pool_from_the_start[0] > len(net.layers) * 10
    split.save(tmp_path / "one.npz")
    two.save(tmp_path / "two.npz")
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()


def _stop_after(k):
    def progress(regions, lps):
        if regions >= k:
            raise KeyboardInterrupt
    return progress


@pytest.mark.parametrize("frontier", ["kept", "lost"])
def test_interrupted_runs_resume_through_the_parts_to_the_same_catalogue(net, split, small_chunks, frontier):
    """With the open parts at hand the finished ones are kept; without them (a catalogue file holds
    none) a plan chunk with open parts is searched again whole. Either way the catalogue is the same."""
    rng = np.random.default_rng(1)
    cat = None
    for k in sorted(rng.integers(SMALL, len(split), size=4)):
        cat = sr.enumerate_regions(net, sr.Box(-1, 1), resume=cat, progress=_stop_after(k))
        assert cat.info["interrupted"] and len(cat) >= k
        assert cat.frontier and all(isinstance(c, tuple) for c in cat.frontier)
        assert_chunks_agree(cat, split)
        if frontier == "lost":
            cat.frontier = {}
    done = sr.enumerate_regions(net, sr.Box(-1, 1), resume=cat)
    assert done.info["complete"] and not done.frontier
    assert_same_table(done, split)
    assert done.info["chunks"] == split.info["chunks"]


def test_a_subtree_goes_through_the_log_s_arrays_exactly(net):
    s = sr.enumerator.search.Search(net, sr.enumerator.api.affine_hull(sr.Box(-1, 1), 3, sr.Tolerances()),
                                    sr.Tolerances(), samples=16, seed=0)
    root = s.root()
    kids = s.expand(root)
    subtree = Subtree((root, *kids), ((1, 3), (2, 0)))
    back = Subtree.from_arrays(subtree.arrays())
    assert back.sources == subtree.sources and len(back.nodes) == 3
    for a, b in zip(subtree.nodes, back.nodes):
        for f in dataclasses.fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            assert type(x) is type(y) or isinstance(x, np.ndarray), f.name
            np.testing.assert_array_equal(np.asarray(x, dtype=object if x is None else None), np.asarray(y), f.name)


def test_a_log_cut_anywhere_resumes_through_the_parts(net, split, small_chunks, tmp_path):
    log = ChunkLog(tmp_path / "c.part")
    sr.enumerate_regions(net, sr.Box(-1, 1), on_chunk=log.append)
    whole = ChunkLog.read(log.path)
    assert not whole.frontier and whole.info["chunks"] == split.info["chunks"]  # every part logged: none open
    data, opened = log.path.read_bytes(), []
    for cut in (len(data) // 4, len(data) // 2 + 5, len(data) - 1):
        log.path.write_bytes(data[:cut])
        partial = ChunkLog.read(log.path)
        logged = {tuple(c[0]) for c in partial.info["chunks"]}
        assert not logged & set(partial.frontier)
        opened.append(len(partial.frontier))
        assert_chunks_agree(partial, split)
        resumed = sr.enumerate_regions(net, sr.Box(-1, 1), resume=partial, on_chunk=ChunkLog(log.path, True).append)
        assert_same_table(resumed, split)
        assert ChunkLog.read(log.path).info["chunks"] == split.info["chunks"]
    assert max(opened) > 0


def test_a_streamed_parquet_run_resumes_from_its_log_through_the_parts(net, split, small_chunks, tmp_path):
    out = tmp_path / "s.parquet"
    cut = sr.enumerate_regions(net, sr.Box(-1, 1), to=out, progress=_stop_after(len(split) // 2))
    assert cut.info["interrupted"] and cut.frontier
    log = ChunkLog.read(f"{out}.part", regions=False)
    assert len(log) == 0 and log.frontier
    done = sr.enumerate_regions(net, sr.Box(-1, 1), to=out, resume=log)
    assert done.info["complete"] and not (tmp_path / "s.parquet.part").exists()
    np.testing.assert_array_equal(np.concatenate([t.patterns for t in done.chunks()]), split.table.patterns)
    assert done.info["chunks"] == split.info["chunks"]


def test_a_catalogue_made_with_other_chunk_sizes_is_not_resumed(net, split):
    cut = sr.enumerate_regions(net, sr.Box(-1, 1), progress=_stop_after(10))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(search, "CHUNK_REGIONS", SMALL)
        with pytest.raises(ValueError, match="other options: chunk_regions"):
            sr.enumerate_regions(net, sr.Box(-1, 1), resume=cut)
