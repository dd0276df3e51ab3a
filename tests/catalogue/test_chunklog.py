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
