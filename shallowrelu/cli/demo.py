"""The ``demo`` command: the whole path on the example network that ships with the package, in seconds."""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
from pathlib import Path

import numpy as np

from ..io import example_path, load_network, save_network
from ..io.files import atomic_save_npy, atomic_savez, atomic_write_text
from ..network import ReLUNetwork
from ..polytope import Box
from .common import EXIT_CHECK_FAILED, EXIT_OK, UsageError, summary_lines


def cmd_demo(args: argparse.Namespace) -> int:
    """``shallowrelu demo``: the whole path on the bundled example network (and the tour's files with ``--out``)."""
    if args.out is not None and Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"{args.out}: exists and is not a directory")
    from ..builder import build_shallow, check_equivalence
    from ..enumerator import enumerate_regions
    from ..explanation import explain, report_lines
    from ..milp import output_bounds
    from ..verification import METHODS, parse_vnnlib, verify

    path = example_path()
    net = load_network(path)
    print(f"example network {path.name}: {net.n_inputs} inputs, hidden {list(net.hidden_sizes)}, "
          f"{net.n_outputs} outputs; domain [-1, 1]^2")
    cat = enumerate_regions(net, Box(-1.0, 1.0))
    print("\n".join("  " + line for line in summary_lines("enumerate", cat)))
    x = np.array([[0.3, -0.2]])
    i = int(cat.region_of(x)[0])
    r = cat[i]
    print(f"  region of x = {x[0].tolist()}: #{i}, {len(r.G)} facets, y = A x + d = "
          f"{np.round(r.A @ x[0] + r.d, 6).tolist()} (network: {np.round(net(x)[0], 6).tolist()})")
    shallow = build_shallow(cat, mode="faces")
    sizes = shallow.sizes
    print(f"convert: shallow network {sizes['inputs']} -> {sizes['layer1']} -> {sizes['layer2']} -> "
          f"{sizes['outputs']}, {shallow.info['gates']} gates (faces mode), {sizes['inf_weights']} infinite weights")
    report = check_equivalence(net, shallow, cat)
    counts = sum(report.counts.values())
    print(f"check: max error {report.max_abs:.2g} over {counts} probes (vertices, facets, near-facet, random): "
          f"{'equivalent' if report.passed else 'DIFFERENT'}")
    print(f"  shallow network at x: {np.round(shallow(x)[0], 6).tolist()}")
    with tempfile.TemporaryDirectory() as tmp:
        graph = Path(tmp) / "shallow.onnx"
        shallow.to_onnx(graph)
        line = f"export: a standard ONNX graph, {graph.stat().st_size / 1e3:.0f} kB, passes onnx.checker"
        if importlib.util.find_spec("onnxruntime") is not None:
            import onnxruntime

            y = onnxruntime.InferenceSession(str(graph)).run(None, {"x": x})[0][0]
            line += f"; onnxruntime at x: {np.round(y, 6).tolist()}"
        print(line)
    print("explain:")
    print("\n".join("  " + line for line in report_lines(explain(cat, x[0], shallow))))
    top = output_bounds(net, Box(-1.0, 1.0), 0)
    print(f"bounds: y1 ranges over [{top.min:.6g}, {top.max:.6g}] on the box (MILP), max at "
          f"{np.round(top.argmax, 6).tolist()}")
    for threshold in (top.max - 0.01, top.max + 0.01):
        prop = parse_vnnlib("(declare-const X_0 Real) (declare-const X_1 Real) (declare-const Y_0 Real) "
                            "(declare-const Y_1 Real) (assert (>= X_0 -1)) (assert (<= X_0 1)) "
                            f"(assert (>= X_1 -1)) (assert (<= X_1 1)) (assert (>= Y_0 {threshold!r}))", "demo")
        answers = [verify(net, prop, samples=0, method=m) for m in METHODS]
        print(f"verify: y1 >= {threshold:.6g} somewhere? " + ", ".join(
            f"{a.verdict.value} by {m}" + (f" at {np.round(a.x, 6).tolist()}" if a.x is not None else "")
            for m, a in zip(METHODS, answers)))
    if args.out is not None:
        written = write_tour_files(Path(args.out), net, top.max + 0.01)
        print(f"wrote the files of the README's tour to {args.out}/: {', '.join(written)}")
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def write_tour_files(out: Path, net: ReLUNetwork, threshold: float) -> list[str]:
    """The files the README's tour names, written to ``out`` (made if missing).

    ``net.npz`` and ``net.onnx`` (the example network), ``prop.vnnlib``
    (``y1 >= threshold`` somewhere in ``[-1, 1]^2``), ``bounds.npz`` (a box
    for ``--bounds``), ``points.npy`` (three inputs for ``--points``), and a
    5-input network ``net5.npz`` with the slice vectors ``o.npy``,
    ``d1.npy``, ``d2.npy`` (the plane of its first two inputs).
    """
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    save_network(net, out / "net.npz")
    save_network(net, out / "net.onnx")
    atomic_write_text(out / "prop.vnnlib",
                      f"; y1 >= {threshold!r} somewhere in [-1, 1]^2? (the unsafe set: unsat means never)\n"
                      "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n"
                      "(declare-const Y_1 Real)\n(assert (>= X_0 -1))\n(assert (<= X_0 1))\n"
                      f"(assert (>= X_1 -1))\n(assert (<= X_1 1))\n(assert (>= Y_0 {threshold!r}))\n")
    atomic_savez(out / "bounds.npz", {"lo": np.array([-1.0, -0.5]), "hi": np.array([1.0, 0.5])})
    atomic_save_npy(out / "points.npy", np.array([[0.3, -0.2], [-0.5, 0.5], [0.9, 0.1]]))
    rng = np.random.default_rng(5)
    sizes = [5, 12, 12, 2]
    save_network(ReLUNetwork([(rng.normal(size=(b, a)) * np.sqrt(2.0 / a), rng.normal(size=b) * 0.1)
                              for a, b in zip(sizes[:-1], sizes[1:])], source="demo"), out / "net5.npz")
    for name, v in (("o", np.zeros(5)), ("d1", np.eye(5)[0]), ("d2", np.eye(5)[1])):
        atomic_save_npy(out / f"{name}.npy", v)
    return ["net.npz", "net.onnx", "prop.vnnlib", "bounds.npz", "points.npy", "net5.npz", "o.npy", "d1.npy",
            "d2.npy"]


def add_demo(sub) -> None:
    """The ``demo`` command."""
    p = sub.add_parser("demo", help="run the whole path on the example network that ships with the package",
                       description="Enumerate the example network, convert it to the shallow network, "
                                   "check the two agree, export it to ONNX, explain one input, find the exact "
                                   "output range and verify two properties by each of verify's five methods. With --out, "
                                   "also write the files the README's tour uses.",
                       epilog="example: shallowrelu demo --out tour && cd tour")
    p.add_argument("--out", metavar="DIR", help="also write the tour's files to DIR (made if missing)")
    p.set_defaults(func=cmd_demo)
