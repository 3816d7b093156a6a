// Packs every package with `pnpm pack`, lints the tarballs with publint and
// @arethetypeswrong/cli, and installs them with npm into empty projects
// outside the workspace to run real Python programs from ESM and CommonJS.
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LAYERS,
  REPO_ROOT,
  buildOutputs,
  consumerEnv,
  describeRun,
  ensureBuilt,
  pack,
  packageDirectory,
  readManifest,
  run,
  runOrThrow,
  type Layer,
  type Manifest,
} from './packagingSupport.js';

const BIN = join(REPO_ROOT, 'tests', 'node_modules', '.bin');
const INSTALL_TIMEOUT_MS = 600_000;

let workDirectory: string;
const tarballs = new Map<Layer, string>();

beforeAll(async () => {
  workDirectory = mkdtempSync(join(tmpdir(), 'pyroost-packaging-'));
  await ensureBuilt();
  const destination = join(workDirectory, 'tarballs');
  mkdirSync(destination);
  for (const layer of LAYERS) {
    tarballs.set(layer, await pack(layer, destination));
  }
}, 900_000);

afterAll(() => {
  if (workDirectory) rmSync(workDirectory, { recursive: true, force: true });
});

function tarball(layer: Layer): string {
  const path = tarballs.get(layer);
  if (!path) throw new Error(`No tarball was packed for @pyroost/${layer}.`);
  return path;
}

async function tarEntries(layer: Layer): Promise<string[]> {
  const listing = await runOrThrow('tar', ['-tzf', tarball(layer)]);
  return listing.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/^package\//, ''));
}

async function packedManifest(layer: Layer): Promise<Manifest> {
  const extracted = await runOrThrow('tar', [
    '-xzOf',
    tarball(layer),
    'package/package.json',
  ]);
  return JSON.parse(extracted.stdout) as Manifest;
}

/** Every string that an `exports` map points to. */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') {
    return Object.values(value).flatMap(exportTargets);
  }
  return [];
}

function workspaceVersion(name: string): string {
  const layer = name.replace('@pyroost/', '');
  return readManifest(join(packageDirectory(layer), 'package.json')).version;
}

describe('packed tarballs', () => {
  it.each(LAYERS)('@pyroost/%s contains its build and docs', async (layer) => {
    const entries = await tarEntries(layer);
    for (const file of [
      ...buildOutputs(layer),
      'package.json',
      'README.md',
      'CHANGELOG.md',
    ]) {
      expect(entries, `${file} in the ${layer} tarball`).toContain(file);
    }
    expect(entries.filter((entry) => entry.startsWith('src/'))).toEqual([]);
    expect(entries.filter((entry) => entry.includes('.test.'))).toEqual([]);
  });

  it.each(LAYERS)('@pyroost/%s has a publishable manifest', async (layer) => {
    const manifest = await packedManifest(layer);
    const entries = await tarEntries(layer);
    expect(manifest.name).toBe(`@pyroost/${layer}`);
    expect(manifest.publishConfig?.access).toBe('public');
    expect(manifest.sideEffects).toBe(false);
    expect(manifest.engines?.node).toMatch(/^>=\d+/);
    expect(manifest.license).toBe('MIT');

    for (const target of exportTargets(manifest.exports)) {
      expect(entries, `exports target ${target}`).toContain(
        target.replace(/^\.\//, ''),
      );
    }

    // pnpm pack turns workspace:^ into a caret range on the current version.
    for (const field of [
      'dependencies',
      'peerDependencies',
      'optionalDependencies',
    ] as const) {
      for (const [name, range] of Object.entries(manifest[field] ?? {})) {
        expect(range, `${field}.${name}`).not.toMatch(/^workspace:/);
        if (name.startsWith('@pyroost/')) {
          expect(range, `${field}.${name}`).toBe(`^${workspaceVersion(name)}`);
        }
      }
    }
  });

  it('@pyroost/worker ships the whole Python bridge', async () => {
    const entries = await tarEntries('worker');
    const bridge = join(REPO_ROOT, 'python', 'pyroost');
    const sources = readdirSync(bridge).filter((file) => file.endsWith('.py'));
    expect(sources).toContain('__main__.py');
    for (const file of sources) {
      expect(entries).toContain(`python/pyroost/${file}`);
    }
    const compiled = entries.filter(
      (entry) => entry.includes('__pycache__') || entry.endsWith('.pyc'),
    );
    expect(compiled).toEqual([]);
  });

  it.each(LAYERS)('@pyroost/%s passes publint --strict', async (layer) => {
    const result = await run(join(BIN, 'publint'), [
      'run',
      tarball(layer),
      '--strict',
    ]);
    expect(result.code, describeRun(result)).toBe(0);
    expect(result.stdout).toContain('All good');
  });

  it.each(LAYERS)('@pyroost/%s passes attw', async (layer) => {
    const result = await run(join(BIN, 'attw'), [
      tarball(layer),
      '--format',
      'json',
    ]);
    expect(result.code, describeRun(result)).toBe(0);
    const report = JSON.parse(result.stdout) as {
      analysis: { packageName: string; problems: unknown[] };
    };
    expect(report.analysis.packageName).toBe(`@pyroost/${layer}`);
    expect(report.analysis.problems).toEqual([]);
  });

  it('pnpm -r publish --dry-run succeeds for every package', async () => {
    const result = await run(
      'pnpm',
      ['-r', 'publish', '--dry-run', '--no-git-checks'],
      { timeoutMs: INSTALL_TIMEOUT_MS },
    );
    expect(result.code, describeRun(result)).toBe(0);
    const output = result.stdout + result.stderr;
    for (const layer of LAYERS) {
      const name = `@pyroost/${layer}`;
      expect(output).toContain(`+ ${name}@${workspaceVersion(name)}`);
    }
  });
});

// ---------------------------------------------------------------------------
// Installing the tarballs into empty projects.

const PROGRAMS_PY = `import os

import pyroost
from pyroost import program


@program
def word_stats(text):
    words = text.split()
    return {"words": len(words), "unique": len(set(words))}


@program
def bridge_file():
    """Where the pyroost package was imported from."""
    return os.path.realpath(pyroost.__file__)
`;

/** Creates an empty npm project and installs the given tarballs into it with npm. */
async function installProject(name: string, layers: Layer[]): Promise<string> {
  const directory = join(workDirectory, name);
  mkdirSync(directory);
  writeFileSync(
    join(directory, 'package.json'),
    JSON.stringify({ name, version: '0.0.0', private: true }, null, 2),
  );
  writeFileSync(join(directory, 'programs.py'), PROGRAMS_PY);
  await runOrThrow(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      ...layers.map(tarball),
    ],
    { cwd: directory, env: consumerEnv(), timeoutMs: INSTALL_TIMEOUT_MS },
  );
  return directory;
}

async function runNode(
  directory: string,
  script: string,
): Promise<Record<string, unknown>> {
  const result = await run('node', [script], {
    cwd: directory,
    env: consumerEnv(),
    timeoutMs: 120_000,
  });
  if (result.code !== 0) throw new Error(describeRun(result));
  const lastLine = result.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(lastLine) as Record<string, unknown>;
}

function installedPyroostPackages(directory: string): string[] {
  return readdirSync(join(directory, 'node_modules', '@pyroost')).sort();
}

/** A README's `## Example` section: its files by name, and the expected lines of output. */
function readmeExample(layer: Layer): {
  files: Map<string, string>;
  expectedOutput: string[];
} {
  const readme = readFileSync(
    join(packageDirectory(layer), 'README.md'),
    'utf8',
  );
  const section = /^## Example\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (!section)
    throw new Error(`README of @pyroost/${layer} has no Example section.`);
  const files = new Map<string, string>();
  for (const block of section.matchAll(/^```\w*\n([\s\S]*?)^```/gm)) {
    const code = block[1] as string;
    // The first line of each runnable block names its file: `# programs.py`
    // or `// example.mjs`.
    const name = /^(?:#|\/\/) ([\w.-]+\.(?:py|mjs|cjs|js))\b/.exec(code)?.[1];
    if (name) files.set(name, code);
  }
  const script = files.get('example.mjs') ?? '';
  const expectedOutput = [
    ...script.matchAll(/console\.log\(.*\);\s*\/\/ (.+)$/gm),
  ].map((match) => (match[1] as string).trim());
  return { files, expectedOutput };
}

async function runReadmeExample(
  directory: string,
  layer: Layer,
): Promise<void> {
  const { files, expectedOutput } = readmeExample(layer);
  expect([...files.keys()], `runnable files in the ${layer} README`).toContain(
    'example.mjs',
  );
  expect(expectedOutput.length).toBeGreaterThan(0);
  const exampleDirectory = join(directory, `readme-${layer}`);
  for (const [name, code] of files) {
    const path = join(exampleDirectory, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, code);
  }
  const result = await run('node', ['example.mjs'], {
    cwd: exampleDirectory,
    env: consumerEnv(),
    timeoutMs: 120_000,
  });
  expect(result.code, describeRun(result)).toBe(0);
  const lines = result.stdout
    .trim()
    .split('\n')
    .map((line) => line.trim());
  expect(lines).toEqual(expectedOutput);
}

describe('protocol and worker installed from tarballs', () => {
  let project: string;

  beforeAll(async () => {
    project = await installProject('consumer-worker', ['protocol', 'worker']);
  }, INSTALL_TIMEOUT_MS);

  it('installs only the two layers', () => {
    expect(installedPyroostPackages(project)).toEqual(['protocol', 'worker']);
    const peer = readManifest(
      join(project, 'node_modules', '@opentelemetry', 'api', 'package.json'),
    );
    expect(peer.version).toMatch(/^1\./);
  });

  it('runs a Python program from ESM', async () => {
    const script = `
import { PythonWorker, findBridgeDirectory } from '@pyroost/worker';
import { PyroostError } from '@pyroost/protocol';

const worker = await PythonWorker.start({ programs: ['./programs.py'] });
try {
  const result = await worker.execute('word_stats', { text: 'a b a c' });
  const bridgeFile = await worker.execute('bridge_file', {});
  let errorType;
  try {
    await worker.execute('no_such_program', {});
  } catch (error) {
    errorType = error instanceof PyroostError ? error.type : String(error);
  }
  console.log(JSON.stringify({
    result,
    bridgeFile,
    bridge: findBridgeDirectory(),
    resolved: import.meta.resolve('@pyroost/worker'),
    errorType,
  }));
} finally {
  await worker.stop();
}
`;
    writeFileSync(join(project, 'esm.mjs'), script);
    const output = await runNode(project, 'esm.mjs');
    const bridge = join(
      project,
      'node_modules',
      '@pyroost',
      'worker',
      'python',
    );
    expect(output.result).toEqual({ words: 4, unique: 3 });
    expect(output.bridge).toBe(bridge);
    expect(output.bridgeFile).toBe(join(bridge, 'pyroost', '__init__.py'));
    expect(output.resolved).toBe(
      `file://${join(project, 'node_modules', '@pyroost', 'worker', 'dist', 'index.js')}`,
    );
    expect(output.errorType).toBe('program_not_found');
  });

  it('runs a Python program from CommonJS', async () => {
    const script = `
const { PythonWorker, findBridgeDirectory } = require('@pyroost/worker');
const { PyroostError } = require('@pyroost/protocol');

async function main() {
  const worker = await PythonWorker.start({ programs: ['./programs.py'] });
  try {
    const result = await worker.execute('word_stats', { text: 'x y' });
    const bridgeFile = await worker.execute('bridge_file', {});
    let errorType;
    try {
      await worker.execute('no_such_program', {});
    } catch (error) {
      errorType = error instanceof PyroostError ? error.type : String(error);
    }
    console.log(JSON.stringify({
      result,
      bridgeFile,
      bridge: findBridgeDirectory(),
      resolved: require.resolve('@pyroost/worker'),
      errorType,
    }));
  } finally {
    await worker.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;
    writeFileSync(join(project, 'commonjs.cjs'), script);
    const output = await runNode(project, 'commonjs.cjs');
    const bridge = join(
      project,
      'node_modules',
      '@pyroost',
      'worker',
      'python',
    );
    expect(output.result).toEqual({ words: 2, unique: 2 });
    expect(output.bridge).toBe(bridge);
    expect(output.bridgeFile).toBe(join(bridge, 'pyroost', '__init__.py'));
    expect(output.resolved).toBe(
      join(project, 'node_modules', '@pyroost', 'worker', 'dist', 'index.cjs'),
    );
    expect(output.errorType).toBe('program_not_found');
  });

  it.each(['protocol', 'worker'] as const)(
    'runs the @pyroost/%s README example',
    async (layer) => {
      await runReadmeExample(project, layer);
    },
  );
});

describe('api installed from tarballs', () => {
  let project: string;

  beforeAll(async () => {
    // The lower layers are not on the registry, so their tarballs are
    // installed in the same command; the scripts import only @pyroost/api.
    project = await installProject('consumer-api', [
      'protocol',
      'worker',
      'pool',
      'supervisor',
      'api',
    ]);
  }, INSTALL_TIMEOUT_MS);

  it('resolves the dependency tree of @pyroost/api', async () => {
    const result = await run('npm', ['ls', '--all', '--json'], {
      cwd: project,
      env: consumerEnv(),
    });
    expect(result.code, describeRun(result)).toBe(0);
    const tree = JSON.parse(result.stdout) as {
      dependencies: Record<
        string,
        { version: string; dependencies?: Record<string, unknown> }
      >;
    };
    const api = tree.dependencies['@pyroost/api'];
    expect(api?.version).toBe(workspaceVersion('@pyroost/api'));
    expect(Object.keys(api?.dependencies ?? {}).sort()).toEqual([
      '@opentelemetry/api',
      '@pyroost/pool',
      '@pyroost/protocol',
      '@pyroost/supervisor',
      '@pyroost/worker',
    ]);
  });

  it('runs a Python program from ESM', async () => {
    const script = `
import { PythonPool, PyroostError } from '@pyroost/api';

const pool = await PythonPool.start({ programs: ['./programs.py'], size: 2 });
try {
  const result = await pool.executeProgram('word_stats', { text: 'a b a' }, { sessionId: 's-1' });
  const batch = await pool.executeBatch('word_stats', [{ text: 'a' }, { text: 1 }]);
  const health = await pool.healthCheck();
  let errorType;
  try {
    await pool.executeProgram('no_such_program', {});
  } catch (error) {
    errorType = error instanceof PyroostError ? error.type : String(error);
  }
  console.log(JSON.stringify({
    result,
    batch: batch.map((item) => item.ok ? item.result : item.error.type),
    status: health.status,
    sessions: pool.sessions().map((session) => session.sessionId),
    errorType,
  }));
} finally {
  await pool.close();
}
`;
    writeFileSync(join(project, 'esm.mjs'), script);
    const output = await runNode(project, 'esm.mjs');
    expect(output.result).toEqual({ words: 3, unique: 2 });
    expect(output.batch).toEqual([{ words: 1, unique: 1 }, 'program_error']);
    expect(output.status).toBe('healthy');
    expect(output.sessions).toEqual(['s-1']);
    expect(output.errorType).toBe('program_not_found');
  });

  it('runs a Python program from CommonJS', async () => {
    const script = `
const { PythonPool, PyroostError } = require('@pyroost/api');

async function main() {
  const pool = await PythonPool.start({ programs: ['./programs.py'], size: 1 });
  try {
    const result = await pool.executeProgram('word_stats', { text: 'q r s' });
    const bridgeFile = await pool.executeProgram('bridge_file', {});
    let errorType;
    try {
      await pool.executeProgram('no_such_program', {});
    } catch (error) {
      errorType = error instanceof PyroostError ? error.type : String(error);
    }
    console.log(JSON.stringify({
      result,
      bridgeFile,
      resolved: require.resolve('@pyroost/api'),
      errorType,
    }));
  } finally {
    await pool.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;
    writeFileSync(join(project, 'commonjs.cjs'), script);
    const output = await runNode(project, 'commonjs.cjs');
    expect(output.result).toEqual({ words: 3, unique: 3 });
    expect(output.bridgeFile).toBe(
      join(
        project,
        'node_modules',
        '@pyroost',
        'worker',
        'python',
        'pyroost',
        '__init__.py',
      ),
    );
    expect(output.resolved).toBe(
      join(project, 'node_modules', '@pyroost', 'api', 'dist', 'index.cjs'),
    );
    expect(output.errorType).toBe('program_not_found');
  });

  it.each(['pool', 'supervisor', 'api'] as const)(
    'runs the @pyroost/%s README example',
    async (layer) => {
      await runReadmeExample(project, layer);
    },
  );
});

describe('cli installed from tarballs', () => {
  it(
    'runs pyroost health from its bin',
    async () => {
      const project = await installProject('consumer-cli', [...LAYERS]);
      const bin = join(project, 'node_modules', '.bin', 'pyroost');
      const result = await run(
        bin,
        ['health', '--programs', 'programs.py', '--workers', '1', '--json'],
        { cwd: project, env: consumerEnv(), timeoutMs: 120_000 },
      );
      expect(result.code, describeRun(result)).toBe(0);
      const report = JSON.parse(result.stdout) as Record<string, unknown>;
      expect(JSON.stringify(report)).toContain('healthy');
      expect(JSON.stringify(report)).toContain('word_stats');
    },
    INSTALL_TIMEOUT_MS,
  );
});
