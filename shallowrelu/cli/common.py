"""What every command of the CLI shares: options, parsing of values, the domain, printing, exit codes.

Owns the conversions from command-line text to the API's types (with a
one-line :class:`UsageError` for a value that does not parse), the option
groups several commands take, and how a result is printed (human lines or
one JSON object). Calls the public API only; computes nothing itself.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..choices import BACKENDS
from ..errors import ShallowReLUError
from ..io import load_network
from ..io.files import is_npz, read_npz
from ..network import ReLUNetwork
from ..polytope import Box, Domain, Polytope, Slice
from ..tolerances import Tolerances

if TYPE_CHECKING:  # the commands import what they run when they run it: --help loads no solver
    from ..catalogue import Catalogue

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_SOLVER, EXIT_CHECK_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_TIME_LIMIT, EXIT_TERMINATED = 124, 143
# Exit code and message of each way the work can be stopped (limits.stop_reason()).
_STOPS = {"interrupted": (EXIT_INTERRUPTED, "interrupted"), "terminated": (EXIT_TERMINATED, "terminated"),
          "time limit": (EXIT_TIME_LIMIT, "time limit reached"), "memory budget": (EXIT_INPUT, "memory budget reached")}


class UsageError(ShallowReLUError, ValueError):
    """A command-line value that does not parse."""


NET_OR_CATALOGUE = "network (.npz, .onnx, .nnet) or catalogue (.npz or .parquet from enumerate -o)"


def floats(text: str, what: str) -> np.ndarray:
    """Comma-separated finite numbers, or a one-line :class:`UsageError` naming the option."""
    try:
        values = np.array([float(v) for v in text.split(",")])
    except ValueError:
        raise UsageError(f"{what} {text!r}: expected comma-separated numbers") from None
    if not np.all(np.isfinite(values)):
        raise UsageError(f"{what} {text!r}: values must be finite")
    return values


def npz_arrays(path: str, names: tuple[str, ...], what: str) -> list[np.ndarray]:
    """The named arrays of an ``.npz`` file given on the command line, as float64."""
    data = read_npz(path, UsageError, what)
    missing = [k for k in names if k not in data]
    if missing:
        raise UsageError(f"{path}: {what} file lacks array {missing[0]!r} (needs {', '.join(names)})")
    return [np.asarray(data[k], dtype=np.float64) for k in names]


def domain_from_args(args: argparse.Namespace, n: int | None = None) -> Domain:
    """The domain of the options: ``--box``, ``--bounds`` or ``--polytope`` (None: all of R^n), and a
    slice of it (``--segment``, ``--plane``, ``--slice``) or a ball in it (``--ball``) where one is given.

    ``n`` is the network's input count, for reading points in the input's shape.
    """
    base: Domain = None
    if args.box is not None:
        v = floats(args.box, "--box")
        if v.size != 2:
            raise UsageError(f"--box {args.box!r}: expected LO,HI (two numbers)")
        base = Box(v[0], v[1])
    elif args.bounds is not None:
        base = Box(*npz_arrays(args.bounds, ("lo", "hi"), "bounds"))
    elif args.polytope is not None:
        base = Polytope(*npz_arrays(args.polytope, ("P", "p"), "polytope"))
    if getattr(args, "segment", None):
        a, b = (npy_point(path, n, "--segment") for path in args.segment)
        return Slice.segment(a, b, clip=base)
    if getattr(args, "plane", None):
        a, b, c = (npy_point(path, n, "--plane") for path in args.plane)
        return Slice.plane(a, b, c, margin=args.margin, clip=base)
    if getattr(args, "slice", None):
        if len(args.slice) < 2:
            raise UsageError("--slice needs ORIGIN and at least one direction")
        origin, *directions = (npy_point(path, n, "--slice") for path in args.slice)
        return Slice.through(origin, *directions, clip=base)
    if getattr(args, "ball", None):
        center = npy_point(args.ball[0], n, "--ball")
        eps = floats(args.ball[1], "--ball radius")
        if eps.size != 1 or not eps[0] >= 0:
            raise UsageError(f"--ball radius {args.ball[1]!r}: expected one non-negative number")
        if base is not None and not isinstance(base, Box):
            raise UsageError("--ball is cut by a box: give --box or --bounds, not --polytope")
        return Box.ball(center, float(eps[0]), clip=base)
    return base


def add_domain_options(p: argparse.ArgumentParser) -> None:
    """``--box``, ``--bounds``, ``--polytope`` (one at most), and one slice of it or ball in it."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--box", metavar="LO,HI", help="the cube [LO,HI]^n; write --box=-1,1 (or --box -1,1)")
    g.add_argument("--bounds", metavar="B.npz", help="a box with per-coordinate arrays lo, hi")
    g.add_argument("--polytope", metavar="P.npz", help="the polytope {x : P x <= p} from arrays P, p")
    s = p.add_mutually_exclusive_group()
    s.add_argument("--segment", nargs=2, metavar=("A.npy", "B.npy"),
                   help="the segment from input A to input B (within the box, if one is given)")
    s.add_argument("--plane", nargs=3, metavar=("A.npy", "B.npy", "C.npy"),
                   help="the plane of the triangle A, B, C: A + s (B - A) + t (C - A), s and t in "
                        "[-MARGIN, 1 + MARGIN] (and within the box, if one is given)")
    s.add_argument("--slice", nargs="+", metavar="V.npy",
                   help="ORIGIN D1 [D2 ...]: the flat ORIGIN + sum t_i D_i, each t_i in [-1, 1] (and within the "
                        "box, if one is given)")
    s.add_argument("--ball", nargs=2, metavar=("X.npy", "EPS"), help="the L-inf ball of radius EPS around X, "
                   "cut to the box if one is given")
    p.add_argument("--margin", type=float, default=0.25, help="--plane: how far past the triangle (default 0.25)")
    p.add_argument("--tensor", metavar="NAME", help="ONNX networks: the tensor to analyse (default: the output; a "
                   "classifier's head is read up to its logits)")


def npy_point(path: str, n: int | None, what: str) -> np.ndarray:
    """One input from an ``.npy`` file, flat or in the model's input shape (with a batch axis of 1 or not)."""
    x = npy_vector(path)
    if n is not None and x.size != n:
        raise UsageError(f"{path}: {what} needs an input of {n} numbers (any shape), got {x.size}")
    return x


def load_net(args: argparse.Namespace) -> ReLUNetwork:
    """The network NET names (``--tensor`` choosing an ONNX tensor), the reader's note said on stderr."""
    net = load_network(args.net, tensor=getattr(args, "tensor", None))
    if net.note:
        print(f"shallowrelu: {args.net}: {net.note}", file=sys.stderr)
    return net


def subcommand(sub, name: str, func, summary: str, description: str, example: str,
               net_help: str) -> argparse.ArgumentParser:
    """A subcommand that reads NET and takes the domain, search and output options."""
    p = sub.add_parser(name, help=summary, description=description, epilog=f"example: {example}")
    p.add_argument("net", metavar="NET", help=net_help)
    add_domain_options(p)
    add_search_options(p)
    add_common(p)
    p.set_defaults(func=func)
    return p


def add_search_options(p: argparse.ArgumentParser) -> None:
    """The options of the region search."""
    p.add_argument("--samples", type=int, default=256, help="random interior points to start with (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of those points and of facet rays (default 0)")
    p.add_argument("--min-inradius", type=float, default=Tolerances().min_inradius,
                   help="report regions holding no ball this large as thin (default %(default)g)")
    add_jobs(p)


def add_jobs(p: argparse.ArgumentParser, what: str = "workers for independent subtrees",
             backend: str = "") -> None:
    """``--jobs`` and ``--backend``; ``what`` says what the jobs run, ``backend`` what the backend applies to."""
    p.add_argument("--jobs", type=int, metavar="N",
                   help=f"{what} (default: all cores, here {os.cpu_count() or 1}; "
                        "with --backend ray all CPUs of the cluster); the answer is the same for every N")
    p.add_argument("--backend", choices=BACKENDS, default="local",
                   help=f"{backend}local: processes on this machine (default); ray: Ray tasks on the cluster in "
                        "RAY_ADDRESS, else on a Ray started here (pip install 'shallowrelu[ray]')")


def add_common(p: argparse.ArgumentParser) -> None:
    """``--json``, ``--progress`` and ``--max-memory``."""
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    add_max_memory(p)


def add_max_memory(p: argparse.ArgumentParser) -> None:
    """``--max-memory``."""
    p.add_argument("--max-memory", type=memory_size, metavar="SIZE",
                   help="memory budget, e.g. 2G or 500M (default: the memory available); work that would need "
                        "more is refused in one line before it starts")


def add_time_limit(p: argparse.ArgumentParser) -> None:
    """``--time-limit`` for the whole command."""
    p.add_argument("--time-limit", type=float, metavar="S",
                   help="seconds for the whole command; then it stops as on Ctrl-C (exit 124), nothing written")


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_size(text: str) -> float:
    """``--max-memory``'s value in bytes: a number with an optional unit K, M, G or T (powers of 1024)."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1:] if t[-1:] in _UNITS else ""
    try:
        value = float(t[:len(t) - len(unit)]) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a size (write e.g. 2G, 500M or 1e9)") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be positive")
    return value


def progress_bar(enabled: bool | None, unit: str = " regions", total: int | None = None):
    """A tqdm bar on stderr (when ``enabled``, or when stderr is a terminal if None) and its closer.

    The update function takes the count done, for the enumeration the LPs
    run so far, and the total where it is learnt late.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(unit=unit, total=total, file=sys.stderr, dynamic_ncols=True, mininterval=0.2)

    def update(done: int, lps: int | None = None, total: int | None = None) -> None:
        """Move the bar to ``done`` (and show the LPs, set the total where given)."""
        if total is not None:
            bar.total = total
        bar.n = done
        if lps is not None:
            bar.set_postfix(lps=lps, refresh=False)
        bar.update(0)

    return update, bar.close


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def check_jobs(args: argparse.Namespace) -> None:
    """Refuse a bad ``--jobs`` or a Ray backend that is not installed."""
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be 1 or more")
    if args.backend == "ray" and importlib.util.find_spec("ray") is None:
        raise UsageError("--backend ray: Ray is not installed; pip install 'shallowrelu[ray]'")


def search_options(args: argparse.Namespace) -> Tolerances:
    """The search options checked, and the tolerances they set."""
    if args.samples < 0:
        raise UsageError(f"--samples {args.samples}: must be 0 or more")
    if not args.min_inradius > 0:
        raise UsageError(f"--min-inradius {args.min_inradius}: must be positive")
    check_jobs(args)
    check_time_limit(args)
    return Tolerances(min_inradius=args.min_inradius)


def enumerate_from_args(net: ReLUNetwork, args: argparse.Namespace, resume: Catalogue | None = None,
                        log_path: str | None = None) -> Catalogue:
    """Enumerate over the domain options; with ``log_path``, stream finished chunks there.

    The log is opened only after every option has been checked, so a usage
    error never touches it.
    """
    from ..catalogue import ChunkLog
    from ..enumerator import enumerate_regions

    tol = search_options(args)
    domain = domain_from_args(args, net.n_inputs)
    # a .parquet catalogue is written by the search itself, from its log, a chunk at a time
    to = args.output if log_path is not None and Path(args.output).suffix.lower() == ".parquet" else None
    log = None if log_path is None or to is not None else ChunkLog(log_path, keep=resume is not None)
    progress, close = progress_bar(args.progress)
    try:
        return enumerate_regions(net, domain, tol=tol, samples=args.samples, seed=args.seed, jobs=args.jobs,
                                 backend=args.backend, resume=resume, progress=progress,
                                 on_chunk=None if log is None else log.append, to=to)
    except ValueError as exc:  # a catalogue to resume from another run
        raise UsageError(f"{args.output}: cannot resume: {exc}") from None
    finally:
        close()


def check_time_limit(args: argparse.Namespace) -> None:
    """Refuse a ``--time-limit`` that is not positive."""
    if getattr(args, "time_limit", None) is not None and not args.time_limit > 0:
        raise UsageError(f"--time-limit {args.time_limit}: must be positive")


def stopped(args: argparse.Namespace, detail: str | None = None) -> tuple[int, str]:
    """The exit code and the words for what stopped the command (Ctrl-C, SIGTERM, ``--time-limit``, the
    memory budget, with its ``detail``)."""
    from ..limits import stop_reason

    reason = stop_reason() or "interrupted"
    code, words = _STOPS[reason]
    if code == EXIT_TIME_LIMIT:
        words += f" ({args.time_limit:g} s)"
    if reason == "memory budget" and detail:
        words += f" ({detail})"
    return code, words


def check_output(path: str | None) -> None:
    """Refuse an output path whose directory does not exist, before any work."""
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"{path}: directory {Path(path).parent} does not exist")


def output_file(args: argparse.Namespace, suffix: str) -> None:
    """Give ``-o`` the extension ``suffix`` of its format where it has none, then :func:`check_output` it.

    A file is known by its extension (an ONNX graph, a PNG or a table by
    nothing else), so ``-o cat`` writes ``cat.npz``, as ``np.savez`` and
    matplotlib do; the lines printed and the JSON name the file written.
    """
    if args.output is not None and not Path(args.output).suffix:
        args.output += suffix
    check_output(args.output)


def emit(args: argparse.Namespace, payload: dict, lines: list[str]) -> None:
    """Print the result: one JSON object with ``--json``, else the human lines."""
    if args.json:
        print(json.dumps(payload, sort_keys=True))
    else:
        print("\n".join(lines))


def summary_lines(name: str, cat: Catalogue) -> list[str]:
    """The human summary of an enumeration."""
    s = cat.summary()
    cert = cat.info.get("certificate") or {}
    done = "interrupted" if cat.info.get("interrupted") else ("yes" if s.get("complete") else "NO")
    where = f"a {s['dimension']}-D domain" if cat.info.get("bounded", True) else f"all of R^{s['dimension']}"
    lines = [f"{name}: {s['regions']:,} regions over {where} ({s['neurons']} hidden neurons {s['hidden']}) "
             f"in {s['seconds']:.2f} s, {_lp_words(s['lps'], s['regions'])}",
             f"complete: {done} ({cert.get('facets_checked', 0)} inner facets checked, "
             f"{cert.get('facets_without_neighbour', 0)} without a neighbour"
             + (f"; volumes {cert['volume_sum']:.6g} of {cert['domain_volume']:.6g})"
                if cert.get("volume_checked") else ")"),
             f"thin regions (inradius <= {cat.tol.min_inradius:g}, kept): {s['thin']}"
             + (f", thinnest {cat.info['thin_min_radius']:.3g}" if s['thin'] else "")]
    if "exact_decisions" in s:
        below = s["below_resolution"]
        lines.append(f"decided in exact arithmetic: {s['exact_decisions']}"
                     + (f"; {below} regions below float resolution (exist, not stored)" if below else ""))
    if s["regions"]:
        lines.append(f"facets per region: mean {s['facets_mean']:.2f}, max {s['facets_max']}; "
                     f"inradius min {s['inradius_min']:.3g}, median {s['inradius_median']:.3g}")
    return lines


def _lp_words(lps: int, regions: int) -> str:
    """The LPs an enumeration solved, in words that do not read as its work.

    The search solves an LP only where its nodes' vertices (a bounded domain
    in few dimensions), interval bounds and sample points cannot decide: a
    2-D run may find 50,000 regions with the root's one LP.
    """
    words = f"{lps:,} LP" + ("" if lps == 1 else "s")
    return words + (" (all other decisions from vertices, bounds or sample points)" if lps < regions else "")


def network_or_catalogue(args: argparse.Namespace) -> ReLUNetwork | Catalogue:
    """The file NET names: a saved catalogue, or else a network."""
    from ..catalogue import FORMAT as CATALOGUE_FORMAT
    from ..catalogue import Catalogue
    from ..catalogue.columnar import is_parquet

    path = args.net
    if is_parquet(path):
        return Catalogue.load(path)
    # by its content too: a catalogue saved under a name without the extension is still one
    if (Path(path).suffix.lower() == ".npz" and Path(path).is_file()) or is_npz(path):
        data = read_npz(path, UsageError, "network or catalogue")
        if str(data.get("format", "")) == CATALOGUE_FORMAT:
            return Catalogue.load(path)
    return load_net(args)


def catalogue_for(args: argparse.Namespace) -> tuple[ReLUNetwork, Catalogue]:
    """NET is a network (enumerated here over the domain options) or a saved catalogue."""
    from ..catalogue import Catalogue
    from ..limits import Stopped, stop_reason

    found = network_or_catalogue(args)
    if isinstance(found, Catalogue):
        if domain_from_args(args) is not None:
            raise UsageError(f"{args.net}: a catalogue carries its own domain; drop the domain options")
        return found.network, found
    cat = enumerate_from_args(found, args)
    if cat.info.get("interrupted"):  # the enumerator kept its partial work; a part of the regions is no answer
        raise Stopped(stop_reason())
    return found, cat


def points_from_args(args: argparse.Namespace, n: int) -> np.ndarray:
    """The points of ``--point`` or ``--points`` (an ``.npy`` of points flat or in the input's shape),
    checked against the network's inputs."""
    if (args.point is None) == (args.points is None):
        raise UsageError("give exactly one of --point X1,X2,... or --points FILE.npy")
    if args.point is not None:
        X = floats(args.point, "--point")[None, :]
    else:
        try:
            X = np.asarray(np.load(args.points, allow_pickle=False), dtype=np.float64)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{args.points}: not a readable .npy array of points ({exc})") from None
        X = X.reshape(1, -1) if X.size == n else X.reshape(X.shape[0], -1) if X.ndim > 1 else X.reshape(1, -1)
    if X.ndim != 2 or X.shape[1] != n:
        raise UsageError(f"points must have {n} coordinates (the network's inputs), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise UsageError("points must be finite")
    return X


def npy_vector(path: str) -> np.ndarray:
    """A vector from an ``.npy`` file, flattened."""
    try:
        return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64).ravel()
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable .npy vector ({exc})") from None
