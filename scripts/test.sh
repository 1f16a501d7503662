#!/usr/bin/env bash
# The one test command (`npm test`): installs what it needs, builds, type-checks,
# runs every jest suite (including the Python interop suites, which make their
# own virtual environment) and the pytest suite, then prints the closing line
# `N passed, N failed` from the runners' own counts.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/.test-results"
mkdir -p "$out"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund || exit 1
fi
npm run --silent build || { echo "0 passed, 1 failed"; exit 1; }
npm run --silent typecheck || { echo "0 passed, 1 failed"; exit 1; }

FLMRUN_TEST_PYTHON=$(bash scripts/test-venv.sh) || { echo "could not create the Python test venv" >&2; echo "0 passed, 1 failed"; exit 1; }
export FLMRUN_TEST_PYTHON

rm -f "$out/jest.json"
npx jest --json --outputFile="$out/jest.json" "$@"
jest_rc=$?

py_passed=0; py_failed=0; py_rc=0
if [ -d test/python ] && [ $# -eq 0 ]; then
  node dist/cli.js --version >/dev/null 2>&1 || true
  "$FLMRUN_TEST_PYTHON" -m pytest -q test/python --junitxml="$out/pytest.xml"
  py_rc=$?
  [ "$py_rc" -eq 5 ] && py_rc=0 # no tests collected
  if [ -f "$out/pytest.xml" ]; then
    read -r py_passed py_failed < <("$FLMRUN_TEST_PYTHON" - "$out/pytest.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
suites = [r] if r.tag == 'testsuite' else list(r)
t = sum(int(s.get('tests', 0)) for s in suites)
f = sum(int(s.get('failures', 0)) + int(s.get('errors', 0)) for s in suites)
sk = sum(int(s.get('skipped', 0)) for s in suites)
print(t - f - sk, f)
PY
)
  fi
fi

read -r j_passed j_failed < <(node -e '
  try { const r = require(process.argv[1]);
        console.log(r.numPassedTests, r.numFailedTests + (r.numRuntimeErrorTestSuites || 0)); }
  catch { console.log("0 1"); }' "$out/jest.json")

passed=$((j_passed + py_passed)); failed=$((j_failed + py_failed))
[ "$jest_rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
[ "$py_rc" -ne 0 ] && [ "$py_failed" -eq 0 ] && failed=$((failed + 1))
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
