#!/usr/bin/env bash
# Source me: create (or reuse) the project's virtual environment and install
# one requirements file into it, pinned by constraints.txt.
#
#   VENV=.venv (default) | any path      where the environment lives
#   PYTHON=python3 (default)             the interpreter that creates it
#
# Usage: source scripts/venv.sh requirements.txt|requirements-dev.txt
# After it, "$VENV_PY" is the environment's python.
set -euo pipefail
_req=${1:?requirements file}
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-"$_root/.venv"}
_base_py=${PYTHON:-python3}

if ! command -v "$_base_py" >/dev/null 2>&1; then
  echo "venv.sh: $_base_py not found; install Python 3.11+ (Debian: apt-get install python3 python3-venv)" >&2
  return 1 2>/dev/null || exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  # Debian's python3 has venv without ensurepip unless python3-venv is installed.
  if ! "$_base_py" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "venv.sh: installing Debian python3-venv" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$_base_py" -m venv "$VENV"
    else
      echo "venv.sh: '$_base_py -m venv' failed; on Debian run: sudo apt-get install python3-venv" >&2
      return 1 2>/dev/null || exit 1
    fi
  fi
fi
VENV_PY="$VENV/bin/python"

# Reinstall only when the requirements or the lock changed since the last install.
_stamp="$VENV/.installed-$(basename "$_req")"
_want=$(cat "$_root/$_req" "$_root/requirements.txt" "$_root/constraints.txt" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$_stamp" 2>/dev/null)" != "$_want" ]; then
  "$VENV_PY" -m pip install --quiet --disable-pip-version-check -r "$_root/$_req" -c "$_root/constraints.txt"
  echo "$_want" > "$_stamp"
fi
export VENV VENV_PY
