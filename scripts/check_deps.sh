#!/usr/bin/env bash
# Dependency check (deptry): the runtime code imports only what requirements.txt
# declares and uses all of it; tests and benchmarks import only what
# requirements-dev.txt / bench/requirements.txt (with requirements.txt) declare.
# Usage: scripts/check_deps.sh [python]   (default: the project's .venv python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-${VENV_PY:-.venv/bin/python}}
"$PY" -m deptry . 
"$PY" -m deptry tests bench --requirements-files requirements-dev.txt,bench/requirements.txt \
  -kf geo -kf layers -kf webapp -kf bench -kf browser -kf load -kf network_fixtures --exclude '\.venv' --ignore DEP002 \
  --package-module-name-map pygeoapi=pygeoapi,PyYAML=yaml
