"""What `pip install shallowrelu` gives: the wheel and sdist build, and the wheel alone runs the fast path.

The wheel goes into a fresh venv with no extras, whose package folder cannot
hold numba's cache (its ``__pycache__`` is a file, and the folder is made
read-only), so the compiled kernels must go to the user's cache.
"""

import json
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

import shallowrelu as sr
from shallowrelu.testing.nets import random_net
from tests.helpers import DATA, ROOT

NOTICE = "compiling the numba kernels"


def run(cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd}: {proc.stderr[-2000:]}"
    return proc


def _writable(folder: Path, writable: bool) -> None:
    """Give or take away write permission on ``folder`` and everything in it."""
    write = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for parent, _, files in os.walk(folder):
        for name in files + [""]:
            p = Path(parent) / name
            p.chmod(p.stat().st_mode | stat.S_IWUSR if writable else p.stat().st_mode & ~write)


@pytest.mark.slow
def test_wheel_and_sdist_build_and_the_wheel_runs_in_a_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(dist), str(ROOT)])
    wheel, = dist.glob("shallowrelu-*.whl")
    sdist, = dist.glob("shallowrelu-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    for member in ("shallowrelu/polytope/compiled.py", "shallowrelu/io/onnx_export.py", "shallowrelu/cli/main.py",
                   "shallowrelu/data/example.npz"):
        assert member in names, member
    with tarfile.open(sdist) as tar:
        assert any(n.endswith("/pyproject.toml") for n in tar.getnames())
        assert any(n.endswith("/shallowrelu/builder/shallow.py") for n in tar.getnames())

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    py, cli = venv / "bin" / "python", venv / "bin" / "shallowrelu"
    run([str(py), "-m", "pip", "install", "-q", str(wheel)])
    metadata = run([str(py), "-c", "import importlib.metadata as m; print(m.requires('shallowrelu'))"]).stdout
    assert "numba" in metadata and "onnx" in metadata
    package = Path(run([str(py), "-c", "import shallowrelu, os; print(os.path.dirname(shallowrelu.__file__))"],
                       cwd=tmp_path).stdout.strip())
    pycache = package / "polytope" / "__pycache__"
    for f in pycache.iterdir():
        f.unlink()
    pycache.rmdir()
    pycache.write_text("not a folder: numba cannot cache here")
    _writable(package, False)
    cache = tmp_path / "user-cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")} | {
        "HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(cache)}

    assert run([str(cli), "--version"], env=env).stdout.strip() == f"shallowrelu {version('shallowrelu')}"
    net = tmp_path / "net4.npz"
    sr.save_network(random_net([4, 7, 7, 1], seed=2), net)
    first = run([str(cli), "enumerate", str(net), "--box=-1,1", "--json", "--jobs", "1"], env=env, cwd=tmp_path)
    again = run([str(cli), "enumerate", str(net), "--box=-1,1", "--json", "--jobs", "1"], env=env, cwd=tmp_path)
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    assert a["regions"] > 100 and a["lps"] == 1   # the root's LP only: the compiled kernels served every region
    assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    assert first.stderr.count(NOTICE) == 1 and NOTICE not in again.stderr
    assert list(cache.rglob("*.nbi")), "numba's cache went to the user's cache folder"

    verdict = run([str(cli), "verify", str(DATA / "test_small.onnx"), str(DATA / "test_small.vnnlib"), "--json"],
                  env=env, cwd=tmp_path)
    assert json.loads(verdict.stdout)["verdict"] == "unsat"
    _writable(package, True)   # let pytest clean the temporary folder


def test_a_numba_that_does_not_load_leaves_the_numpy_path(tmp_path):
    net = tmp_path / "net3.npz"
    sr.save_network(random_net([3, 6, 6, 1], seed=4), net)
    broken = tmp_path / "broken" / "numba"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('numba was built for another numpy')\n")
    env = os.environ | {"PYTHONPATH": str(broken.parent)}
    proc = run([sys.executable, "-m", "shallowrelu", "enumerate", str(net), "--box=-1,1", "--json", "--jobs", "1"],
               env=env, cwd=tmp_path)
    found = json.loads(proc.stdout)
    assert found["lps"] == found["regions"] + 1     # one LP per region: the numpy path
    assert proc.stderr.count("numba does not load (ImportError: numba was built for another numpy)") == 1
    assert found["regions"] == len(sr.enumerate_regions(sr.load_network(net), sr.Box(-1, 1)))
