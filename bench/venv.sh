#!/usr/bin/env bash
# The benchmarks' own Python virtual environment (bench/.venv, git-ignored), with exactly the pins
# of the test venv (scripts/test-venv.sh, which does the work): Flame's Python runner flamepy 0.6.0
# from PyPI and its dependencies. Prints the venv's python. FLMRUN_BENCH_VENV picks another directory.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
FLMRUN_TEST_VENV="${FLMRUN_BENCH_VENV:-$here/bench/.venv}" exec bash "$here/scripts/test-venv.sh"
