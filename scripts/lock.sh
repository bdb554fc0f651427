#!/usr/bin/env bash
# Refresh constraints.txt: resolve requirements-dev.txt (and bench/requirements.txt)
# from scratch in a throw-away virtual environment and pin every package of the
# tree at the version installed. Run the suite afterwards and commit both.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -r bench/requirements.txt
{
  echo "# Exact versions of the whole dependency tree the suite last passed with."
  echo "# Installed with: pip install -r requirements(-dev).txt -c constraints.txt"
  echo "# Refresh: scripts/lock.sh, then ./run_tests.sh, then commit."
  "$tmp/venv/bin/python" -m pip freeze --disable-pip-version-check --exclude-editable | LC_ALL=C sort -f
} > constraints.txt
echo "constraints.txt: $(grep -vc '^#' constraints.txt) packages pinned"
