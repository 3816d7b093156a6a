// Builds the python/ package into an sdist and a wheel with `python -m build`,
// which builds the wheel from the sdist, so a file missing from the sdist
// fails here too. Then installs the wheel into a new virtual environment and
// runs `python -m pyroost --help` there.
import {
  cpSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  consumerEnv,
  describeRun,
  run,
  runOrThrow,
} from './packagingSupport.js';

const PYTHON = process.env.PYROOST_TEST_PYTHON ?? 'python3';
const PYTHON_SOURCE = join(REPO_ROOT, 'python');
const BRIDGE_SOURCE = join(PYTHON_SOURCE, 'pyroost');

let workDirectory: string;
let wheel: string;
let sdist: string;

/** `__version__` from pyroost/__init__.py, the single source of the version. */
function bridgeVersion(): string {
  const init = readFileSync(join(BRIDGE_SOURCE, '__init__.py'), 'utf8');
  const version = /^__version__ = "([^"]+)"$/m.exec(init)?.[1];
  if (!version)
    throw new Error('python/pyroost/__init__.py sets no __version__.');
  return version;
}

async function archiveEntries(path: string): Promise<string[]> {
  const script =
    'import json, sys, tarfile, zipfile\n' +
    'path = sys.argv[1]\n' +
    'names = zipfile.ZipFile(path).namelist() if path.endswith(".whl") ' +
    'else tarfile.open(path).getnames()\n' +
    'print(json.dumps(names))\n';
  const result = await runOrThrow(PYTHON, ['-c', script, path]);
  return JSON.parse(result.stdout) as string[];
}

async function wheelMetadata(): Promise<string> {
  const script =
    'import sys, zipfile\n' +
    'wheel = zipfile.ZipFile(sys.argv[1])\n' +
    'name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))\n' +
    'sys.stdout.write(wheel.read(name).decode())\n';
  return (await runOrThrow(PYTHON, ['-c', script, wheel])).stdout;
}

beforeAll(async () => {
  workDirectory = mkdtempSync(join(tmpdir(), 'pyroost-python-packaging-'));
  // Build from a copy, so that the build's egg-info and build/ folders never
  // land in the working tree.
  const source = join(workDirectory, 'source');
  for (const entry of ['pyproject.toml', 'README.md', 'pyroost']) {
    cpSync(join(PYTHON_SOURCE, entry), join(source, entry), {
      recursive: true,
      filter: (path) => !path.includes('__pycache__') && !path.endsWith('.pyc'),
    });
  }
  const hasBuild = await run(PYTHON, ['-c', 'import build']);
  if (hasBuild.code !== 0) {
    throw new Error(
      `The Python package "build" is not installed for ${PYTHON}; install the test ` +
        'requirements with: python3 -m pip install -r python/requirements-test.txt',
    );
  }
  const outdir = join(workDirectory, 'dist');
  await runOrThrow(PYTHON, ['-m', 'build', '--outdir', outdir, source], {
    timeoutMs: 600_000,
  });
  const built = readdirSync(outdir);
  wheel = join(outdir, built.find((file) => file.endsWith('.whl')) ?? '');
  sdist = join(outdir, built.find((file) => file.endsWith('.tar.gz')) ?? '');
}, 600_000);

afterAll(() => {
  if (workDirectory) rmSync(workDirectory, { recursive: true, force: true });
});

describe('pyroost Python distribution', () => {
  it('is named after the bridge version', () => {
    const version = bridgeVersion();
    expect(wheel.endsWith(`pyroost-${version}-py3-none-any.whl`)).toBe(true);
    expect(sdist.endsWith(`pyroost-${version}.tar.gz`)).toBe(true);
  });

  it('wheel contains every module of the bridge', async () => {
    const entries = await archiveEntries(wheel);
    const modules = readdirSync(BRIDGE_SOURCE).filter((file) =>
      file.endsWith('.py'),
    );
    expect(modules).toContain('__main__.py');
    for (const module of modules) {
      expect(entries).toContain(`pyroost/${module}`);
    }
    const unexpected = entries.filter(
      (entry) =>
        !entry.startsWith('pyroost/') &&
        !entry.startsWith(`pyroost-${bridgeVersion()}.dist-info/`),
    );
    expect(unexpected).toEqual([]);
  });

  it('wheel metadata has the version and no dependencies', async () => {
    const metadata = await wheelMetadata();
    expect(metadata).toMatch(/^Name: pyroost$/m);
    expect(metadata).toContain(`\nVersion: ${bridgeVersion()}\n`);
    expect(metadata).toMatch(/^Requires-Python: >=3\.9$/m);
    expect(metadata).toMatch(/^License-Expression: MIT$/m);
    expect(metadata).not.toMatch(/^Requires-Dist:/m);
  });

  it('sdist contains the project files', async () => {
    const entries = await archiveEntries(sdist);
    const root = `pyroost-${bridgeVersion()}`;
    for (const file of [
      'pyproject.toml',
      'README.md',
      'pyroost/__init__.py',
      'pyroost/__main__.py',
    ]) {
      expect(entries).toContain(`${root}/${file}`);
    }
  });

  it('wheel installs into a new venv and runs', async () => {
    const venv = join(workDirectory, 'venv');
    await runOrThrow(PYTHON, ['-m', 'venv', venv], { timeoutMs: 300_000 });
    const venvPython = join(venv, 'bin', 'python');
    const env = consumerEnv();
    await runOrThrow(
      venvPython,
      ['-m', 'pip', 'install', '--no-index', '--no-deps', '--quiet', wheel],
      { env, timeoutMs: 300_000 },
    );

    // The venv's own directory is the working directory, so only the
    // installed copy of pyroost can be imported.
    const help = await run(venvPython, ['-m', 'pyroost', '--help'], {
      cwd: venv,
      env,
    });
    expect(help.code, describeRun(help)).toBe(0);
    expect(help.stdout).toContain('--programs');

    const where = await runOrThrow(
      venvPython,
      [
        '-c',
        'import pyroost; print(pyroost.__file__); print(pyroost.__version__)',
      ],
      { cwd: venv, env },
    );
    const [file, version] = where.stdout.trim().split('\n');
    expect(file?.startsWith(join(venv, 'lib'))).toBe(true);
    expect(file).toContain('site-packages');
    expect(version).toBe(bridgeVersion());
  }, 600_000);
});
