// Checks the declared layer order: cli, nats → api → supervisor → pool →
// worker → protocol. A package may depend only on layers below it, only
// through `workspace:^` ranges, and its sources may import a sibling only by
// its bare name `@pyroost/<name>`, never a path into the sibling's files.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  readManifest,
  run,
  describeRun,
  type Manifest,
} from './packagingSupport.js';

/** Rank of each layer: a package may depend only on lower ranks. */
const LAYER_RANK: Readonly<Record<string, number>> = {
  protocol: 0,
  worker: 1,
  pool: 2,
  supervisor: 3,
  api: 4,
  cli: 5,
  nats: 5,
};

const DEPENDENCY_FIELDS = [
  'dependencies',
  'peerDependencies',
  'optionalDependencies',
  'devDependencies',
] as const;

const ROOT_MANIFEST = readManifest(join(REPO_ROOT, 'package.json'));

function layerName(packageName: string): string | undefined {
  return /^@pyroost\/([^/]+)$/.exec(packageName)?.[1];
}

/** Problems in one package.json, as readable sentences. */
function manifestViolations(directory: string, manifest: Manifest): string[] {
  const problems: string[] = [];
  const own = layerName(manifest.name);
  if (own !== directory) {
    problems.push(
      `packages/${directory} is named ${manifest.name}; expected @pyroost/${directory}.`,
    );
  }
  const ownRank = LAYER_RANK[directory];
  if (ownRank === undefined) {
    problems.push(
      `@pyroost/${directory} is not in the declared layer order ` +
        `(${Object.keys(LAYER_RANK).join(', ')}); add it to LAYER_RANK in tests/layering.test.ts and docs/packaging.md.`,
    );
    return problems;
  }
  for (const field of DEPENDENCY_FIELDS) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (!name.startsWith('@pyroost/')) continue;
      const target = layerName(name);
      const targetRank = target === undefined ? undefined : LAYER_RANK[target];
      if (targetRank === undefined) {
        problems.push(
          `@pyroost/${directory} ${field} lists ${name}, which is outside the declared layer order.`,
        );
      } else if (targetRank >= ownRank) {
        problems.push(
          `@pyroost/${directory} ${field} lists ${name}, which is not below it ` +
            '(cli, nats → api → supervisor → pool → worker → protocol).',
        );
      }
      if (range !== 'workspace:^') {
        problems.push(
          `@pyroost/${directory} ${field} has ${name}@${range}; internal ranges must be workspace:^.`,
        );
      }
    }
  }
  return problems;
}

/** Module specifiers of every import, export-from, dynamic import and require in a source text. */
function importSpecifiers(source: string): string[] {
  // TypeScript's own pre-processor finds them without being fooled by
  // strings or comments that look like imports.
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((file) => file.fileName);
}

/** Returns the npm package that a bare specifier names: `a/b` → `a`, `@s/a/b` → `@s/a`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@')
    ? parts.slice(0, 2).join('/')
    : (parts[0] as string);
}

const BUILTINS = new Set(builtinModules);

/** Problems with one import in a file of packages/<directory>/src. */
function importViolation(
  directory: string,
  manifest: Manifest,
  file: string,
  specifier: string,
): string | undefined {
  const where = `${relative(REPO_ROOT, file)} imports '${specifier}'`;
  const isTest = /\.test\.tsx?$/.test(file);

  if (specifier.startsWith('.')) {
    const target = resolve(file, '..', specifier);
    const ownDirectory = join(REPO_ROOT, 'packages', directory) + sep;
    return target.startsWith(ownDirectory)
      ? undefined
      : `${where}, a path outside @pyroost/${directory}; import the sibling by its package name.`;
  }
  if (specifier.startsWith('node:') || BUILTINS.has(specifier))
    return undefined;

  if (specifier.startsWith('@pyroost/')) {
    if (layerName(specifier) === undefined) {
      return `${where}: only the bare name @pyroost/<name> may be imported, not a path into the package.`;
    }
    const target = layerName(specifier) as string;
    if (target === directory) return `${where}, its own package name.`;
    const declared = DEPENDENCY_FIELDS.some(
      (field) => manifest[field]?.[specifier] !== undefined,
    );
    return declared
      ? undefined
      : `${where}, which its package.json does not list.`;
  }

  const name = packageOf(specifier);
  const runtime = { ...manifest.dependencies, ...manifest.peerDependencies };
  const development = {
    ...manifest.devDependencies,
    ...ROOT_MANIFEST.devDependencies,
  };
  if (name in runtime) return undefined;
  if (isTest && name in development) return undefined;
  return isTest
    ? `${where}, which neither its package.json nor the root package.json lists.`
    : `${where}, which is not in its dependencies or peerDependencies.`;
}

function sourceFiles(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(?:ts|tsx|mts|cts|js|mjs|cjs)$/.test(entry.name) ? [path] : [];
  });
}

/** Workspace packages under packages/, by folder name. */
function workspacePackages(): [string, Manifest][] {
  const packagesDirectory = join(REPO_ROOT, 'packages');
  return readdirSync(packagesDirectory, { withFileTypes: true })
    .filter(
      (entry) =>
        entry.isDirectory() &&
        !entry.name.startsWith('.') &&
        existsSync(join(packagesDirectory, entry.name, 'package.json')),
    )
    .map((entry) => [
      entry.name,
      readManifest(join(packagesDirectory, entry.name, 'package.json')),
    ]);
}

describe('layer rules checker', () => {
  const api: Manifest = {
    name: '@pyroost/api',
    version: '1.0.0',
    dependencies: { '@pyroost/pool': 'workspace:^' },
  };

  it('flags a dependency on a higher layer', () => {
    const pool: Manifest = {
      name: '@pyroost/pool',
      version: '1.0.0',
      dependencies: { '@pyroost/api': 'workspace:^' },
    };
    expect(manifestViolations('pool', pool)).toEqual([
      expect.stringContaining('lists @pyroost/api, which is not below it'),
    ]);
  });

  it('flags a dependency on the same rank', () => {
    const cli: Manifest = {
      name: '@pyroost/cli',
      version: '1.0.0',
      peerDependencies: { '@pyroost/nats': 'workspace:^' },
    };
    expect(manifestViolations('cli', cli)).toHaveLength(1);
  });

  it('flags packages outside the order and fixed ranges', () => {
    const worker: Manifest = {
      name: '@pyroost/worker',
      version: '1.0.0',
      dependencies: {
        '@pyroost/extras': 'workspace:^',
        '@pyroost/protocol': '^1.0.0',
      },
    };
    const problems = manifestViolations('worker', worker);
    expect(problems).toContainEqual(
      expect.stringContaining('outside the declared layer order'),
    );
    expect(problems).toContainEqual(
      expect.stringContaining('internal ranges must be workspace:^'),
    );
    expect(
      manifestViolations('extras', {
        name: '@pyroost/extras',
        version: '1.0.0',
      }),
    ).toContainEqual(
      expect.stringContaining('not in the declared layer order'),
    );
  });

  it('accepts a manifest that follows the rules', () => {
    expect(manifestViolations('api', api)).toEqual([]);
  });

  it('finds every kind of import', () => {
    const source = [
      "import { a } from '@pyroost/pool';",
      "import type {\n  B,\n} from './b.js';",
      "export * from '../../worker/src/c.js';",
      "import 'side-effect';",
      "const d = await import('@pyroost/protocol');",
      "const e = require('node:fs');",
      "const text = 'fail-at-import'; // import from 'commented-out'",
    ].join('\n');
    expect(importSpecifiers(source).sort()).toEqual(
      [
        '../../worker/src/c.js',
        './b.js',
        '@pyroost/pool',
        '@pyroost/protocol',
        'node:fs',
        'side-effect',
      ].sort(),
    );
  });

  it('flags sibling internals and undeclared packages', () => {
    const file = join(REPO_ROOT, 'packages', 'api', 'src', 'x.ts');
    expect(
      importViolation('api', api, file, '../../pool/src/pool.js'),
    ).toContain('a path outside @pyroost/api');
    expect(
      importViolation('api', api, file, '@pyroost/pool/dist/index.js'),
    ).toContain('only the bare name');
    expect(importViolation('api', api, file, '@pyroost/worker')).toContain(
      'does not list',
    );
    expect(importViolation('api', api, file, 'left-pad')).toContain(
      'not in its dependencies',
    );
    expect(importViolation('api', api, file, '@pyroost/pool')).toBeUndefined();
    expect(
      importViolation('api', api, file, './pythonPool.js'),
    ).toBeUndefined();
    expect(importViolation('api', api, file, 'node:events')).toBeUndefined();
  });
});

describe('workspace layering', () => {
  const packages = workspacePackages();

  it('has the published layers', () => {
    const names = packages.map(([directory]) => directory);
    for (const layer of [
      'protocol',
      'worker',
      'pool',
      'supervisor',
      'api',
      'cli',
    ]) {
      expect(names).toContain(layer);
    }
  });

  it.each(packages)(
    '@pyroost/%s depends only on lower layers',
    (directory, manifest) => {
      expect(manifestViolations(directory, manifest)).toEqual([]);
    },
  );

  it.each(packages)(
    '@pyroost/%s imports no sibling internals',
    (directory, manifest) => {
      const files = sourceFiles(join(REPO_ROOT, 'packages', directory, 'src'));
      expect(files.length).toBeGreaterThan(0);
      const problems = files.flatMap((file) =>
        importSpecifiers(readFileSync(file, 'utf8'))
          .map((specifier) =>
            importViolation(directory, manifest, file, specifier),
          )
          .filter((problem): problem is string => problem !== undefined),
      );
      expect(problems).toEqual([]);
    },
  );

  it.each(packages)(
    '@pyroost/%s declares @opentelemetry/api as a peer when it uses it',
    (directory, manifest) => {
      const files = sourceFiles(join(REPO_ROOT, 'packages', directory, 'src'));
      const uses = files.some(
        (file) =>
          !/\.test\.tsx?$/.test(file) &&
          importSpecifiers(readFileSync(file, 'utf8')).includes(
            '@opentelemetry/api',
          ),
      );
      expect(manifest.dependencies?.['@opentelemetry/api']).toBeUndefined();
      if (uses) {
        expect(manifest.peerDependencies?.['@opentelemetry/api']).toMatch(
          /^\^1\./,
        );
        expect(manifest.devDependencies?.['@opentelemetry/api']).toBeDefined();
      }
    },
  );

  it('every core layer has a test tagged core', async () => {
    const result = await run('node', ['scripts/testCore.mjs', '--list']);
    expect(result.code, describeRun(result)).toBe(0);
    const files = JSON.parse(result.stdout) as Record<string, string[]>;
    for (const layer of ['protocol', 'worker', 'pool', 'supervisor', 'api']) {
      expect(
        files[layer]?.length ?? 0,
        `core test files of ${layer}`,
      ).toBeGreaterThan(0);
    }
  });
});
