#!/usr/bin/env bash
# Install everything the test suite needs into .venv/ (or $VENV), then run all of it:
# the dependency check, the linter and pytest on 2 workers.
# Usage: ./run_tests.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh requirements-dev.txt
bash scripts/debian_packages.sh
bash scripts/check_deps.sh "$VENV_PY"
"$VENV_PY" -m ruff check --quiet .
exec "$VENV_PY" -m pytest -n 2 -p no:cacheprovider "$@"
