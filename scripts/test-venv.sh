#!/usr/bin/env bash
# Creates (once) the virtual environment that the Python interop tests use:
# Flame's real Python SDK and its own dependencies from PyPI, pinned.
# Prints the venv's python path on stdout. Idempotent: a stamp file records the pins.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv="${FLMRUN_TEST_VENV:-$here/.test-venv}"
pins="flamepy==0.6.0 cloudpickle==3.1.2 pyarrow==26.0.1 grpcio==1.85.1 pymongo==4.20.0 pytest==9.2.0"
stamp="$venv/.flmrun-pins"
# Jest workers may call this at once (a test run without scripts/test.sh): one creates, the others wait.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$pins" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins >&2
  # pymongo's `bson` must be the one imported; the standalone `bson` package shadows it.
  "$venv/bin/python" -c "import bson, flamepy, pyarrow.flight, cloudpickle; assert hasattr(bson, 'BSON'), 'standalone bson package shadows pymongo bson'" >&2
  echo "$pins" > "$stamp"
fi
echo "$venv/bin/python"
