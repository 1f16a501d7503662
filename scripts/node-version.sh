#!/usr/bin/env bash
# Brings a Node.js release line (e.g. 22, 24) from the npm registry's
# node-<os>-<arch> package into .test-node/<line>/ (no install script runs)
# and prints its bin directory. Used by `npm test` to run the suites on every
# supported LTS line, not only the machine's Node.
set -euo pipefail
line="$1"
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.test-node/$line"
if [ ! -x "$dest/package/bin/node" ]; then
  os=$(node -p 'process.platform'); arch=$(node -p 'process.arch')
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-$os-$arch@$line" >/dev/null)
  rm -rf "$dest" && mkdir -p "$dest"
  tar xzf "$tmp"/node-*.tgz -C "$dest"
fi
"$dest/package/bin/node" --version >&2
echo "$dest/package/bin"
