// Entry of the fuzz worker thread: loads the TypeScript sources by transpiling them on require
// (test-only; jest's transform does not reach worker threads, and the fuzz targets live in test/).
const fs = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(out.outputText, filename);
};
require('./fuzz-worker.ts');
