#!/usr/bin/env bash
# VNN-COMP tool interface: get ready for one instance.
#   prepare_instance.sh v1 CATEGORY ONNX VNNLIB
# shallowrelu keeps no state between instances; this stops the run a previous instance of this harness
# may have left (the one run_instance.sh noted in its pid file, never another shallowrelu process of
# the machine) and checks that both files are there.
set -euo pipefail
if [ "${1:-}" != "v1" ]; then echo "expected version string v1, got '${1:-}'" >&2; exit 1; fi
if [ "$#" -ne 4 ]; then echo "usage: prepare_instance.sh v1 CATEGORY ONNX VNNLIB" >&2; exit 1; fi
pidfile="${TMPDIR:-/tmp}/shallowrelu_vnncomp_$(id -u).pid"
if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2> /dev/null || true
    rm -f "$pidfile"
fi
for f in "$3" "$4"; do
    if [ ! -f "$f" ]; then echo "$f: no such file" >&2; exit 1; fi
done
