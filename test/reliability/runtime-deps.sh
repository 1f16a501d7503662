#!/usr/bin/env bash
# Proves the container's runtime stage: `npm ci --omit=dev` alone (no
# devDependencies) is enough to serve a session end to end. Installs into a
# temp dir from the npm registry (or npm's local cache), copies dist/ and
# proto/ as the Dockerfile does, serves on a temp socket with the embedded
# cache, runs the bundled example through `flmrun-js invoke`, checks health,
# and stops. Run from the repository root after `npm run build`:
#   bash test/reliability/runtime-deps.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/flmrun-rt-XXXXXX)
pid=''
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

[ -f "$root/dist/cli.js" ] || { echo "build first: npm run build" >&2; exit 1; }
mkdir -p "$tmp/app" "$tmp/work"
cp "$root/package.json" "$root/package-lock.json" "$tmp/app/"
(cd "$tmp/app" && npm ci --omit=dev --no-audit --no-fund --prefer-offline >/dev/null)
cp -r "$root/dist" "$root/proto" "$root/examples" "$tmp/app/"
for dev in jest ts-jest typescript fast-check yazl; do
  if [ -e "$tmp/app/node_modules/$dev" ]; then echo "devDependency $dev was installed by --omit=dev" >&2; exit 1; fi
done

sock="$tmp/i.sock"
(cd "$tmp/work" && NODE_ENV=production FLAME_LOG=warn exec node "$tmp/app/dist/cli.js" serve --socket "$sock") &
pid=$!
for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
node "$tmp/app/dist/cli.js" health --socket "$sock"
out=$(node "$tmp/app/dist/cli.js" invoke --socket "$sock" --url "file://$tmp/app/examples/hello" --method add --args '[5,3]')
echo "$out"
echo "$out" | grep -qx 'value: 8' || { echo "expected 8 from add(5, 3)" >&2; exit 1; }
echo "runtime-deps: OK (npm ci --omit=dev serves a session)"
