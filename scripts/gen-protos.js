#!/usr/bin/env node
// Generates TypeScript types for the protos into src/generated/<set>/ (or --out DIR/<set>/)
// with proto-loader-gen-types and exactly the options src/wire/protos.ts passes to loadSync
// (both read src/wire/proto-sets.json). test/wire/generated.test.ts fails when the output is stale.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SETS = JSON.parse(fs.readFileSync(path.join(ROOT, 'src', 'wire', 'proto-sets.json'), 'utf8'));
const GENERATOR = require.resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js');

const outFlag = process.argv.indexOf('--out');
const out = path.resolve(outFlag > 0 ? process.argv[outFlag + 1] : path.join(ROOT, 'src', 'generated'));

/** proto-loader options as the generator's flags. */
function flags(options) {
  const f = [];
  for (const [k, v] of Object.entries(options)) {
    if (v === true) f.push(`--${k}`);
    else if (v !== false) f.push(`--${k}=${v}`);
  }
  return f;
}

for (const [name, set] of Object.entries(SETS)) {
  if (name === '//') continue;
  const dir = path.join(out, name);
  fs.rmSync(dir, { recursive: true, force: true });
  // Relative paths, from the repository root: the generated headers name the proto files the same way everywhere.
  execFileSync(process.execPath, [GENERATOR, ...flags(set.options), '--grpcLib=@grpc/grpc-js', '-I', 'proto', '-O', dir, ...set.files], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
