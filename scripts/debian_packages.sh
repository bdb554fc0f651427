#!/usr/bin/env bash
# Install the Debian packages the test suite drives for real, when missing:
# chromium (browser tests), nginx (the production stack and its load-and-abuse tests),
# poppler-utils (pdftotext/pdftoppm read the exported and the browser-printed PDFs),
# postgresql + PostGIS (the PostGIS store's tests start a throw-away cluster: tests/pg_service.py).
# Runs `apt-get update` at most once. Without root or
# apt-get it names what is missing; tests that need it are then skipped
# (and fail under CI=true).
set -euo pipefail
# command each package provides, package name
_wanted=(
  "chromium chromium"
  "nginx nginx"
  "pdftoppm poppler-utils"
  "/usr/lib/postgresql/15/bin/initdb postgresql"
  "/usr/share/postgresql/15/extension/postgis.control postgresql-15-postgis-3"
)
_missing=()
for pair in "${_wanted[@]}"; do
  set -- $pair
  # nginx lives in /usr/sbin, which an ordinary user's PATH may lack
  # (a path: a file the package installs, for those whose commands are not on PATH)
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -e "$1" ] || _missing+=("$2")
done
[ ${#_missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "debian_packages.sh: installing ${_missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${_missing[@]}" >/dev/null
else
  echo "debian_packages.sh: missing Debian packages: ${_missing[*]} (not root: tests needing them are skipped)" >&2
fi
