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

import numpy as np

from ..network import ReLUNetwork

if TYPE_CHECKING:
    from ..catalogue import Catalogue
from ..choices import PART_SUFFIX
from .common import (EXIT_OK, EXIT_SOLVER, NET_OR_CATALOGUE, UsageError,
                     catalogue_for, domain_from_args, emit, enumerate_from_args, floats, load_net, output_file,
                     search_options, stopped, subcommand, summary_lines)


def cmd_enumerate(args: argparse.Namespace) -> int:
    """``shallowrelu enumerate``: every region over the domain, to a catalogue."""
    output_file(args, ".npz")
    net = load_net(args)
    if args.method == "milp":
        return _enumerate_milp(net, args)
    resume = _resume_from(args) if args.resume else None
    part = args.output + PART_SUFFIX if args.output else None
    cat = enumerate_from_args(net, args, resume, part)
    interrupted = bool(cat.info.get("interrupted"))
    if args.output:
        if Path(args.output).suffix.lower() != ".parquet":  # a .parquet one the search wrote itself
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
        code, words = stopped(args, cat.info.get("stop_reason"))
        if args.output:
            print(f"shallowrelu: {words} after {len(cat)} regions; they are saved to {args.output} "
                  f"(finished chunks also in {args.output}{PART_SUFFIX}); to continue, run the same command "
                  "with --resume", file=sys.stderr)
        else:
            print(f"shallowrelu: {words} after {len(cat)} regions; they are not saved (no -o given)",
                  file=sys.stderr)
        return code
    return EXIT_OK


def _resume_from(args: argparse.Namespace) -> Catalogue | None:
    """The interrupted run behind ``-o``: its chunk log, else the catalogue it saved (not for a ``.parquet``
    one, which the log always holds), else None (start again; said on stderr when neither file exists).

    A run stopped before its first chunk finished (while the tree was cut
    into chunks, or the pool started) leaves a log with no complete chunk,
    and a partial catalogue or none: what it found is redone, so the end is
    the catalogue an uninterrupted run gives.
    """
    from ..catalogue import Catalogue, ChunkLog

    if not args.output:
        raise UsageError("--resume continues the run that writes the -o file; give -o")
    part = Path(args.output + PART_SUFFIX)
    streamed = Path(args.output).suffix.lower() == ".parquet"  # its regions stay in the log, not in memory
    logged = ChunkLog.read(part, regions=not streamed, empty=True) if part.is_file() else None
    if logged is not None:
        return logged
    if Path(args.output).exists() and not streamed:
        return Catalogue.load(args.output)
    if not part.exists():
        print(f"shallowrelu: {args.output}: nothing to resume (neither it nor {part.name} exists); starting "
              "from the beginning", file=sys.stderr)
    return None


def _enumerate_milp(net: ReLUNetwork, args: argparse.Namespace) -> int:
    """``enumerate --method milp``: count the patterns by MILP with no-good cuts."""
    from ..milp import count_patterns

    search_options(args)
    if args.output:
        raise UsageError("-o writes a catalogue, which the tree search builds; drop -o with --method milp")
    res = count_patterns(net, domain_from_args(args, net.n_inputs), time_limit=args.time_limit)
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
    from ..stats import catalogue_stats, report_lines, write_table

    output_file(args, ".csv")
    if args.output and Path(args.output).suffix not in (".csv", ".parquet"):
        raise UsageError(f"{args.output}: the table must end in .csv or .parquet")
    _, cat = catalogue_for(args)
    st = catalogue_stats(cat, samples=args.volume_samples, seed=args.seed)
    if args.output:
        write_table(args.output, cat, st)
    lines = report_lines(Path(args.net).name, cat, st, args.output)
    emit(args, st.as_dict() | {"output": args.output}, lines)
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    """``shallowrelu plot``: the regions of a 2-D domain or a plane through the inputs, to PNG."""
    from ..explanation import explain
    from ..plot import plot_partition

    output_file(args, ".png")
    net, cat = catalogue_for(args)
    if cat.dim != 2:
        raise UsageError(f"{args.net}: plot draws a 2-D domain; this one is {cat.dim}-D "
                         "(give a plane: --plane A B C or --slice ORIGIN D1 D2)")
    sliced = cat.hull.flat
    e = None
    if args.point is not None:
        x = floats(args.point, "--point")
        if sliced and x.size == 2 and net.n_inputs != 2:  # slice coordinates
            x = _slice_point(cat, x)
        if x.size != net.n_inputs:
            raise UsageError(f"--point needs {net.n_inputs} coordinates" + (" (or 2 slice coordinates)" if sliced
                                                                            else ""))
        e = explain(cat, x)
    plot_partition(cat, args.output, output=args.color_by_output, explanation=e,
                   labels=("t1", "t2") if sliced else ("x1", "x2"))
    emit(args, {"regions": len(cat), "output": args.output}, [f"{len(cat)} regions drawn to {args.output}"])
    return EXIT_OK


def _slice_point(cat: Catalogue, t: np.ndarray) -> np.ndarray:
    """The input of a slice's own coordinates ``t`` (those of ``--slice``/``--plane``, as recorded)."""
    record = cat.info.get("slice")
    if record is None:
        raise UsageError("--point: the catalogue records no slice to read slice coordinates in")
    return np.asarray(record["origin"]) + np.asarray(record["directions"]).T @ t


def add_enumerate(sub) -> None:
    """The ``enumerate`` command and its options."""
    p = subcommand(sub, "enumerate", cmd_enumerate, "find every activation region of a network",
                   "Find every full-dimensional activation region of NET over a domain "
                   "(default: all of R^n) and optionally save the catalogue.",
                   "shallowrelu enumerate net.npz --box=-1,1 -o cat.npz --json",
                   "network file (.npz with W0,b0,W1,b1,..., .onnx, .pt2 or .nnet)")
    p.add_argument("-o", "--output", metavar="CAT",
                   help="write the catalogue here (.npz, added to a name without an extension)")
    p.add_argument("--method", choices=("tree", "milp"), default="tree",
                   help="tree: LP tree search, builds the catalogue (default); milp: count patterns by MILP "
                        "with no-good cuts (bounded domains; slower; the independent cross-check)")
    p.add_argument("--time-limit", type=float, metavar="S",
                   help="seconds for the whole run: then it stops as on Ctrl-C (exit 124), the regions found "
                        "so far saved to -o and resumable with --resume; with --method milp, the seconds of "
                        "the count")
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
    p.add_argument("-o", "--output", metavar="TABLE",
                   help="one row per region (.csv, or .parquet with pyarrow; .csv added to a name without an "
                        "extension)")
    p.add_argument("--volume-samples", type=int, default=200_000,
                   help="samples for estimated volumes above 4-D (default %(default)s)")


def add_plot(sub) -> None:
    """The ``plot`` command and its options."""
    p = subcommand(sub, "plot", cmd_plot, "draw the regions of a 2-D network or of a plane through the inputs",
                   "Fill every region (neighbours in different colours), draw the facets, optionally colour "
                   "by an output and mark a point with its ball and counterfactuals. For more inputs, give a "
                   "plane: --plane A B C (through three inputs) or --slice ORIGIN D1 D2 (t1, t2 in [-1, 1]).",
                   "shallowrelu plot net.npz --box=-1,1 --point=0.3,-0.2 -o regions.png", NET_OR_CATALOGUE)
    p.add_argument("-o", "--output", metavar="OUT.png", required=True,
                   help="the PNG to write (.png added to a name without an extension)")
    p.add_argument("--color-by-output", type=int, metavar="J", help="colour by output J (0-based)")
    p.add_argument("--point", metavar="X1,...",
                   help="mark this input (on a plane: the input, or its two slice coordinates)")
