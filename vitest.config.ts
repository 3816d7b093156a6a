import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const layers = ['protocol', 'worker', 'pool', 'supervisor', 'api', 'cli'];

// Tests import the workspace packages from their sources, so `pnpm test`
// needs no prior build.
const alias = Object.fromEntries(
  layers.map((name) => [
    `@pyroost/${name}`,
    fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url)),
  ]),
);

function packageVersion(name: string): string {
  const url = new URL(`./packages/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

export default defineConfig({
  test: {
    // `pnpm test:core` runs only tests tagged `core` (see docs/packaging.md).
    // Mark a whole file with a `// @module-tag core` comment, or one test or
    // describe block with `{ tags: ['core'] }`.
    tags: [
      {
        name: 'core',
        description: 'Essential tests of a layer, run by pnpm test:core.',
      },
    ],
    projects: [
      ...layers.map((name) => ({
        resolve: { alias },
        define: {
          __PACKAGE_NAME__: JSON.stringify(`@pyroost/${name}`),
          __PACKAGE_VERSION__: JSON.stringify(packageVersion(name)),
        },
        test: {
          name,
          root: `./packages/${name}`,
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      })),
      {
        resolve: { alias },
        define: {
          __PACKAGE_NAME__: JSON.stringify('@pyroost/tests'),
          __PACKAGE_VERSION__: JSON.stringify('0.0.0'),
        },
        test: {
          name: 'integration',
          root: './tests',
          include: ['**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
