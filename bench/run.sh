#!/usr/bin/env bash
# `npm run bench [-- --quick | --only ... | --small-n N | --steady-n N | --profile | --no-doc]`:
# builds flmrun-js, makes the bench's Python venv on first use (bench/venv.sh), runs every
# benchmark of issue 5 and writes docs/benchmarks.md + docs/benchmarks.svg. Not part of `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json || echo "bench: tsc reported type errors; benchmarking what it emitted" >&2
[ -f dist/cli.js ] || { echo "bench: dist/cli.js missing after the build" >&2; exit 1; }
# Every process of the bench runs with the glibc malloc setting serve gives its session processes
# (src/runner/child-channel.ts), where the cache client runs in production; the cache section's clients run
# in processes of their own (bench/cache-client.js), which inherit it. Python's processes get it too (pyarrow
# allocates through jemalloc, not glibc). A value already set, even empty, is kept, as serve keeps it.
export GLIBC_TUNABLES="${GLIBC_TUNABLES-glibc.malloc.hugetlb=1}"
export FLMRUN_BENCH_PYTHON="${FLMRUN_BENCH_PYTHON:-$(bash bench/venv.sh)}"
exec node -r ./bench/register.js bench/main.ts "$@"
