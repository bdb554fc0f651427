#!/usr/bin/env bash
# Regenerate the example figures in docs/figures/ (referenced from the README) with the CLI.
# Usage: bash scripts/docs_figures.sh   (uses .venv/, like ./serve.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh requirements.txt
out=docs/figures
mkdir -p "$out"
export_() { "$VENV_PY" -m webapp export "$@"; }
export_ --out "$out/overview_a4_landscape.pdf" --paper a4 --orientation landscape
export_ --out "$out/overview_a4_100dpi.png" --paper a4 --orientation landscape --dpi 100
export_ --layers tapi --out "$out/tapi_a4_300dpi.png" --paper a4 --dpi 300
export_ --layers casa1000 --out "$out/casa1000_letter_portrait.svg" --paper letter --orientation portrait
export_ --corridor tapi:tapi_trunk --width-km 50 --with places,ports,energy_projects \
    --out "$out/tapi_corridor_50km_a4.pdf" --paper a4
export_ --from Kashgar --to Gwadar --modes road --out "$out/kashgar_gwadar_road_a4.pdf" --paper a4
