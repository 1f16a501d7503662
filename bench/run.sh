#!/usr/bin/env bash
# `npm run bench [-- --quick | --only ... | --small-n N | --steady-n N | --profile | --no-doc | --cache-endpoint URL | --flame-endpoint URL]`:
# builds flmrun-js, makes the bench's Python venv on first use (bench/venv.sh), runs every
# benchmark of issue 5 and writes docs/benchmarks.md + docs/benchmarks.svg. Not part of `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json || echo "bench: tsc reported type errors; benchmarking what it emitted" >&2
[ -f dist/cli.js ] || { echo "bench: dist/cli.js missing after the build" >&2; exit 1; }
# GLIBC_TUNABLES is left as it is (unset unless you set it), as Flame starts serve and the Python runner: serve
# gives its session processes glibc.malloc.hugetlb=1 (src/runner/child-channel.ts), the cache section's clients
# get the same (bench/cache.ts), our cache process what docker-compose.yml gives it (bench/procs.ts). A value
# set here, even empty, goes to every process instead.
export FLMRUN_BENCH_PYTHON="${FLMRUN_BENCH_PYTHON:-$(bash bench/venv.sh)}"
exec node -r ./bench/register.js bench/main.ts "$@"
