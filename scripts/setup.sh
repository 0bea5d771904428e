#!/usr/bin/env bash
# Set up SoundForge on a fresh Debian machine: system packages (when missing), then a virtual
# environment in .venv with the package installed. Extras to install come as arguments,
# e.g. `scripts/setup.sh test,bench`. Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"

# System packages the product and its tests use, installed only when missing: a Python that
# can make virtual environments, and PostgreSQL's server binaries (the embedded database and
# the test clusters), and ffmpeg (decoding formats libsndfile cannot read; yt-dlp's
# post-processing); for the tests also Chromium (the browser tests drive Debian's chromium
# through Playwright; `playwright install` is never run) and JACK (virtual MIDI ports).
system_packages=()
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
  system_packages+=(python3-venv)
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  system_packages+=(postgresql)
fi
if ! command -v ffmpeg >/dev/null 2>&1; then
  system_packages+=(ffmpeg)
fi
if [[ ",$extras," == *",test,"* ]] && ! command -v chromium >/dev/null 2>&1; then
  system_packages+=(chromium)
fi
# JACK: the MIDI tests and `soundforge bench control` run real virtual MIDI ports on
# `jackd -d dummy` (the machine has no sound card, so ALSA cannot make them).
if [[ ",$extras," == *",test,"* ]] && ! command -v jackd >/dev/null 2>&1; then
  system_packages+=(jackd2)
fi
# Node: a test runs the DAW page's envelope module to compare it with the server's render.
if [[ ",$extras," == *",test,"* ]] && ! command -v node >/dev/null 2>&1; then
  system_packages+=(nodejs)
fi
if [ "${#system_packages[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${system_packages[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: `torch==2.13.0` takes the CPU wheel on this machine's disk; left to
# resolve `torch>=2.1` from PyPI, pip would pull a CUDA build of several GB.
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  .venv/bin/python -m pip install -q "torch==${SOUNDFORGE_TORCH_VERSION:-2.13.0}"
fi
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[${extras}]"
else
  .venv/bin/python -m pip install -q -e .
fi
