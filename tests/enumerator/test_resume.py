"""Parallel subtrees, interruption, streaming and resume: the catalogue never depends on how the run went."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import shallowrelu as sr
from shallowrelu.testing.nets import random_net
from tests.helpers import assert_chunks_agree, assert_same_table, wait_for_chunk


def test_the_run_is_cut_into_chunks(full):
    chunks = full.info["chunks"]
    assert len(chunks) > 20 and all(done for _, _, done, *_ in chunks)
    assert sum(count for _, count, *_ in chunks) == len(full)
    assert [c[0] for c in chunks] == sorted(c[0] for c in chunks)
    # each finished chunk keeps the work it took, so that a resumed run counts it
    counted = [c[3] for c in chunks if c[3]]
    assert counted and all({"search_lps", "thin", "exact", "below_resolution"} <= set(c) for c in counted)
    # plain JSON in the file: a subtree without thin regions has no thinnest radius, not infinity
    assert "Infinity" not in json.dumps(full.info) and all(c["thin_min_radius"] is None for c in counted
                                                             if c["thin"] == 0)


@pytest.mark.slow
def test_any_number_of_jobs_gives_the_same_bytes(net, full, tmp_path, pool_from_the_start):
    full.save(tmp_path / "one.npz")
    two = sr.enumerate_regions(net, sr.Box(-1, 1), jobs=2)
    assert pool_from_the_start and pool_from_the_start[0] > 10
    two.save(tmp_path / "two.npz")
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    assert two.info["lps"] == full.info["lps"] and two.info["complete"]


def _stop_after(k):
    def progress(regions, lps):
        if regions >= k:
            raise KeyboardInterrupt
    return progress


def test_interrupted_runs_resume_to_the_uninterrupted_catalogue(net, full):
    rng = np.random.default_rng(0)
    cat = None
    # stop at random moments, each time resuming the previous partial run
    for k in sorted(rng.integers(1, len(full), size=4)):
        cat = sr.enumerate_regions(net, sr.Box(-1, 1), resume=cat, progress=_stop_after(k))
        assert cat.info["interrupted"] and not cat.info["complete"] and len(cat) >= k
        assert_chunks_agree(cat, full)
    done = sr.enumerate_regions(net, sr.Box(-1, 1), resume=cat)
    assert not done.info["interrupted"] and done.info["complete"] and done.info["resumed"]
    assert_same_table(done, full)


@pytest.mark.parametrize("at", ["stream", "progress"])
def test_an_interrupt_between_subtrees_keeps_the_finished_one(net, full, at):
    """Ctrl-C landing after a subtree is finished, while it is streamed or reported (CI saw it 3 s into
    a CLI run), must neither empty that subtree nor leave it half-marked."""
    third = full.info["chunks"][2][0]
    streamed = []

    def on_chunk(chunk):
        streamed.append(chunk.info["chunk"])
        if at == "stream" and chunk.info["chunk"] == third:
            raise KeyboardInterrupt

    def progress(regions, lps):
        # the report after a finished subtree is the one whose count is a subtree boundary
        if at == "progress" and len(streamed) == 3 and regions == boundary:
            raise KeyboardInterrupt

    boundary = sum(count for _, count, *_ in full.info["chunks"][:3])
    cat = sr.enumerate_regions(net, sr.Box(-1, 1), on_chunk=on_chunk, progress=progress)
    assert cat.info["interrupted"]
    assert [c[:2] for c in cat.info["chunks"]] == [c[:2] for c in full.info["chunks"][:3]]
    assert all(done for _, _, done, *_ in cat.info["chunks"])
    assert_chunks_agree(cat, full)


_signal_at_fork: list[int] = []


def _raise_signal_after_fork() -> None:
    if _signal_at_fork:
        signal.raise_signal(_signal_at_fork.pop())


os.register_at_fork(after_in_parent=_raise_signal_after_fork)  # cannot be removed: idle unless armed


def test_an_interrupt_while_the_pool_forks_is_not_lost(net, full, pool_from_the_start):
    """Python drops an exception raised in an at-fork callback (logging registers one): a Ctrl-C landing
    while the pool forked its workers was printed as ignored and the run went on to the end (CI saw it)."""
    _signal_at_fork.append(signal.SIGINT)
    try:
        cat = sr.enumerate_regions(net, sr.Box(-1, 1), jobs=2)
    finally:
        _signal_at_fork.clear()
    assert pool_from_the_start
    assert cat.info["interrupted"] and not cat.info["complete"]
    assert len(cat) < len(full)
    assert_chunks_agree(cat, full)


def test_a_sigterm_sent_to_a_worker_just_forked_waits_for_it():
    """The pool stops its workers with SIGTERM. One sent before a worker set its handling was cleared with
    the fork's pending signals: the worker lived on and the pool's terminate waited for it forever (seen
    once in the suite). Blocked through the fork, it waits until the worker takes it, and ends the worker."""
    from shallowrelu.enumerator.interrupts import interrupts_held, worker_signals

    ready_r, ready_w = os.pipe()
    with interrupts_held():
        pid = os.fork()
        if pid == 0:  # the worker: SIGTERM blocked from the fork on, taken once it is set up as a worker is
            try:
                if signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, []):
                    os._exit(4)
                os.write(ready_w, b"1")
                end = time.monotonic() + 10
                while signal.SIGTERM not in signal.sigpending() and time.monotonic() < end:
                    time.sleep(0.001)
                worker_signals()
                time.sleep(10)
            finally:
                os._exit(3)  # reached only if the SIGTERM was lost
        os.read(ready_r, 1)
        os.kill(pid, signal.SIGTERM)
    os.close(ready_r)
    os.close(ready_w)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the parent's mask is back


def test_resume_refuses_other_options(net, full):
    partial = sr.enumerate_regions(net, sr.Box(-1, 1), progress=_stop_after(50))
    with pytest.raises(ValueError, match="other options: seed"):
        sr.enumerate_regions(net, sr.Box(-1, 1), seed=1, resume=partial)
    with pytest.raises(ValueError, match="another domain"):
        sr.enumerate_regions(net, sr.Box(-2, 2), resume=partial)


@pytest.mark.slow
def test_cli_killed_at_random_moments_resumes_to_the_same_catalogue(tmp_path):
    net = random_net([3, 30, 30, 1], seed=5)  # about 10 s of search: still running when signalled
    sr.save_network(net, tmp_path / "n.npz")
    out = tmp_path / "cat.npz"
    argv = [sys.executable, "-m", "shallowrelu", "enumerate", str(tmp_path / "n.npz"), "--box=-1,1", "-o", str(out)]
    rng = np.random.default_rng(1)
    for k, sig in enumerate([signal.SIGTERM, signal.SIGKILL, signal.SIGINT]):
        part = tmp_path / "cat.npz.part"
        before = part.stat().st_size if part.exists() else 0
        proc = subprocess.Popen(argv + (["--resume"] if k else []), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        wait_for_chunk(part, before, proc, extra=rng.random() * 0.5)
        start = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert time.monotonic() - start < 5.0
        if sig == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
        else:
            assert proc.returncode == (130 if sig == signal.SIGINT else 143), err
            assert "--resume" in err and "Traceback" not in err
            assert sr.Catalogue.load(out).info["interrupted"]
        assert (tmp_path / "cat.npz.part").exists()
    proc = subprocess.run(argv + ["--resume", "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "cat.npz.part").exists()
    assert_same_table(sr.Catalogue.load(out), sr.enumerate_regions(net, sr.Box(-1, 1), jobs=2))
    assert sorted(os.listdir(tmp_path)) == ["cat.npz", "n.npz"]


@pytest.mark.slow
def test_two_processes_from_a_script_read_on_stdin():
    # a pool must not need to re-import the main script (there is none here)
    script = ("import shallowrelu as sr\nfrom shallowrelu.testing.nets import random_net\n"
              "import shallowrelu.enumerator.run\nshallowrelu.enumerator.run._POOL_AFTER = 0.0\n"
              "cat = sr.enumerate_regions(random_net([3, 10, 10, 1], seed=4), sr.Box(-1, 1), jobs=2)\n"
              "print(len(cat), cat.info['complete'])\n")
    proc = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(__file__))
    assert proc.returncode == 0, proc.stderr
    count, complete = proc.stdout.split()
    assert complete == "True" and int(count) == len(sr.enumerate_regions(random_net([3, 10, 10, 1], seed=4),
                                                                         sr.Box(-1, 1)))


def test_an_interrupt_inside_a_compiled_kernel_stops_the_run_as_an_interrupt(net, full, monkeypatch):
    """A SIGTERM landing while numba loads a kernel from its cache comes out as a SystemError raised
    from the KeyboardInterrupt (CI saw it 3 s into a CLI run); the run must stop as interrupted."""
    from shallowrelu.polytope import compiled, kernels

    real, calls = compiled.split, []

    def split(*args):
        calls.append(1)
        if len(calls) == 200:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as exc:
                raise SystemError("CPUDispatcher returned a result with an exception set") from exc
        return real(*args)

    monkeypatch.setattr(compiled, "split", split)
    kernels.kernel.cache_clear()
    try:
        cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    finally:
        kernels.kernel.cache_clear()
    assert cat.info["interrupted"] and not cat.info["complete"]
    assert 0 < len(cat) < len(full)
    assert_chunks_agree(cat, full)


@pytest.mark.parametrize("saved", ["partial catalogue", "nothing"])
@pytest.mark.parametrize("log", [b"", b"SRLOG1\n\0\x10\0\0"])  # empty, or cut inside its first record's header
def test_resume_after_an_interrupt_before_any_subtree_finished(tmp_path, net, full, saved, log):
    """Ctrl-C while the tree is cut into subtrees or the pool starts leaves no complete chunk; --resume, as
    the message says, must still end with the uninterrupted catalogue (it said 'no complete chunk' before)."""
    from shallowrelu.cli import main

    sr.save_network(net, tmp_path / "n.npz")
    out = tmp_path / "cat.npz"
    (tmp_path / "cat.npz.part").write_bytes(log)
    if saved == "partial catalogue":
        stopped = sr.enumerate_regions(net, sr.Box(-1, 1), progress=_stop_after(3))
        assert stopped.info["interrupted"] and not all(done for _, _, done, *_ in stopped.info["chunks"])
        stopped.save(out)
    argv = ["enumerate", str(tmp_path / "n.npz"), "--box=-1,1", "-o", str(out), "--jobs", "1"]
    assert main(argv + ["--resume"]) == 0
    assert not (tmp_path / "cat.npz.part").exists()
    resumed = sr.Catalogue.load(out)
    assert resumed.info["complete"] and not resumed.info["interrupted"]
    assert_same_table(resumed, full)


@pytest.mark.parametrize("where", ["between chunks", "inside a chunk"])
def test_the_memory_budget_stops_the_search_keeping_what_it_found(net, full, monkeypatch, where):
    from shallowrelu import limits
    from shallowrelu.enumerator import plan, search

    if where == "inside a chunk":
        monkeypatch.setattr(plan, "_CHUNKS", 1)  # the whole search is one chunk (its root)
        monkeypatch.setattr(search, "_HELD_CHECK", 50)  # checked after every 50 regions
    limits.set_memory_budget(1)  # any process holds more than a byte
    try:
        cut = sr.enumerate_regions(net, sr.Box(-1, 1))
    finally:
        limits.set_memory_budget(None)
    assert cut.info["interrupted"] and not cut.info["complete"]
    assert "holds" in cut.info["stop_reason"] and "--max-memory" in cut.info["stop_reason"]
    assert limits.stop_reason() == "memory budget"
    assert 0 < len(cut) < len(full) and (len(cut) >= 50 or where == "between chunks")
    assert_same_table(sr.enumerate_regions(net, sr.Box(-1, 1), resume=cut), full)


def test_cli_enumerate_over_the_memory_budget_says_so_and_saves_what_it_found(tmp_path):
    net = tmp_path / "n.npz"
    sr.save_network(random_net([3, 12, 12, 1], seed=2), net)
    out = tmp_path / "c.npz"
    proc = subprocess.run([sys.executable, "-m", "shallowrelu", "enumerate", str(net), "--box=-1,1", "-o", str(out),
                           "--max-memory", "1M"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "memory budget reached (the run, " in proc.stderr and "the budget is 1 MiB (--max-memory)" in proc.stderr
    cat = sr.Catalogue.load(out)
    assert cat.info["interrupted"] and len(cat) > 0
