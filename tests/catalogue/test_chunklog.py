"""The chunk log an enumeration streams to: cut tails, appends after a crash, resume from it."""

import shallowrelu as sr
from shallowrelu.catalogue import ChunkLog
from tests.helpers import assert_chunks_agree, assert_same_table


def test_the_chunk_log_survives_a_cut_tail(net, full, tmp_path):
    log = ChunkLog(tmp_path / "c.part")
    sr.enumerate_regions(net, sr.Box(-1, 1), on_chunk=log.append)
    whole = ChunkLog.read(log.path)
    tasks = [i for i, *_ in whole.info["chunks"]]
    assert len(tasks) > 20 and whole.info["interrupted"]
    data = log.path.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, len(data) // 3 + 7):
        log.path.write_bytes(data[:cut])  # a crash in the middle of a record
        partial = ChunkLog.read(log.path)
        assert 0 < len(partial.info["chunks"]) < len(tasks)
        assert_chunks_agree(partial, full)
        # appending after the cut keeps the log readable
        more = ChunkLog(log.path, keep=True)
        resumed = sr.enumerate_regions(net, sr.Box(-1, 1), resume=partial, on_chunk=more.append)
        assert_same_table(resumed, full)
        for key in ("lps", "thin", "thin_min_radius", "exact_decisions", "below_resolution"):
            assert resumed.info[key] == full.info[key], key
        assert len(ChunkLog.read(log.path).info["chunks"]) == len(tasks)


def test_ctrl_c_while_a_chunk_is_appended_comes_after_the_record(net, tmp_path, monkeypatch):
    """Ctrl-C inside the zip writer left a handle open, and zipfile's ValueError on closing replaced the
    interrupt (the CLI then called it a failed resume, exit 1). Now the record is written whole, then
    the interrupt is raised."""
    import signal

    import numpy as np
    import pytest

    chunk = sr.enumerate_regions(net, sr.Box(-1, 1))
    chunk.info["chunk"] = [0]
    write_array = np.lib.format.write_array
    calls = []

    def interrupted_write(*args, **kwargs):
        if not calls:
            signal.raise_signal(signal.SIGINT)  # Python's default handler: KeyboardInterrupt
        calls.append(1)
        return write_array(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", interrupted_write)
    log = ChunkLog(tmp_path / "c.part")
    with pytest.raises(KeyboardInterrupt):
        log.append(chunk)
    assert ChunkLog.count(log.path) == 1
    assert len(ChunkLog.read(log.path)) == len(chunk)


def test_a_resume_reads_the_log_once_and_a_changed_log_is_read_again(net, tmp_path, monkeypatch):
    from shallowrelu.io import files

    log = ChunkLog(tmp_path / "c.part")
    sr.enumerate_regions(net, sr.Box(-1, 1), on_chunk=log.append)
    data = log.path.read_bytes()
    log.path.write_bytes(data[:len(data) - 5])  # a torn last record
    reads = []
    record = files._record
    monkeypatch.setattr(files, "_record", lambda f: reads.append(1) or record(f))
    logged = ChunkLog.read(log.path, regions=False)
    n = len(logged.info["chunks"])
    assert len(reads) == n + 1  # each record, then the torn one
    more = ChunkLog(log.path, keep=True)  # cuts the torn record without reading the log again
    assert len(reads) == n + 1
    assert ChunkLog.count(log.path) == n and len(reads) == n + 1
    assert log.path.stat().st_size < len(data) - 5
    # an append keeps the count without a read; a log changed otherwise is read again
    chunk = ChunkLog.read(log.path)
    chunk.info["chunk"] = [10**6]
    more.append(chunk)
    before = len(reads)
    assert ChunkLog.count(log.path) == n + 1 and len(reads) == before
    with open(log.path, "ab") as f:
        f.write(b"torn")
    assert ChunkLog.count(log.path) == n + 1 and len(reads) > before


def test_a_log_cut_inside_its_first_record_is_empty_not_an_error_when_asked(tmp_path):
    import pytest

    from shallowrelu.errors import CatalogueFormatError
    from shallowrelu.io.files import append_record

    path = tmp_path / "c.part"
    append_record(path, b"x" * 100)
    path.write_bytes(path.read_bytes()[:50])
    assert ChunkLog.read(path, empty=True) is None
    with pytest.raises(CatalogueFormatError, match="no complete chunk"):
        ChunkLog.read(path)
    (tmp_path / "junk.part").write_bytes(b"not a log")
    with pytest.raises(CatalogueFormatError, match="not a shallowrelu chunk log"):
        ChunkLog.read(tmp_path / "junk.part", empty=True)
