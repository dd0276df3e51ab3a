"""The ``shallowrelu`` command: the parser of every subcommand, and errors turned into exit codes.

Owns :func:`main`: a user's error (:class:`ShallowReLUError`) becomes one
line on stderr and its exit code; Ctrl-C, SIGTERM and ``--time-limit`` stop
any phase within a second (:mod:`shallowrelu.limits`) and exit 130, 143 and
124, with what was found saved or nothing written; a traceback means a bug. Each command lives in the module of
its group.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import limits
from ..choices import PART_SUFFIX
from ..errors import ShallowReLUError, SolverError
from .common import EXIT_INPUT, EXIT_OK, EXIT_SOLVER, check_time_limit, stopped
from .demo import add_demo
from .properties import add_bounds, add_verify
from .regions import add_enumerate, add_plot, add_stats
from .shallow import add_check, add_convert, add_explain, add_export

# Options whose value may start with "-" (a negative number): "--box -1,1" is
# rewritten to "--box=-1,1" before argparse sees it.
_NEGATIVE_VALUE_OPTIONS = ("--box", "--point")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``shallowrelu`` command and all its subcommands."""
    parser = argparse.ArgumentParser(
        prog="shallowrelu",
        description="Exact activation regions of ReLU networks and their three-layer form.",
        epilog="exit codes: 0 ok, 1 bad input, 2 usage error, 3 solver failure, 4 check found a difference, "
               "124 time limit reached, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM)")
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_enumerate, add_convert, add_check, add_export, add_explain, add_stats, add_plot, add_bounds,
                add_verify, add_demo):
        add(sub)
    return parser


class _Version(argparse.Action):
    """``--version``: the installed package's version, read from its metadata only when asked."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        import shallowrelu

        print(f"shallowrelu {shallowrelu.__version__}")
        parser.exit()


def _merge_negative_values(argv: list[str]) -> list[str]:
    """``--box -1,1`` rewritten as ``--box=-1,1``, so argparse does not read ``-1,1`` as a flag."""
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


def _run_limit(args: argparse.Namespace) -> float | None:
    """The ``--time-limit`` that bounds the whole command (that of ``bounds`` and ``enumerate --method milp``
    bounds each MILP, and is passed to it; ``explain`` keeps what its searches found, and bounds them itself)."""
    if args.command in ("bounds", "explain") or getattr(args, "method", None) == "milp":
        return None
    return getattr(args, "time_limit", None)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``shallowrelu`` command; returns the exit code."""
    argv = _merge_negative_values(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    try:
        check_time_limit(args)
        limits.set_memory_budget(getattr(args, "max_memory", None))
        with limits.stop_signals(), limits.time_limit(_run_limit(args)):
            return args.func(args)
    except SolverError as exc:
        print(f"shallowrelu: solver error: {exc}", file=sys.stderr)
        return EXIT_SOLVER
    except ShallowReLUError as exc:
        print(f"shallowrelu: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except MemoryError as exc:
        print(f"shallowrelu: error: out of memory ({exc or 'numpy could not allocate'}); "
              "try a smaller domain or a machine with more memory", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away; that is not an error of ours
        sys.stderr = open(os.devnull, "w")
        return EXIT_OK
    except OSError as exc:
        print(f"shallowrelu: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        code, words = stopped(args)
        part = Path(f"{getattr(args, 'output', None)}{PART_SUFFIX}")
        if args.command == "enumerate" and args.output and part.exists():
            # stopped outside the search (checking or saving the catalogue): the log has every finished chunk
            print(f"shallowrelu: {words}; the finished chunks are in {part}; to continue, run the same "
                  "command with --resume", file=sys.stderr)
        else:
            print(f"shallowrelu: {words}; nothing written" if getattr(args, "output", None) else
                  f"shallowrelu: {words}", file=sys.stderr)
        return code
