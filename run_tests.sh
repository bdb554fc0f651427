#!/usr/bin/env bash
# Install everything the test suite needs into .venv/ (or $VENV), then run all of it:
# the dependency check, the linter and pytest on 2 workers; then the store-dependent part
# (API, OGC API and tiles, imports, accounts and permissions, caches, the store) once more
# against PostGIS (a throw-away cluster, tests/pg_service.py).
# Usage: ./run_tests.sh [extra pytest args]   (with args: only the first run, with them)
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh requirements-dev.txt
bash scripts/debian_packages.sh
bash scripts/check_deps.sh "$VENV_PY"
"$VENV_PY" -m ruff check --quiet .
if [ $# -gt 0 ]; then
  exec "$VENV_PY" -m pytest -n 2 -p no:cacheprovider "$@"
fi
"$VENV_PY" -m pytest -n 2 -p no:cacheprovider
# The doubled subset: everything whose answers come through the store (tests/pg_service.py, --store).
exec "$VENV_PY" -m pytest -n 2 -p no:cacheprovider --store=postgis \
  tests/test_api.py tests/test_ogc.py tests/test_tiles.py tests/test_downloads.py \
  tests/test_import_formats.py tests/test_import_limits.py tests/test_imports_web.py tests/test_gem_user.py \
  tests/test_permissions.py tests/test_viewer_caches.py tests/test_store_postgis.py
