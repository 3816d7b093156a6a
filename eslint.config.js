import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'packages/worker/python/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/cli/src/**', 'packages/*/src/**/*.test.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // `arguments.length` tells an omitted inputs argument (no inputs) from
      // an explicit `undefined` (a caller bug), which defaults cannot.
      'prefer-rest-params': 'off',
    },
  },
);
