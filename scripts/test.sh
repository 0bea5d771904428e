#!/usr/bin/env bash
# Set up everything the test suite needs, then run the whole suite (slow tests included).
# Extra arguments go to pytest, e.g. `scripts/test.sh tests/runtime -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,bench
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest --durations=30 "$@"
