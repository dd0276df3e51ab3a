"""The README's tour, run literally: every command of its shell block, then its Python block."""

import re
import subprocess
import sys

from tests.helpers import ROOT


def _blocks(kind: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index("## A tour")
    end = text.index("\n## ", start + 1)
    return re.findall(rf"```{kind}\n(.*?)```", text[start:end], flags=re.S)


def test_every_command_of_the_tour_runs_as_written(tmp_path):
    shell = next(b for b in _blocks("") if b.lstrip().startswith("shallowrelu demo"))
    bin_dir = str(ROOT / ".venv" / "bin") if (ROOT / ".venv" / "bin" / "shallowrelu").exists() else None
    env_path = f"{bin_dir}:" if bin_dir else ""
    # one shell, so that `cd tour` carries on; every command must succeed
    script = "set -e\n" + "\n".join(
        f"echo '>>> {line.split('#')[0].strip()}'\n{line.split('#')[0].strip()}" for line in shell.splitlines()
        if line.split("#")[0].strip())
    proc = subprocess.run(["bash", "-c", f'export PATH="{env_path}$(dirname {sys.executable}):$PATH"\n' + script],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    tour = tmp_path / "tour"
    for made in ("cat.npz", "shallow.npz", "shallow.onnx", "regions.csv", "regions.png", "slice.png", "result.txt"):
        assert (tour / made).stat().st_size > 0, made
    assert (tour / "result.txt").read_text().strip() == "unsat"  # the property the demo wrote holds
    assert "equivalent" in proc.stdout
    # the Python block, in the same folder
    (python,) = _blocks("python")
    proc = subprocess.run([sys.executable, "-c", python], cwd=tour, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, *_, last = proc.stdout.strip().splitlines()
    assert first.startswith("Catalogue(105 regions of a 2-8-8-2 network")
    verdict, passed, top = last.split()
    assert "unsat" in verdict.lower() and passed == "True" and float(top) > 0
