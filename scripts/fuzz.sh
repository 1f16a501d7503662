#!/usr/bin/env bash
# The long fuzz run (issue 6): every fuzz target of test/fuzz with RUNS inputs
# (default 100000), a random seed unless FLMRUN_FUZZ_SEED is set. Figures go to
# .test-results/fuzz/<target>.json; failing inputs to test/fuzz/corpus/<target>/.
#   bash scripts/fuzz.sh [RUNS] [jest args, e.g. test/fuzz/codecs.test.ts]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100000}
shift || true
rm -rf .test-results/fuzz
FLMRUN_FUZZ_RUNS=$runs npx jest --runInBand "${@:-test/fuzz}"
rc=$?
node -e '
  const fs = require("fs"), dir = ".test-results/fuzz";
  if (!fs.existsSync(dir)) process.exit(0);
  console.log("target                 inputs  accepted  refused  seconds  failures  seed");
  for (const f of fs.readdirSync(dir).sort()) {
    const s = JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8"));
    console.log(`${s.target.padEnd(20)} ${String(s.inputs).padStart(8)} ${String(s.accepted).padStart(9)} ${String(s.refused).padStart(8)} ${String(s.seconds).padStart(8)} ${String(s.failures).padStart(9)}  ${s.seed}`);
  }'
exit $rc
