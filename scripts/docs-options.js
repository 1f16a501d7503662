#!/usr/bin/env node
// `npm run docs:options`: rewrites README.md's option tables from src/options
// (between the markers in src/options/render.ts). Loads the TypeScript sources
// by transpiling them on require, so it needs no build.
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(out.outputText, filename);
};
const { withReadmeOptions } = require('../src/options/render.ts');

const file = path.join(__dirname, '..', 'README.md');
const before = fs.readFileSync(file, 'utf8');
const after = withReadmeOptions(before);
if (after !== before) fs.writeFileSync(file, after);
console.log(after === before ? 'README.md options: up to date' : 'README.md options: rewritten');
