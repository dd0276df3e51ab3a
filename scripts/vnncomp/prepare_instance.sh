#!/usr/bin/env bash
# VNN-COMP tool interface: get ready for one instance.
#   prepare_instance.sh v1 CATEGORY ONNX VNNLIB
# shallowrelu keeps no state between instances; this stops a run a previous instance may have left
# and checks that both files are there.
set -euo pipefail
if [ "${1:-}" != "v1" ]; then echo "expected version string v1, got '${1:-}'" >&2; exit 1; fi
if [ "$#" -ne 4 ]; then echo "usage: prepare_instance.sh v1 CATEGORY ONNX VNNLIB" >&2; exit 1; fi
pkill -f "shallowrelu verify" 2> /dev/null || true
for f in "$3" "$4"; do
    if [ ! -f "$f" ]; then echo "$f: no such file" >&2; exit 1; fi
done
