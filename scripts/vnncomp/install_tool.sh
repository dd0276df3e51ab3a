#!/usr/bin/env bash
# VNN-COMP tool interface: install shallowrelu for the competition harness.
#   install_tool.sh v1
# Makes a virtual environment beside this script (.venv) with the package from this checkout.
set -euo pipefail
if [ "${1:-}" != "v1" ]; then echo "expected version string v1, got '${1:-}'" >&2; exit 1; fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python3 -m venv "$here/.venv"
"$here/.venv/bin/python" -m pip install -q --upgrade pip
"$here/.venv/bin/python" -m pip install -q "$here/../.[onnx]"
"$here/.venv/bin/python" -m shallowrelu --help > /dev/null
