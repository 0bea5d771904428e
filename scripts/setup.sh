#!/usr/bin/env bash
# Set up SoundForge on a fresh Debian machine: system packages (when missing), then a virtual
# environment in .venv with the package installed. Extras to install come as arguments,
# e.g. `scripts/setup.sh test,bench`. Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"

# System packages the product and its tests use. Nothing is needed beyond Python yet; the
# list grows with PostgreSQL, ffmpeg and Chromium as the issues that use them land.
system_packages=(python3-venv)
missing=()
for package in "${system_packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq "${missing[@]}"
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[${extras}]"
else
  .venv/bin/python -m pip install -q -e .
fi
