// `npm run lint`: ESLint with typescript-eslint, type-aware, over src/, test/ and bench/.
// The rules that matter most here are the ones the compiler cannot see: a promise
// nobody awaits (a lost failure), a promise where a callback's result is ignored,
// and `as Error` casts (a thrown value can be anything; use FlmError.from/describeThrown).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.test-*/', 'test/fixtures/', 'src/generated/', 'examples/', 'deploy/', 'coverage/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Decoders and archive checks look for NUL and control characters on purpose.
      'no-control-regex': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector: "TSAsExpression > TSTypeReference.typeAnnotation[typeName.name='Error']",
          message: 'No `as Error`: a thrown value can be anything. Use isFlmError/FlmError.from, describeThrown, or `instanceof Error`.',
        },
        {
          selector: "TSTypeAssertion > TSTypeReference.typeAnnotation[typeName.name='Error']",
          message: 'No `<Error>` casts: a thrown value can be anything.',
        },
      ],
      'no-restricted-properties': [
        'error',
        ...['describe', 'it', 'test'].map((object) => ({ object, property: 'only', message: 'A focused test skips the others.' })),
      ],
    },
  },
);
