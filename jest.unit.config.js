/**
 * `npm run test:unit`: the in-process tier. Everything that needs neither
 * Python (the interop and pickle-fidelity suites), nor a build (suites that
 * start dist/cli.js or load dist/ in a worker), nor long runs (fuzz, soak,
 * load). `npm test` runs every suite and stays the CI command.
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  testPathIgnorePatterns: [
    '/node_modules/',
    // Python: the interop suites and the codecs checked against Python's pickle.
    '<rootDir>/test/codecs/',
    '<rootDir>/test/cache/(interop|keys|storage)\\.test\\.ts$',
    // The built CLI or dist/ in a worker thread.
    '<rootDir>/test/service/shutdown\\.test\\.ts$',
    '<rootDir>/test/cache/worker\\.test\\.ts$',
    '<rootDir>/test/runner/loader\\.test\\.ts$',
    '<rootDir>/test/reliability/cache-outage\\.test\\.ts$',
    '<rootDir>/test/reliability/(secrets|hostile-input)\\.test\\.ts$',
    '<rootDir>/test/flame-node/',
    '<rootDir>/test/options/cli\\.test\\.ts$',
    // TypeScript packages: ES-module hooks load from the build (src/runner/typescript/index.ts).
    '<rootDir>/test/typescript/',
    // Long runs.
    '<rootDir>/test/fuzz/',
    '<rootDir>/test/reliability/(soak|load)\\.test\\.ts$',
  ],
};
