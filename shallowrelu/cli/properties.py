"""The commands about properties of the outputs: ``bounds`` (exact ranges) and ``verify`` (VNN-LIB).

Owns their options, what they print and the VNN-COMP result file ``verify -o``
writes. Exit status 0 whatever the verdict.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..choices import VERIFY_METHODS
from ..io.files import atomic_write_text
from ..limits import process_age
from .common import (EXIT_OK, UsageError, add_common, add_jobs, check_jobs, check_output, domain_from_args, emit,
                     load_net, search_options, subcommand)


def cmd_bounds(args: argparse.Namespace) -> int:
    """``shallowrelu bounds``: the exact output range by MILP."""
    from ..milp import output_bounds

    search_options(args)
    net = load_net(args)
    outputs = range(net.n_outputs) if args.output_index is None else [args.output_index]
    if args.output_index is not None and not 0 <= args.output_index < net.n_outputs:
        raise UsageError(f"--output-index {args.output_index}: the network has {net.n_outputs} outputs")
    found = [output_bounds(net, domain_from_args(args, net.n_inputs), j, time_limit=args.time_limit)
             for j in outputs]
    lines = [f"y{b.output + 1}: " + (f"min {b.min:.6g} at {np.round(b.argmin, 6).tolist()}, "
                                    f"max {b.max:.6g} at {np.round(b.argmax, 6).tolist()}"
                                    if b.status == "optimal" else "timeout (no answer)") for b in found]
    emit(args, {"bounds": [b.as_dict() for b in found]}, lines)
    return EXIT_OK


# The work record in words, for the summary line.
_WORK_WORDS = {"points": "points tried", "lps": "walk LPs", "boxes": "boxes bounded",
               "exact_boxes": "boxes searched exactly", "domains": "neuron-split domains bounded",
               "regions": "regions checked by LP", "pruned": "branches closed by bounds", "milps": "MILPs solved"}
# Seconds kept from ``--timeout`` for printing the verdict and leaving (stopping a racing process).
_EXIT_SECONDS = 0.2


def cmd_verify(args: argparse.Namespace) -> int:
    """``shallowrelu verify``: a VNN-LIB property of an ONNX network."""
    from ..verification import load_vnnlib, verify

    check_output(args.output)
    check_jobs(args)
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout}: must be positive")
    net = load_net(args)
    prop = load_vnnlib(args.prop)
    # The timeout counts from the command's start, as a harness's clock does: loading is part of it.
    timeout = None if args.timeout is None else max(args.timeout - process_age() - _EXIT_SECONDS, 0.0)
    res = verify(net, prop, timeout=timeout, method=args.method, jobs=args.jobs, backend=args.backend)
    if args.output:
        atomic_write_text(args.output, res.vnncomp_text())
    done = ", ".join(f"{getattr(res.work, k)} {words}" for k, words in _WORK_WORDS.items() if getattr(res.work, k))
    lines = [f"{res.verdict.value} ({res.seconds:.2f} s; decided by {res.decided_by or 'nothing'}"
             f"{'; ' + done if done else ''}{'; ' + res.note if res.note else ''})"]
    if res.x is not None:
        label = net.labels_of(res.y)[0]
        lines.append(f"counterexample x = {res.x.tolist()}")
        lines.append(f"               y = {res.y.tolist()} (label {label})")
    payload = res.as_dict() | {"output": args.output}
    if res.y is not None:
        payload["label"] = net.labels_of(res.y)[0]
    emit(args, payload, lines)
    return EXIT_OK


def add_bounds(sub) -> None:
    """The ``bounds`` command and its options."""
    p = subcommand(sub, "bounds", cmd_bounds, "exact minimum and maximum of the outputs over a bounded domain",
                   "Solve the big-M MILP of NET (PuLP with HiGHS; big-M from sound interval bounds) for the "
                   "exact range of each output and the inputs that attain it.",
                   "shallowrelu bounds net.npz --box=-1,1 --json", "network file (.npz, .onnx, .nnet)")
    p.add_argument("--output-index", type=int, metavar="J", help="only output J (0-based)")
    p.add_argument("--time-limit", type=float, metavar="S", help="seconds per MILP; a timeout gives no answer")


def add_verify(sub) -> None:
    """The ``verify`` command and its options."""
    p = sub.add_parser("verify", help="decide a VNN-LIB property: sat (with a counterexample), unsat, timeout",
                       description="Decide a VNN-LIB property (it describes the unsafe set): a gradient attack "
                                   "and a walk over regions look for a counterexample, then each disjunct is "
                                   "decided by the methods that suit the network: with fewer than 32 inputs a "
                                   "branch-and-bound over input sub-boxes (CROWN bounds) raced against the exact "
                                   "search over the activation regions; with more, a branch-and-bound over ReLUs "
                                   "(alpha- and beta-CROWN bounds), raced against the MILP on small networks. "
                                   "Exit status 0 whatever the verdict.",
                       epilog="example: shallowrelu verify net.onnx prop.vnnlib --timeout 60 -o result.txt --json")
    p.add_argument("net", metavar="NET", help="network (.onnx, .nnet, .pt2 or .npz)")
    p.add_argument("prop", metavar="PROP", help="VNN-LIB property (.vnnlib)")
    p.add_argument("--tensor", metavar="NAME", help="ONNX networks: the tensor the property is about (default: "
                   "the output; a classifier's head is read up to its logits)")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds before answering timeout")
    p.add_argument("--method", choices=VERIFY_METHODS, default="bab",
                   help="bab: the methods that suit the network, as above (default); input: the attack, then "
                        "input splitting only; neuron: the attack, then ReLU splitting only; tree: the region "
                        "search only; milp: one big-M MILP per input box (its disjuncts at once), the "
                        "independent second method")
    add_jobs(p, "processes (and cores) to use: the region search's subtrees for --method tree, else disjuncts "
                "or racing methods side by side, each with one BLAS thread", "where --method tree runs its subtrees "
                "(the other methods run on this machine): ")
    p.add_argument("-o", "--output", metavar="RESULT", help="write the VNN-COMP result file here")
    add_common(p)
    p.set_defaults(func=cmd_verify)
