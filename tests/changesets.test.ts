// Runs `changeset version` on sample changesets in a temporary copy of the
// workspace's package.json files, CHANGELOG.md files and .changeset/config.json,
// never in the real tree, and checks which packages it bumps.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  describeRun,
  readManifest,
  run,
  type Manifest,
} from './packagingSupport.js';

const CHANGESET_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'changeset');

/** Workspace package folders, relative to the root, from pnpm-workspace.yaml. */
function workspaceFolders(): string[] {
  const workspace = readFileSync(
    join(REPO_ROOT, 'pnpm-workspace.yaml'),
    'utf8',
  );
  const section = /^packages:\n((?:\s+-.*\n?)+)/m.exec(workspace)?.[1] ?? '';
  const patterns = [...section.matchAll(/-\s*['"]?([^'"\n]+?)['"]?\s*$/gm)].map(
    (match) => match[1] as string,
  );
  return patterns
    .flatMap((pattern) => {
      if (!pattern.endsWith('/*')) return [pattern];
      const parent = pattern.slice(0, -2);
      return readdirSync(join(REPO_ROOT, parent), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
        .map((entry) => `${parent}/${entry.name}`);
    })
    .filter((folder) => existsSync(join(REPO_ROOT, folder, 'package.json')));
}

function copyIntoSandbox(sandbox: string, path: string): void {
  const target = join(sandbox, path);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(REPO_ROOT, path), target);
}

/** Creates the sandbox and returns it with the versions before the run, by package name. */
function createSandbox(): { sandbox: string; before: Map<string, Manifest> } {
  const sandbox = mkdtempSync(join(tmpdir(), 'pyroost-changesets-'));
  for (const file of [
    'package.json',
    'pnpm-workspace.yaml',
    '.changeset/config.json',
  ]) {
    copyIntoSandbox(sandbox, file);
  }
  const before = new Map<string, Manifest>();
  for (const folder of workspaceFolders()) {
    copyIntoSandbox(sandbox, `${folder}/package.json`);
    if (existsSync(join(REPO_ROOT, folder, 'CHANGELOG.md'))) {
      copyIntoSandbox(sandbox, `${folder}/CHANGELOG.md`);
    }
    const manifest = readManifest(join(REPO_ROOT, folder, 'package.json'));
    before.set(folder, manifest);
  }
  return { sandbox, before };
}

function bump(version: string, type: 'major' | 'minor' | 'patch'): string {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!match)
    throw new Error(`Cannot bump version ${version}: expected x.y.z.`);
  const [major, minor, patch] = match.slice(1).map(Number) as [
    number,
    number,
    number,
  ];
  if (type === 'major') return `${major + 1}.0.0`;
  if (type === 'minor') return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

function dependsOn(manifest: Manifest, name: string): boolean {
  return (
    manifest.dependencies?.[name] !== undefined ||
    manifest.peerDependencies?.[name] !== undefined
  );
}

const sandboxes: string[] = [];

afterEach(() => {
  for (const sandbox of sandboxes.splice(0)) {
    rmSync(sandbox, { recursive: true, force: true });
  }
});

async function version(
  type: 'major' | 'patch',
  summary: string,
): Promise<{ sandbox: string; before: Map<string, Manifest> }> {
  const created = createSandbox();
  sandboxes.push(created.sandbox);
  writeFileSync(
    join(created.sandbox, '.changeset', 'sample-worker-change.md'),
    `---\n'@pyroost/worker': ${type}\n---\n\n${summary}\n`,
  );
  const result = await run(CHANGESET_BIN, ['version'], {
    cwd: created.sandbox,
  });
  expect(result.code, describeRun(result)).toBe(0);
  expect(
    existsSync(join(created.sandbox, '.changeset', 'sample-worker-change.md')),
  ).toBe(false);
  return created;
}

describe('changeset version', () => {
  it('uses independent versions for public packages', () => {
    const config = JSON.parse(
      readFileSync(join(REPO_ROOT, '.changeset', 'config.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(config.fixed).toEqual([]);
    expect(config.linked).toEqual([]);
    expect(config.access).toBe('public');
    expect(config.privatePackages).toEqual({ version: false, tag: false });
  });

  it('major worker change patches its dependents only', async () => {
    const summary = 'Sample breaking change of the worker.';
    const { sandbox, before } = await version('major', summary);
    const worker = before.get('packages/worker') as Manifest;
    const workerVersion = bump(worker.version, 'major');
    const dependents: string[] = [];

    for (const [folder, manifest] of before) {
      const after = readManifest(join(sandbox, folder, 'package.json'));
      let expected = manifest.version;
      if (folder === 'packages/worker') expected = workerVersion;
      else if (!manifest.private && dependsOn(manifest, '@pyroost/worker')) {
        expected = bump(manifest.version, 'patch');
        dependents.push(manifest.name);
      }
      expect(after.version, `version of ${manifest.name}`).toBe(expected);
      // Internal ranges stay workspace:^; pnpm publish fills in versions.
      for (const [name, range] of Object.entries(after.dependencies ?? {})) {
        if (name.startsWith('@pyroost/')) {
          expect(range, `${manifest.name} → ${name}`).toBe(
            manifest.dependencies?.[name],
          );
        }
      }
    }
    expect(dependents.sort()).toEqual([
      '@pyroost/api',
      '@pyroost/pool',
      '@pyroost/supervisor',
    ]);

    const workerLog = readFileSync(
      join(sandbox, 'packages/worker/CHANGELOG.md'),
      'utf8',
    );
    expect(workerLog.indexOf(`## ${workerVersion}`)).toBeGreaterThan(0);
    expect(workerLog.indexOf(`## ${workerVersion}`)).toBeLessThan(
      workerLog.indexOf(`## ${worker.version}`),
    );
    expect(workerLog).toContain('### Major Changes');
    expect(workerLog).toContain(summary);

    const poolLog = readFileSync(
      join(sandbox, 'packages/pool/CHANGELOG.md'),
      'utf8',
    );
    expect(poolLog).toContain('### Patch Changes');
    expect(poolLog).toContain('Updated dependencies');
    expect(poolLog).toContain(`@pyroost/worker@${workerVersion}`);

    const protocolLog = readFileSync(
      join(sandbox, 'packages/protocol/CHANGELOG.md'),
      'utf8',
    );
    expect(protocolLog).toBe(
      readFileSync(join(REPO_ROOT, 'packages/protocol/CHANGELOG.md'), 'utf8'),
    );
  });

  it('patch worker change bumps the worker alone', async () => {
    const { sandbox, before } = await version(
      'patch',
      'Sample fix in the worker.',
    );
    for (const [folder, manifest] of before) {
      const after = readManifest(join(sandbox, folder, 'package.json'));
      const expected =
        folder === 'packages/worker'
          ? bump(manifest.version, 'patch')
          : manifest.version;
      expect(after.version, `version of ${manifest.name}`).toBe(expected);
    }
  });
});
