/** Tests are TypeScript run by ts-jest (transpile only; `npm run typecheck` type-checks them).
 * Code that runs in worker threads is loaded from dist/, so `npm test` builds first. */
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
