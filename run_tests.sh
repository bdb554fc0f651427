#!/usr/bin/env bash
# Install everything the test suite needs, then run all of it.
# Usage: ./run_tests.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
"$PY" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "run_tests.sh: Debian chromium is not installed and I am not root; browser tests will be skipped" >&2
  fi
fi
"$PY" -m ruff check --quiet .
exec "$PY" -m pytest -n 2 -p no:cacheprovider "$@"
