"""The commands about the regions themselves: ``enumerate``, ``stats`` and ``plot``.

Owns their options and what they print; resuming an interrupted
``enumerate -o CAT`` from ``CAT.part`` (or ``CAT``) is decided here. The work
is the public API's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..io import load_network
from ..network import ReLUNetwork

if TYPE_CHECKING:
    from ..catalogue import Catalogue
from .common import (EXIT_INTERRUPTED, EXIT_OK, EXIT_SOLVER, NET_OR_CATALOGUE, PART_SUFFIX, UsageError,
                     catalogue_for, check_output, domain_from_args, emit, enumerate_from_args, floats,
                     network_or_catalogue, npy_vector, search_options, subcommand, summary_lines)


def cmd_enumerate(args: argparse.Namespace) -> int:
    """``shallowrelu enumerate``: every region over the domain, to a catalogue."""
    check_output(args.output)
    net = load_network(args.net)
    if args.method == "milp":
        return _enumerate_milp(net, args)
    resume = _resume_from(args) if args.resume else None
    part = args.output + PART_SUFFIX if args.output else None
    cat = enumerate_from_args(net, args, resume, part)
    interrupted = bool(cat.info.get("interrupted"))
    if args.output:
        cat.save(args.output)
        if not interrupted:  # the catalogue holds everything the log had
            Path(part).unlink(missing_ok=True)
    payload = cat.summary() | {"certificate": cat.info.get("certificate"), "output": args.output}
    lines = summary_lines(Path(args.net).name, cat)
    if args.output:
        lines.append(f"wrote {args.output}")
    emit(args, payload, lines)
    if cat.info.get("unresolved"):
        print(f"shallowrelu: {cat.info['unresolved']} chunks unresolved ({cat.info['unresolved_error']}); "
              "their regions are missing and the catalogue is marked incomplete", file=sys.stderr)
        return EXIT_SOLVER
    if interrupted:
        if args.output:
            print(f"shallowrelu: interrupted after {len(cat)} regions; they are saved to {args.output} "
                  f"(finished chunks also in {args.output}{PART_SUFFIX}); to continue, run the same command "
                  "with --resume", file=sys.stderr)
        else:
            print(f"shallowrelu: interrupted after {len(cat)} regions; they are not saved (no -o given)",
                  file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _resume_from(args: argparse.Namespace) -> Catalogue | None:
    """The interrupted run behind ``-o``: its chunk log, else the catalogue it saved, else None (start again).

    A run stopped before its first chunk finished (while the tree was cut
    into chunks, or the pool started) leaves a log with no complete chunk,
    and a partial catalogue or none: what it found is redone, so the end is
    the catalogue an uninterrupted run gives.
    """
    from ..catalogue import Catalogue, ChunkLog

    if not args.output:
        raise UsageError("--resume continues the run that writes the -o file; give -o")
    part = Path(args.output + PART_SUFFIX)
    if ChunkLog.count(part):
        return ChunkLog.read(part)
    if Path(args.output).exists():
        return Catalogue.load(args.output)
    if part.exists():
        return None
    raise UsageError(f"{args.output}: nothing to resume (neither it nor {part.name} exists)")


def _enumerate_milp(net: ReLUNetwork, args: argparse.Namespace) -> int:
    """``enumerate --method milp``: count the patterns by MILP with no-good cuts."""
    from ..milp import count_patterns

    search_options(args)
    if args.output:
        raise UsageError("-o writes a catalogue, which the tree search builds; drop -o with --method milp")
    res = count_patterns(net, domain_from_args(args), time_limit=args.time_limit)
    payload = {"method": "milp", "regions": res.count, "status": res.status, "solves": res.solves,
               "seconds": res.seconds,
               "patterns": ["".join("1" if b else "0" for b in p) for p in res.patterns],
               "points": res.points.tolist()}
    lines = [f"{Path(args.net).name}: {res.count} regions by MILP with no-good cuts ({res.solves} solves, "
             f"{res.seconds:.2f} s, {res.status})"]
    emit(args, payload, lines)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    """``shallowrelu stats``: counts, volumes, facets and inradii of a catalogue."""
    from ..stats import catalogue_stats, write_table

    if args.output and Path(args.output).suffix not in (".csv", ".parquet"):
        raise UsageError(f"{args.output}: the table must end in .csv or .parquet")
    check_output(args.output)
    _, cat = catalogue_for(args)
    st = catalogue_stats(cat, samples=args.volume_samples, seed=args.seed)
    if args.output:
        write_table(args.output, cat, st)
    d = st.as_dict()
    how = "exact" if st.volume_exact else (f"estimated from {st.samples} samples" if st.samples else "unbounded")
    lines = [f"{Path(args.net).name}: {st.regions} regions over a {cat.dim}-D domain",
             f"total volume: {d['total_volume']} ({how})"]
    for key in ("volume", "facets", "inradius"):
        if d[key]:
            q = d[key]
            lines.append(f"{key} per region: min {q['min']:.4g}, median {q['median']:.4g}, mean {q['mean']:.4g}, "
                         f"max {q['max']:.4g}")
    lines.append("distinct patterns after each layer: " + ", ".join(map(str, st.regions_per_layer)))
    lines.append(f"neurons never split ({len(st.never_split)}): " + (", ".join(d["never_split"]) or "none"))
    if args.output:
        lines.append(f"wrote {args.output}")
    emit(args, d | {"output": args.output}, lines)
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    """``shallowrelu plot``: the regions of a 2-D domain or slice, to PNG."""
    from ..catalogue import Catalogue
    from ..explanation import explain
    from ..plot import plot_partition, slice_network

    check_output(args.output)
    if args.slice:
        origin, d1, d2 = (npy_vector(p) for p in args.slice)
        found = network_or_catalogue(args.net)
        net = found.network if isinstance(found, Catalogue) else found
        cat = enumerate_from_args(slice_network(net, origin, d1, d2), args)
        labels = ("s1", "s2")
    else:
        _, cat = catalogue_for(args)
        labels = ("x1", "x2")
    e = None
    if args.point is not None:
        x = floats(args.point, "--point")
        if x.size != cat.network.n_inputs:
            raise UsageError(f"--point needs {cat.network.n_inputs} coordinates"
                             + (" (slice coordinates s1,s2)" if args.slice else ""))
        e = explain(cat, x)
    plot_partition(cat, args.output, output=args.color_by_output, explanation=e, labels=labels)
    emit(args, {"regions": len(cat), "output": args.output}, [f"{len(cat)} regions drawn to {args.output}"])
    return EXIT_OK


def add_enumerate(sub) -> None:
    """The ``enumerate`` command and its options."""
    p = subcommand(sub, "enumerate", cmd_enumerate, "find every activation region of a network",
                   "Find every full-dimensional activation region of NET over a domain "
                   "(default: all of R^n) and optionally save the catalogue.",
                   "shallowrelu enumerate net.npz --box=-1,1 -o cat.npz --json",
                   "network file (.npz with W0,b0,W1,b1,..., .onnx or .nnet)")
    p.add_argument("-o", "--output", metavar="CAT", help="write the catalogue here (.npz)")
    p.add_argument("--method", choices=("tree", "milp"), default="tree",
                   help="tree: LP tree search, builds the catalogue (default); milp: count patterns by MILP "
                        "with no-good cuts (bounded domains; slower; the independent cross-check)")
    p.add_argument("--time-limit", type=float, metavar="S", help="seconds for --method milp")
    p.add_argument("--resume", action="store_true",
                   help=f"continue an interrupted run of the same command: reads CAT{PART_SUFFIX} (the chunks "
                        "streamed so far, also after a crash) or else CAT, and ends with the catalogue an "
                        "uninterrupted run gives")


def add_stats(sub) -> None:
    """The ``stats`` command and its options."""
    p = subcommand(sub, "stats", cmd_stats, "research statistics of a catalogue",
                   "Region count, volumes (exact up to 4-D, else estimated by sampling), facets and inradii "
                   "per region, distinct patterns after each layer, neurons never split; optionally one row "
                   "per region to a CSV or Parquet table.",
                   "shallowrelu stats cat.npz --json -o regions.csv", NET_OR_CATALOGUE)
    p.add_argument("-o", "--output", metavar="TABLE", help="one row per region (.csv, or .parquet with pyarrow)")
    p.add_argument("--volume-samples", type=int, default=200_000,
                   help="samples for estimated volumes above 4-D (default %(default)s)")


def add_plot(sub) -> None:
    """The ``plot`` command and its options."""
    p = subcommand(sub, "plot", cmd_plot, "draw the regions of a 2-D network or of a 2-D slice to a PNG",
                   "Fill every region (neighbours in different colours), draw the facets, optionally colour "
                   "by an output and mark a point with its ball and counterfactuals. For more inputs, give a "
                   "slice x = ORIGIN + s1 DIR1 + s2 DIR2; the domain options then bound (s1, s2).",
                   "shallowrelu plot net.npz --box=-1,1 --point=0.3,-0.2 -o regions.png", NET_OR_CATALOGUE)
    p.add_argument("-o", "--output", metavar="OUT.png", required=True, help="the PNG to write")
    p.add_argument("--slice", nargs=3, metavar=("ORIGIN.npy", "DIR1.npy", "DIR2.npy"),
                   help="plot the plane origin + s1 dir1 + s2 dir2 of a network with more inputs")
    p.add_argument("--color-by-output", type=int, metavar="J", help="colour by output J (0-based)")
    p.add_argument("--point", metavar="X1,X2", help="mark this point (slice coordinates with --slice)")
