"""Command-line interface: a thin layer that parses, calls the public API, and prints.

Exit codes: 0 success; 1 bad input (file, network, domain, catalogue);
2 usage error; 3 solver failure; 4 ``check`` found a difference; 130
interrupted (what was found is saved).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

from .builder import MODES, ShallowNetwork, build_shallow, check_equivalence
from .catalogue import FORMAT as CATALOGUE_FORMAT
from .catalogue import Catalogue, ChunkLog
from .enumerator import BACKENDS, enumerate_regions
from .explain import COUNTERFACTUAL_METHODS, explain, report_lines
from .milp import count_patterns, output_bounds
from .plot import plot_partition, slice_network
from .stats import catalogue_stats, write_table
from .verify import METHODS, verify
from .vnnlib import load_vnnlib, parse_vnnlib
from .errors import ShallowReLUError, SolverError
from .io import atomic_write_text, example_path, load_network, read_npz
from .network import ReLUNetwork
from .polytope import Box, Domain, Polytope
from .tolerances import Tolerances

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_SOLVER, EXIT_CHECK_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

# Options whose value may start with "-" (a negative number): "--box -1,1" is
# rewritten to "--box=-1,1" before argparse sees it.
_NEGATIVE_VALUE_OPTIONS = ("--box", "--point")


class UsageError(ShallowReLUError, ValueError):
    """A command-line value that does not parse."""


# Subtrees stream to CAT + this suffix while ``enumerate -o CAT`` runs.
PART_SUFFIX = ".part"


def _floats(text: str, what: str) -> np.ndarray:
    try:
        values = np.array([float(v) for v in text.split(",")])
    except ValueError:
        raise UsageError(f"{what} {text!r}: expected comma-separated numbers") from None
    if not np.all(np.isfinite(values)):
        raise UsageError(f"{what} {text!r}: values must be finite")
    return values


def _npz_arrays(path: str, names: tuple[str, ...], what: str) -> list[np.ndarray]:
    data = read_npz(path, UsageError, what)
    missing = [k for k in names if k not in data]
    if missing:
        raise UsageError(f"{path}: {what} file lacks array {missing[0]!r} (needs {', '.join(names)})")
    return [np.asarray(data[k], dtype=np.float64) for k in names]


def domain_from_args(args: argparse.Namespace) -> Domain:
    """The domain chosen by ``--box``, ``--bounds`` or ``--polytope`` (None: all of R^n)."""
    if args.box is not None:
        v = _floats(args.box, "--box")
        if v.size != 2:
            raise UsageError(f"--box {args.box!r}: expected LO,HI (two numbers)")
        return Box(v[0], v[1])
    if args.bounds is not None:
        return Box(*_npz_arrays(args.bounds, ("lo", "hi"), "bounds"))
    if args.polytope is not None:
        return Polytope(*_npz_arrays(args.polytope, ("P", "p"), "polytope"))
    return None


def _add_domain_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--box", metavar="LO,HI", help="the cube [LO,HI]^n; write --box=-1,1 (or --box -1,1)")
    g.add_argument("--bounds", metavar="B.npz", help="a box with per-coordinate arrays lo, hi")
    g.add_argument("--polytope", metavar="P.npz", help="the polytope {x : P x <= p} from arrays P, p")


def _subcommand(sub, name: str, func, summary: str, description: str, example: str,
                net_help: str) -> argparse.ArgumentParser:
    """A subcommand that reads NET and takes the domain, search and output options."""
    p = sub.add_parser(name, help=summary, description=description, epilog=f"example: {example}")
    p.add_argument("net", metavar="NET", help=net_help)
    _add_domain_options(p)
    _add_search_options(p)
    _add_common(p)
    p.set_defaults(func=func)
    return p


def _add_search_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--samples", type=int, default=256, help="random interior points to start with (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of those points and of facet rays (default 0)")
    p.add_argument("--min-inradius", type=float, default=Tolerances().min_inradius,
                   help="report regions holding no ball this large as thin (default %(default)g)")
    _add_jobs(p)


def _add_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=int, metavar="N",
                   help=f"workers for independent subtrees (default: all cores, here {os.cpu_count() or 1}; "
                        "with --backend ray all CPUs of the cluster); the answer is the same for every N")
    p.add_argument("--backend", choices=BACKENDS, default="local",
                   help="local: processes on this machine (default); ray: Ray tasks on the cluster in "
                        "RAY_ADDRESS, else on a Ray started here (pip install 'shallowrelu[ray]')")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")


def _progress_bar(enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(unit=" regions", file=sys.stderr, dynamic_ncols=True, mininterval=0.2)

    def update(regions: int, lps: int) -> None:
        bar.n = regions
        bar.set_postfix(lps=lps, refresh=False)
        bar.update(0)

    return update, bar.close


def _check_jobs(args: argparse.Namespace) -> None:
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be 1 or more")
    if args.backend == "ray" and importlib.util.find_spec("ray") is None:
        raise UsageError("--backend ray: Ray is not installed; pip install 'shallowrelu[ray]'")


def _search_options(args: argparse.Namespace) -> Tolerances:
    if args.samples < 0:
        raise UsageError(f"--samples {args.samples}: must be 0 or more")
    if not args.min_inradius > 0:
        raise UsageError(f"--min-inradius {args.min_inradius}: must be positive")
    _check_jobs(args)
    if getattr(args, "time_limit", None) is not None and not args.time_limit > 0:
        raise UsageError(f"--time-limit {args.time_limit}: must be positive")
    return Tolerances(min_inradius=args.min_inradius)


def _enumerate(net: ReLUNetwork, args: argparse.Namespace, resume: Catalogue | None = None,
               log_path: str | None = None) -> Catalogue:
    """Enumerate over the domain options; with ``log_path``, stream finished subtrees there.

    The log is opened only after every option has been checked, so a usage
    error never touches it.
    """
    tol = _search_options(args)
    domain = domain_from_args(args)
    log = None if log_path is None else ChunkLog(log_path, keep=resume is not None)
    progress, close = _progress_bar(args.progress)
    try:
        return enumerate_regions(net, domain, tol=tol, samples=args.samples, seed=args.seed, jobs=args.jobs,
                                 backend=args.backend, resume=resume, progress=progress,
                                 on_chunk=None if log is None else log.append)
    except ValueError as exc:  # a catalogue to resume from another run
        raise UsageError(f"{args.output}: cannot resume: {exc}") from None
    finally:
        close()


def _resume_from(args: argparse.Namespace) -> Catalogue:
    """The interrupted run behind ``-o``: its chunk log if there is one, else the catalogue itself."""
    if not args.output:
        raise UsageError("--resume continues the run that writes the -o file; give -o")
    part = Path(args.output + PART_SUFFIX)
    if part.exists():
        return ChunkLog.read(part)
    if Path(args.output).exists():
        return Catalogue.load(args.output)
    raise UsageError(f"{args.output}: nothing to resume (neither it nor {part.name} exists)")


def _check_output(path: str | None) -> None:
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"{path}: directory {Path(path).parent} does not exist")


def _print(args: argparse.Namespace, payload: dict, lines: list[str]) -> None:
    if args.json:
        print(json.dumps(payload, sort_keys=True))
    else:
        print("\n".join(lines))


def _summary_lines(name: str, cat: Catalogue) -> list[str]:
    s = cat.summary()
    cert = cat.info.get("certificate") or {}
    done = "interrupted" if cat.info.get("interrupted") else ("yes" if s.get("complete") else "NO")
    lines = [f"{name}: {s['regions']} regions over a {s['dimension']}-D domain "
             f"({s['neurons']} hidden neurons {s['hidden']}) in {s['seconds']:.2f} s, {s['lps']} LPs",
             f"complete: {done} ({cert.get('facets_checked', 0)} inner facets checked, "
             f"{cert.get('facets_without_neighbour', 0)} without a neighbour"
             + (f"; volumes {cert['volume_sum']:.6g} of {cert['domain_volume']:.6g})"
                if cert.get("volume_checked") else ")"),
             f"thin regions (inradius <= {cat.info['min_inradius']:g}, kept): {s['thin']}"
             + (f", thinnest {cat.info['thin_min_radius']:.3g}" if s['thin'] else "")]
    if s["regions"]:
        lines.append(f"facets per region: mean {s['facets_mean']:.2f}, max {s['facets_max']}; "
                     f"inradius min {s['inradius_min']:.3g}, median {s['inradius_median']:.3g}")
    return lines


def cmd_enumerate(args: argparse.Namespace) -> int:
    _check_output(args.output)
    net = load_network(args.net)
    if args.method == "milp":
        return _enumerate_milp(net, args)
    resume = _resume_from(args) if args.resume else None
    part = args.output + PART_SUFFIX if args.output else None
    cat = _enumerate(net, args, resume, part)
    interrupted = bool(cat.info.get("interrupted"))
    if args.output:
        cat.save(args.output)
        if not interrupted:  # the catalogue holds everything the log had
            Path(part).unlink(missing_ok=True)
    payload = cat.summary() | {"certificate": cat.info.get("certificate"), "output": args.output}
    lines = _summary_lines(Path(args.net).name, cat)
    if args.output:
        lines.append(f"wrote {args.output}")
    _print(args, payload, lines)
    if cat.info.get("unresolved"):
        print(f"shallowrelu: {cat.info['unresolved']} subtrees unresolved ({cat.info['unresolved_error']}); "
              "their regions are missing and the catalogue is marked incomplete", file=sys.stderr)
        return EXIT_SOLVER
    if interrupted:
        if args.output:
            print(f"shallowrelu: interrupted after {len(cat)} regions; they are saved to {args.output} "
                  f"(finished subtrees also in {args.output}{PART_SUFFIX}); to continue, run the same command "
                  "with --resume", file=sys.stderr)
        else:
            print(f"shallowrelu: interrupted after {len(cat)} regions; they are not saved (no -o given)",
                  file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _network_or_catalogue(path: str) -> ReLUNetwork | Catalogue:
    """The file at ``path``: a saved catalogue, or else a network."""
    if Path(path).suffix.lower() == ".npz" and Path(path).is_file():
        data = read_npz(path, UsageError, "network or catalogue")
        if str(data.get("format", "")) == CATALOGUE_FORMAT:
            return Catalogue.load(path)
    return load_network(path)


def _catalogue_for(args: argparse.Namespace) -> tuple[ReLUNetwork, Catalogue]:
    """NET is a network (enumerated here over the domain options) or a saved catalogue."""
    found = _network_or_catalogue(args.net)
    if isinstance(found, Catalogue):
        if domain_from_args(args) is not None:
            raise UsageError(f"{args.net}: a catalogue carries its own domain; drop --box/--bounds/--polytope")
        return found.network, found
    return found, _enumerate(found, args)


def cmd_convert(args: argparse.Namespace) -> int:
    _check_output(args.output)
    _, cat = _catalogue_for(args)
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
    _print(args, payload, lines)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    net, cat = _catalogue_for(args)
    shallow = ShallowNetwork.load(args.shallow)
    start = time.perf_counter()
    report = check_equivalence(net, shallow, cat)
    payload = report.as_dict() | {"seconds": time.perf_counter() - start, "mode": shallow.mode}
    counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
    verdict = "equivalent" if report.passed else "DIFFERENT"
    lines = [f"{verdict}: max error {report.max_abs:.3g} ({report.max_rel:.3g} of output scale "
             f"{report.scale:.3g}; tolerance {report.tolerance:g}) at a {report.worst_kind} point",
             f"probes: {counts}"]
    _print(args, payload, lines)
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def _points(args: argparse.Namespace, n: int) -> np.ndarray:
    if (args.point is None) == (args.points is None):
        raise UsageError("give exactly one of --point X1,X2,... or --points FILE.npy")
    if args.point is not None:
        X = _floats(args.point, "--point")[None, :]
    else:
        try:
            X = np.atleast_2d(np.load(args.points, allow_pickle=False)).astype(np.float64)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{args.points}: not a readable .npy array of points ({exc})") from None
    if X.ndim != 2 or X.shape[1] != n:
        raise UsageError(f"points must have {n} coordinates (the network's inputs), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise UsageError("points must be finite")
    return X


def cmd_explain(args: argparse.Namespace) -> int:
    net, cat = _catalogue_for(args)
    X = _points(args, net.n_inputs)
    shallow = build_shallow(cat) if args.shallow_gates else None
    found = [explain(cat, x, shallow, norms=tuple(args.norms), counterfactual_method=args.counterfactual_method)
             for x in X]
    if args.json:
        payload = found[0].as_dict() if args.point is not None else {"explanations": [e.as_dict() for e in found]}
        print(json.dumps(payload, sort_keys=True))
    else:
        print("\n\n".join("\n".join(report_lines(e)) for e in found))
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    if args.output and Path(args.output).suffix not in (".csv", ".parquet"):
        raise UsageError(f"{args.output}: the table must end in .csv or .parquet")
    _check_output(args.output)
    _, cat = _catalogue_for(args)
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
    _print(args, d | {"output": args.output}, lines)
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    _check_output(args.output)
    if args.slice:
        origin, d1, d2 = (_npy_vector(p) for p in args.slice)
        found = _network_or_catalogue(args.net)
        net = found.network if isinstance(found, Catalogue) else found
        cat = _enumerate(slice_network(net, origin, d1, d2), args)
        labels = ("s1", "s2")
    else:
        _, cat = _catalogue_for(args)
        labels = ("x1", "x2")
    e = None
    if args.point is not None:
        x = _floats(args.point, "--point")
        if x.size != cat.network.n_inputs:
            raise UsageError(f"--point needs {cat.network.n_inputs} coordinates"
                             + (" (slice coordinates s1,s2)" if args.slice else ""))
        e = explain(cat, x)
    plot_partition(cat, args.output, output=args.color_by_output, explanation=e, labels=labels)
    _print(args, {"regions": len(cat), "output": args.output}, [f"{len(cat)} regions drawn to {args.output}"])
    return EXIT_OK


def _npy_vector(path: str) -> np.ndarray:
    try:
        return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64).ravel()
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable .npy vector ({exc})") from None


def _enumerate_milp(net: ReLUNetwork, args: argparse.Namespace) -> int:
    _search_options(args)
    if args.output:
        raise UsageError("-o writes a catalogue, which the tree search builds; drop -o with --method milp")
    res = count_patterns(net, domain_from_args(args), time_limit=args.time_limit)
    payload = {"method": "milp", "regions": res.count, "status": res.status, "solves": res.solves,
               "seconds": res.seconds,
               "patterns": ["".join("1" if b else "0" for b in p) for p in res.patterns],
               "points": res.points.tolist()}
    lines = [f"{Path(args.net).name}: {res.count} regions by MILP with no-good cuts ({res.solves} solves, "
             f"{res.seconds:.2f} s, {res.status})"]
    _print(args, payload, lines)
    return EXIT_OK


def cmd_bounds(args: argparse.Namespace) -> int:
    _search_options(args)
    net = load_network(args.net)
    outputs = range(net.n_outputs) if args.output_index is None else [args.output_index]
    if args.output_index is not None and not 0 <= args.output_index < net.n_outputs:
        raise UsageError(f"--output-index {args.output_index}: the network has {net.n_outputs} outputs")
    found = [output_bounds(net, domain_from_args(args), j, time_limit=args.time_limit) for j in outputs]
    lines = [f"y{b.output + 1}: " + (f"min {b.min:.6g} at {np.round(b.argmin, 6).tolist()}, "
                                    f"max {b.max:.6g} at {np.round(b.argmax, 6).tolist()}"
                                    if b.status == "optimal" else "timeout (no answer)") for b in found]
    _print(args, {"bounds": [b.as_dict() for b in found]}, lines)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    _check_output(args.output)
    _check_jobs(args)
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout}: must be positive")
    net = load_network(args.net)
    prop = load_vnnlib(args.prop)
    res = verify(net, prop, timeout=args.timeout, method=args.method, jobs=args.jobs, backend=args.backend)
    if args.output:
        atomic_write_text(args.output, res.vnncomp_text())
    lines = [f"{res.verdict.value} ({res.seconds:.2f} s; {res.regions} regions checked by LP, "
             f"{res.pruned} branches closed by bounds{'; ' + res.note if res.note else ''})"]
    if res.x is not None:
        lines.append(f"counterexample x = {res.x.tolist()}")
        lines.append(f"               y = {res.y.tolist()}")
    _print(args, res.as_dict() | {"output": args.output}, lines)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    path = example_path()
    net = load_network(path)
    print(f"example network {path.name}: {net.n_inputs} inputs, hidden {list(net.hidden_sizes)}, "
          f"{net.n_outputs} outputs; domain [-1, 1]^2")
    cat = enumerate_regions(net, Box(-1.0, 1.0))
    print("\n".join("  " + line for line in _summary_lines("enumerate", cat)))
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
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shallowrelu",
        description="Exact activation regions of ReLU networks and their three-layer form.",
        epilog="exit codes: 0 ok, 1 bad input, 2 usage error, 3 solver failure, 4 check found a difference, "
               "130 interrupted")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    net_or_cat = "network (.npz, .onnx, .nnet) or catalogue (.npz from enumerate -o)"
    p = _subcommand(sub, "enumerate", cmd_enumerate, "find every activation region of a network",
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
                   help=f"continue an interrupted run of the same command: reads CAT{PART_SUFFIX} (the subtrees "
                        "streamed so far, also after a crash) or else CAT, and ends with the catalogue an "
                        "uninterrupted run gives")

    p = _subcommand(sub, "convert", cmd_convert, "build the equivalent three-layer network with extended-real weights",
                    "Build the shallow network of NET (a network, enumerated over the domain options, "
                    "or a saved catalogue).",
                    "shallowrelu convert net.npz --box=-1,1 --mode faces -o shallow.npz", net_or_cat)
    p.add_argument("--mode", choices=MODES, default="faces",
                   help="faces: exact everywhere (default); cells: the paper's, sums on shared boundaries")
    p.add_argument("-o", "--output", metavar="SHALLOW", required=True, help="write the shallow network here (.npz)")

    p = _subcommand(sub, "check", cmd_check, "compare a shallow network with the deep network it came from",
                    "Probe random points, region centres, vertices, facet midpoints and points 1e-9 off "
                    "facets; exit 4 if the error exceeds the tolerance.",
                    "shallowrelu check net.npz shallow.npz --box=-1,1 --json", net_or_cat)
    p.add_argument("shallow", metavar="SHALLOW", help="shallow network from convert")

    p = _subcommand(sub, "explain", cmd_explain, "explain the output at an input: region, local model, facets, "
                    "counterfactual",
                    "For an input: its region and pattern, the local affine model and the largest input "
                    "contributions, the facets as inequalities naming their neurons (nearest first), the "
                    "largest ball on which the model holds, the nearest input with another label (several "
                    "outputs), and the open gates of the shallow network.",
                    "shallowrelu explain net.npz --box=-1,1 --point=0.3,-0.2 --json", net_or_cat)
    p.add_argument("--point", metavar="X1,X2,...", help="one input (--point=-0.5,1 or --point -0.5,1)")
    p.add_argument("--points", metavar="FILE.npy", help="several inputs, one per row")
    p.add_argument("--norms", nargs="+", choices=("inf", "2"), default=["inf", "2"],
                   help="norms of the counterfactual search (default: inf 2)")
    p.add_argument("--counterfactual-method", choices=COUNTERFACTUAL_METHODS, default="catalogue",
                   help="catalogue: one LP/QP per region and label (default); milp: one big-M MILP per other "
                        "label, l_inf only (an independent cross-check)")
    p.add_argument("--shallow-gates", action=argparse.BooleanOptionalAction, default=True,
                   help="also build the shallow network and report its open gates (default on)")

    p = _subcommand(sub, "stats", cmd_stats, "research statistics of a catalogue",
                    "Region count, volumes (exact up to 4-D, else estimated by sampling), facets and inradii "
                    "per region, distinct patterns after each layer, neurons never split; optionally one row "
                    "per region to a CSV or Parquet table.",
                    "shallowrelu stats cat.npz --json -o regions.csv", net_or_cat)
    p.add_argument("-o", "--output", metavar="TABLE", help="one row per region (.csv, or .parquet with pyarrow)")
    p.add_argument("--volume-samples", type=int, default=200_000,
                   help="samples for estimated volumes above 4-D (default %(default)s)")

    p = _subcommand(sub, "plot", cmd_plot, "draw the regions of a 2-D network or of a 2-D slice to a PNG",
                    "Fill every region (neighbours in different colours), draw the facets, optionally colour "
                    "by an output and mark a point with its ball and counterfactuals. For more inputs, give a "
                    "slice x = ORIGIN + s1 DIR1 + s2 DIR2; the domain options then bound (s1, s2).",
                    "shallowrelu plot net.npz --box=-1,1 --point=0.3,-0.2 -o regions.png", net_or_cat)
    p.add_argument("-o", "--output", metavar="OUT.png", required=True, help="the PNG to write")
    p.add_argument("--slice", nargs=3, metavar=("ORIGIN.npy", "DIR1.npy", "DIR2.npy"),
                   help="plot the plane origin + s1 dir1 + s2 dir2 of a network with more inputs")
    p.add_argument("--color-by-output", type=int, metavar="J", help="colour by output J (0-based)")
    p.add_argument("--point", metavar="X1,X2", help="mark this point (slice coordinates with --slice)")

    p = _subcommand(sub, "bounds", cmd_bounds, "exact minimum and maximum of the outputs over a bounded domain",
                    "Solve the big-M MILP of NET (PuLP with HiGHS; big-M from sound interval bounds) for the "
                    "exact range of each output and the inputs that attain it.",
                    "shallowrelu bounds net.npz --box=-1,1 --json", "network file (.npz, .onnx, .nnet)")
    p.add_argument("--output-index", type=int, metavar="J", help="only output J (0-based)")
    p.add_argument("--time-limit", type=float, metavar="S", help="seconds per MILP; a timeout gives no answer")

    p = sub.add_parser("verify", help="decide a VNN-LIB property: sat (with a counterexample), unsat, timeout",
                       description="Decide a VNN-LIB property (it describes the unsafe set) by a branch-and-bound "
                                   "over the activation regions of the property's input boxes. Exit status 0 "
                                   "whatever the verdict.",
                       epilog="example: shallowrelu verify net.onnx prop.vnnlib --timeout 60 -o result.txt --json")
    p.add_argument("net", metavar="NET", help="network (.onnx, .nnet or .npz)")
    p.add_argument("prop", metavar="PROP", help="VNN-LIB property (.vnnlib)")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds before answering timeout")
    p.add_argument("--method", choices=METHODS, default="tree",
                   help="tree: branch-and-bound over regions (default); milp: one big-M MILP per disjunct, "
                        "the independent second method")
    _add_jobs(p)
    p.add_argument("-o", "--output", metavar="RESULT", help="write the VNN-COMP result file here")
    _add_common(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("demo", help="run the whole path on the example network that ships with the package",
                       description="Enumerate the example network, convert it to the shallow network, "
                                   "check the two agree, explain one input, find the exact output range "
                                   "and verify two properties by both methods.",
                       epilog="example: shallowrelu demo")
    p.set_defaults(func=cmd_demo)
    return parser


def _merge_negative_values(argv: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in _NEGATIVE_VALUE_OPTIONS and i + 1 < len(argv):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _raise_interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``shallowrelu`` command; returns the exit code."""
    argv = _merge_negative_values(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return args.func(args)
    except SolverError as exc:
        print(f"shallowrelu: solver error: {exc}", file=sys.stderr)
        return EXIT_SOLVER
    except ShallowReLUError as exc:
        print(f"shallowrelu: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away; that is not an error of ours
        sys.stderr = open(os.devnull, "w")
        return EXIT_OK
    except OSError as exc:
        print(f"shallowrelu: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        part = Path(f"{getattr(args, 'output', None)}{PART_SUFFIX}")
        if args.command == "enumerate" and args.output and part.exists():
            # stopped outside the search (checking or saving the catalogue): the log has every subtree
            print(f"shallowrelu: interrupted; the finished subtrees are in {part}; to continue, run the same "
                  "command with --resume", file=sys.stderr)
        else:
            print("shallowrelu: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
