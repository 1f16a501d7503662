#!/usr/bin/env bash
# `npm start`: install if needed, build, then serve with an embedded object cache
# and run the example package end to end (extra arguments go to `serve`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
exec node dist/cli.js serve --demo "$@"
