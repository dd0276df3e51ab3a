"""The commands about the shallow network: ``convert``, ``check`` and ``explain``.

Owns their options and what they print. A NET argument may be a network
(enumerated here over the domain options) or a saved catalogue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

from .. import limits
from ..choices import COUNTERFACTUAL_METHODS, SHALLOW_MODES
from .common import (EXIT_CHECK_FAILED, EXIT_OK, EXIT_TIME_LIMIT, NET_OR_CATALOGUE, add_max_memory, add_time_limit,
                     catalogue_for, emit, output_file, peak_memory_mb, points_from_args, progress_bar, subcommand)


def cmd_convert(args: argparse.Namespace) -> int:
    """``shallowrelu convert``: the shallow network of a catalogue."""
    from ..builder import build_shallow, choose_mode

    output_file(args, ".npz")
    _, cat = catalogue_for(args)
    start = time.perf_counter()
    mode, why = choose_mode(cat, args.mode)
    if args.mode == "auto":
        print(f"shallowrelu: {why}", file=sys.stderr)
    update, close = progress_bar(args.progress, " regions", len(cat))
    try:
        shallow = build_shallow(cat, mode=mode, progress=update)
    finally:
        close()
    shallow.save(args.output)
    seconds = time.perf_counter() - start
    sizes = shallow.sizes
    payload = {"mode": mode, "mode_reason": why, "regions": len(cat), "gates": shallow.info["gates"], "sizes": sizes,
               "faces_by_dim": shallow.info.get("faces_by_dim"), "seconds": seconds, "output": args.output,
               "file_bytes": os.path.getsize(args.output), "peak_rss_mb": peak_memory_mb()}
    faces = shallow.info.get("faces_by_dim")
    lines = [f"{Path(args.net).name}: {len(cat)} regions -> shallow network ({mode} mode, "
             f"{shallow.info['gates']} gates) in {seconds:.2f} s",
             f"layers: {sizes['inputs']} inputs -> {sizes['layer1']} -> {sizes['layer2']} -> {sizes['outputs']} "
             f"outputs; {sizes['inf_weights']} infinite weights, {sizes['nonzero_weights']} non-zero weights"]
    if faces:
        lines.append("faces by dimension: " + ", ".join(f"{k}-D {v}" for k, v in sorted(faces.items())))
    lines.append(f"wrote {args.output} ({payload['file_bytes'] / 1e6:.1f} MB); peak memory "
                 f"{payload['peak_rss_mb']:.0f} MB")
    emit(args, payload, lines)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """``shallowrelu check``: probe a shallow network against the deep one."""
    from ..builder import ShallowNetwork, check_equivalence

    net, cat = catalogue_for(args)
    shallow = ShallowNetwork.load(args.shallow)
    start = time.perf_counter()
    update, close = progress_bar(args.progress, " probes")
    try:
        report = check_equivalence(net, shallow, cat, progress=update)
    finally:
        close()
    payload = report.as_dict() | {"seconds": time.perf_counter() - start, "mode": shallow.mode,
                                  "peak_rss_mb": peak_memory_mb()}
    counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
    verdict = "equivalent" if report.passed else "DIFFERENT"
    lines = [f"{verdict}: max error {report.max_abs:.3g} ({report.max_rel:.3g} of output scale "
             f"{report.scale:.3g}; tolerance {report.tolerance:g}) at a {report.worst_kind} point",
             f"probes: {counts}; {payload['seconds']:.1f} s, peak memory {payload['peak_rss_mb']:.0f} MB"]
    emit(args, payload, lines)
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def cmd_export(args: argparse.Namespace) -> int:
    """``shallowrelu export``: a shallow network as a standard ONNX graph."""
    from ..builder import ShallowNetwork

    output_file(args, ".onnx")
    shallow = ShallowNetwork.load(args.shallow)
    start = time.perf_counter()
    shallow.to_onnx(args.output, opset=args.opset)
    seconds = time.perf_counter() - start
    size = os.path.getsize(args.output)
    payload = {"output": args.output, "gates": shallow.n_gates, "mode": shallow.mode, "seconds": seconds,
               "file_bytes": size, "peak_rss_mb": peak_memory_mb()}
    emit(args, payload, [f"{Path(args.shallow).name}: {shallow.n_gates} gates ({shallow.mode} mode) -> "
                         f"{args.output} ({size / 1e6:.1f} MB, checked by onnx.checker) in {seconds:.2f} s"])
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    """``shallowrelu explain``: the region, local model and facets of each point.

    ``--time-limit`` stops reading or enumerating the catalogue and building
    the gates as on Ctrl-C (nothing printed), and ends the searches for the
    nearest input with another label at the same deadline: the explanations
    are printed with the nearest found so far, said not proven (exit 124).
    """
    from ..builder import build_shallow
    from ..explanation import explain, report_lines

    end = None if args.time_limit is None else time.time() + args.time_limit
    with limits.time_limit(args.time_limit):
        net, cat = catalogue_for(args)
        X = points_from_args(args, net.n_inputs)
        if args.shallow is not None:
            from ..builder import ShallowNetwork

            shallow = ShallowNetwork.load(args.shallow)
            shallow.check_source(net, args.shallow)
        elif args.shallow_gates:
            from ..builder import choose_mode

            mode, why = choose_mode(cat)
            if mode != "faces":  # the gates of cells mode sum on boundaries: less to explain, still exact inside
                print(f"shallowrelu: gates from {why}", file=sys.stderr)
            shallow = build_shallow(cat, mode=mode)
        else:
            shallow = None
    try:
        with nullcontext() if end is None else limits.deadline(end):
            found = [explain(cat, x, shallow, norms=tuple(args.norms),
                             counterfactual_method=args.counterfactual_method) for x in X]
    except limits.OutOfTime:  # the MILP cross-check has no answer so far to give
        print(f"shallowrelu: time limit reached ({args.time_limit:g} s)", file=sys.stderr)
        return EXIT_TIME_LIMIT
    if args.json:
        payload = found[0].as_dict() if args.point is not None else {"explanations": [e.as_dict() for e in found]}
        print(json.dumps(payload, sort_keys=True))
    else:
        print("\n\n".join("\n".join(report_lines(e)) for e in found))
    if any(not s.proven for e in found for s in e.searches.values()):
        print(f"shallowrelu: time limit reached ({args.time_limit:g} s) in the search for the nearest input with "
              "another label; where it ran out, the nearest found so far is printed, not proven nearest",
              file=sys.stderr)
        return EXIT_TIME_LIMIT
    return EXIT_OK


def add_convert(sub) -> None:
    """The ``convert`` command and its options."""
    p = subcommand(sub, "convert", cmd_convert, "build the equivalent three-layer network with extended-real weights",
                   "Build the shallow network of NET (a network, enumerated over the domain options, "
                   "or a saved catalogue).",
                   "shallowrelu convert net.npz --box=-1,1 --mode faces -o shallow.npz", NET_OR_CATALOGUE)
    p.add_argument("--mode", choices=SHALLOW_MODES, default="auto",
                   help="faces: exact everywhere; cells: the paper's, sums on shared boundaries; auto (default): "
                        "faces where the estimate of its face lattice fits 300 s and half the memory budget, "
                        "else cells (said on stderr); faces over the memory budget is refused")
    p.add_argument("-o", "--output", metavar="SHALLOW", required=True,
                   help="write the shallow network here (.npz, added to a name without an extension)")
    add_time_limit(p)


def add_check(sub) -> None:
    """The ``check`` command and its options."""
    p = subcommand(sub, "check", cmd_check, "compare a shallow network with the deep network it came from",
                   "Probe random points, region centres, vertices, facet midpoints and points 1e-9 off "
                   "facets; exit 4 if the error exceeds the tolerance.",
                   "shallowrelu check net.npz shallow.npz --box=-1,1 --json", NET_OR_CATALOGUE)
    p.add_argument("shallow", metavar="SHALLOW", help="shallow network from convert")
    add_time_limit(p)


def add_export(sub) -> None:
    """The ``export`` command and its options."""
    p = sub.add_parser("export", help="write a shallow network as a standard ONNX graph",
                       description="Write SHALLOW as an ONNX graph (float64) that computes the extended-real "
                                   "network exactly: each -inf weight becomes a comparison and Where. onnxruntime "
                                   "and any ONNX consumer can run it; it passes onnx.checker's full check.",
                       epilog="example: shallowrelu export shallow.npz -o shallow.onnx")
    p.add_argument("shallow", metavar="SHALLOW", help="shallow network from convert")
    p.add_argument("-o", "--output", metavar="ONNX", required=True,
                   help="write the graph here (.onnx, added to a name without an extension)")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the newest the installed onnx knows; >= 18)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_max_memory(p)
    add_time_limit(p)
    p.set_defaults(func=cmd_export)


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
                   help="catalogue: nearest first over the regions, one LP/QP per region and label that could "
                        "be nearer than the nearest found (default); milp: one big-M MILP per other label, l_inf "
                        "only (an independent cross-check)")
    p.add_argument("--shallow-gates", action=argparse.BooleanOptionalAction, default=True,
                   help="also build the shallow network (auto mode) and report its open gates (default on)")
    p.add_argument("--shallow", metavar="SHALLOW", help="report the open gates of this saved shallow network "
                   "(from convert) instead of building one")
    p.add_argument("--time-limit", type=float, metavar="S",
                   help="seconds for the whole command: reading or enumerating the catalogue and building the gates "
                        "stop as on Ctrl-C; a search for the nearest input with another label still running then "
                        "gives the nearest found so far, printed as not proven nearest (exit 124 either way)")
