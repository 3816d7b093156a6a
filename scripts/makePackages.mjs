// One-off generator for the per-package boilerplate; kept so that a new layer
// gets the same package.json shape. Run: node scripts/makePackages.mjs
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';

const layers = [
  ['protocol', 'Frames, messages, the JSON codec and PyroostError for pyroost.', [], false],
  ['worker', 'One supervised Python process and its pipes, for pyroost.', ['protocol'], true],
  ['pool', 'A pool of Python workers with a wait queue, sessions and statistics.', ['protocol', 'worker'], true],
  ['supervisor', 'Restart policy with back-off and intensity limit, and a health monitor, for pyroost pools.', ['protocol', 'worker', 'pool'], true],
  ['api', 'PythonPool: run named Python programs from Node.js on a supervised pool.', ['protocol', 'worker', 'pool', 'supervisor'], true],
  ['cli', 'The pyroost command: run Python programs over files, check health, benchmark.', ['protocol', 'api'], true],
];

for (const [name, description, deps, otel] of layers) {
  const dir = `packages/${name}`;
  mkdirSync(`${dir}/src`, { recursive: true });
  const pkg = {
    name: `@pyroost/${name}`,
    version: '0.1.0',
    description,
    license: 'MIT',
    type: 'module',
    sideEffects: false,
    engines: { node: '>=20.6' },
    main: './dist/index.cjs',
    module: './dist/index.js',
    types: './dist/index.d.ts',
    exports: {
      '.': {
        import: { types: './dist/index.d.ts', default: './dist/index.js' },
        require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
      },
      './package.json': './package.json',
    },
    files: ['dist', 'README.md', 'CHANGELOG.md'],
    publishConfig: { access: 'public' },
    scripts: {
      build: 'tsup',
      typecheck: 'tsc -p tsconfig.json --noEmit',
      lint: 'eslint src',
      test: `vitest run --config ../../vitest.config.ts --project ${name}`,
    },
    dependencies: Object.fromEntries(deps.map((d) => [`@pyroost/${d}`, 'workspace:^'])),
  };
  if (otel) {
    pkg.peerDependencies = { '@opentelemetry/api': '^1.9.0' };
    pkg.devDependencies = { '@opentelemetry/api': '^1.9.0' };
  }
  if (!existsSync(`${dir}/package.json`)) {
    writeFileSync(`${dir}/package.json`, JSON.stringify(pkg, null, 2) + '\n');
  }
  writeFileSync(
    `${dir}/tsconfig.json`,
    JSON.stringify(
      { extends: '../../tsconfig.base.json', compilerOptions: { customConditions: ['source'], noEmit: true }, include: ['src'] },
      null,
      2,
    ) + '\n',
  );
  writeFileSync(
    `${dir}/tsconfig.build.json`,
    JSON.stringify(
      { extends: '../../tsconfig.base.json', include: ['src'], exclude: ['src/**/*.test.ts'] },
      null,
      2,
    ) + '\n',
  );
  writeFileSync(
    `${dir}/tsup.config.ts`,
    `import { definePackageBuild } from '../../tsup.shared.js';\n\nexport default definePackageBuild(import.meta.url);\n`,
  );
}
