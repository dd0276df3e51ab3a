"""The commands about the shallow network: ``convert``, ``check`` and ``explain``.

Owns their options and what they print. A NET argument may be a network
(enumerated here over the domain options) or a saved catalogue.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..choices import COUNTERFACTUAL_METHODS, SHALLOW_MODES
from .common import (EXIT_CHECK_FAILED, EXIT_OK, NET_OR_CATALOGUE, catalogue_for, check_output, emit,
                     points_from_args, subcommand)


def cmd_convert(args: argparse.Namespace) -> int:
    from ..builder import build_shallow

    check_output(args.output)
    _, cat = catalogue_for(args)
    start = time.perf_counter()
    shallow = build_shallow(cat, mode=args.mode)
    shallow.save(args.output)
    seconds = time.perf_counter() - start
    sizes = shallow.sizes
    payload = {"mode": args.mode, "regions": len(cat), "gates": shallow.info["gates"], "sizes": sizes,
               "faces_by_dim": shallow.info.get("faces_by_dim"), "seconds": seconds, "output": args.output}
    faces = shallow.info.get("faces_by_dim")
    lines = [f"{Path(args.net).name}: {len(cat)} regions -> shallow network ({args.mode} mode, "
             f"{shallow.info['gates']} gates) in {seconds:.2f} s",
             f"layers: {sizes['inputs']} inputs -> {sizes['layer1']} -> {sizes['layer2']} -> {sizes['outputs']} "
             f"outputs; {sizes['inf_weights']} infinite weights, {sizes['nonzero_weights']} non-zero weights"]
    if faces:
        lines.append("faces by dimension: " + ", ".join(f"{k}-D {v}" for k, v in sorted(faces.items())))
    lines.append(f"wrote {args.output}")
    emit(args, payload, lines)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from ..builder import ShallowNetwork, check_equivalence

    net, cat = catalogue_for(args)
    shallow = ShallowNetwork.load(args.shallow)
    start = time.perf_counter()
    report = check_equivalence(net, shallow, cat)
    payload = report.as_dict() | {"seconds": time.perf_counter() - start, "mode": shallow.mode}
    counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
    verdict = "equivalent" if report.passed else "DIFFERENT"
    lines = [f"{verdict}: max error {report.max_abs:.3g} ({report.max_rel:.3g} of output scale "
             f"{report.scale:.3g}; tolerance {report.tolerance:g}) at a {report.worst_kind} point",
             f"probes: {counts}"]
    emit(args, payload, lines)
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def cmd_explain(args: argparse.Namespace) -> int:
    from ..builder import build_shallow
    from ..explain import explain, report_lines

    net, cat = catalogue_for(args)
    X = points_from_args(args, net.n_inputs)
    shallow = build_shallow(cat) if args.shallow_gates else None
    found = [explain(cat, x, shallow, norms=tuple(args.norms), counterfactual_method=args.counterfactual_method)
             for x in X]
    if args.json:
        payload = found[0].as_dict() if args.point is not None else {"explanations": [e.as_dict() for e in found]}
        print(json.dumps(payload, sort_keys=True))
    else:
        print("\n\n".join("\n".join(report_lines(e)) for e in found))
    return EXIT_OK


def add_convert(sub) -> None:
    """The ``convert`` command and its options."""
    p = subcommand(sub, "convert", cmd_convert, "build the equivalent three-layer network with extended-real weights",
                   "Build the shallow network of NET (a network, enumerated over the domain options, "
                   "or a saved catalogue).",
                   "shallowrelu convert net.npz --box=-1,1 --mode faces -o shallow.npz", NET_OR_CATALOGUE)
    p.add_argument("--mode", choices=SHALLOW_MODES, default="faces",
                   help="faces: exact everywhere (default); cells: the paper's, sums on shared boundaries")
    p.add_argument("-o", "--output", metavar="SHALLOW", required=True, help="write the shallow network here (.npz)")


def add_check(sub) -> None:
    """The ``check`` command and its options."""
    p = subcommand(sub, "check", cmd_check, "compare a shallow network with the deep network it came from",
                   "Probe random points, region centres, vertices, facet midpoints and points 1e-9 off "
                   "facets; exit 4 if the error exceeds the tolerance.",
                   "shallowrelu check net.npz shallow.npz --box=-1,1 --json", NET_OR_CATALOGUE)
    p.add_argument("shallow", metavar="SHALLOW", help="shallow network from convert")


def add_explain(sub) -> None:
    """The ``explain`` command and its options."""
    p = subcommand(sub, "explain", cmd_explain, "explain the output at an input: region, local model, facets, "
                   "counterfactual",
                   "For an input: its region and pattern, the local affine model and the largest input "
                   "contributions, the facets as inequalities naming their neurons (nearest first), the "
                   "largest ball on which the model holds, the nearest input with another label (several "
                   "outputs), and the open gates of the shallow network.",
                   "shallowrelu explain net.npz --box=-1,1 --point=0.3,-0.2 --json", NET_OR_CATALOGUE)
    p.add_argument("--point", metavar="X1,X2,...", help="one input (--point=-0.5,1 or --point -0.5,1)")
    p.add_argument("--points", metavar="FILE.npy", help="several inputs, one per row")
    p.add_argument("--norms", nargs="+", choices=("inf", "2"), default=["inf", "2"],
                   help="norms of the counterfactual search (default: inf 2)")
    p.add_argument("--counterfactual-method", choices=COUNTERFACTUAL_METHODS, default="catalogue",
                   help="catalogue: one LP/QP per region and label (default); milp: one big-M MILP per other "
                        "label, l_inf only (an independent cross-check)")
    p.add_argument("--shallow-gates", action=argparse.BooleanOptionalAction, default=True,
                   help="also build the shallow network and report its open gates (default on)")
