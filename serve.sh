#!/usr/bin/env bash
# Install the runtime dependencies into .venv/ and serve the map service on the
# embedded default data: http://127.0.0.1:5000/
# Usage: ./serve.sh [python -m webapp serve options, e.g. --port 8000 --layers-dir DIR]
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh requirements.txt
exec "$VENV_PY" -m webapp serve "$@"
