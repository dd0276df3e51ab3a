#!/usr/bin/env bash
# VNN-COMP tool interface: decide one instance and write the result file.
#   run_instance.sh v1 CATEGORY ONNX VNNLIB RESULTS_FILE TIMEOUT
# The result file holds sat (with the counterexample), unsat, timeout or unknown; gzipped ONNX and
# VNN-LIB files (.gz) are unpacked first. The Python used is SHALLOWRELU_PYTHON if set, else the
# .venv that install_tool.sh made, else python3; SHALLOWRELU_JOBS sets the processes (default: all cores).
set -uo pipefail
if [ "${1:-}" != "v1" ]; then echo "expected version string v1, got '${1:-}'" >&2; exit 1; fi
if [ "$#" -ne 6 ]; then echo "usage: run_instance.sh v1 CATEGORY ONNX VNNLIB RESULTS_FILE TIMEOUT" >&2; exit 1; fi
onnx="$3"; vnnlib="$4"; results="$5"; timeout="$6"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${SHALLOWRELU_PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x "$here/.venv/bin/python" ]; then python="$here/.venv/bin/python"; else python=python3; fi
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unpack() {  # a .gz file unpacked into the work folder, else the file itself
    case "$1" in
        *.gz) out="$work/$(basename "${1%.gz}")"; gzip -dc "$1" > "$out" && echo "$out" ;;
        *) echo "$1" ;;
    esac
}
onnx="$(unpack "$onnx")" && vnnlib="$(unpack "$vnnlib")" || { echo "error" > "$results"; exit 0; }
jobs="${SHALLOWRELU_JOBS:-$(nproc)}"
# The harness counts start-up in the timeout: the search gets it less two seconds (at least one).
search="$(awk -v t="$timeout" 'BEGIN { s = t - 2; print (s < 1 ? 1 : s) }')"
# the run's pid, for prepare_instance.sh to stop it should the harness move on while it lasts
pidfile="${TMPDIR:-/tmp}/shallowrelu_vnncomp_$(id -u).pid"
"$python" -m shallowrelu verify "$onnx" "$vnnlib" --timeout "$search" --jobs "$jobs" -o "$results" &
pid=$!
echo "$pid" > "$pidfile"
wait "$pid"
status=$?
rm -f "$pidfile"
if [ $status -ne 0 ] || [ ! -s "$results" ]; then echo "error" > "$results"; fi
exit 0
