/** Tests are TypeScript run by ts-jest (transpile only; `npm run typecheck` type-checks them).
 * Under jest, session child processes run the TypeScript source through sucrase's require
 * hook (src/runner/child-channel.ts), so no suite depends on a build of src/. A few suites
 * still run the built CLI (dist/cli.js) as a separate process; `npm test` builds first.
 * `npm run test:unit` (jest.unit.config.js) is the in-process tier: no Python, no build. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json', diagnostics: false }],
  },
  testTimeout: 60000,
  maxWorkers: 2,
};
