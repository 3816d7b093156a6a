// Helpers shared by the packaging tests: run a command, build the packages
// when their dist/ is missing, and pack them into tarballs.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Published layers, lowest first. */
export const LAYERS = [
  'protocol',
  'worker',
  'pool',
  'supervisor',
  'api',
  'cli',
] as const;

export type Layer = (typeof LAYERS)[number];

/** The fields of a package.json that the packaging tests read. */
export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  sideEffects?: boolean | string[];
  engines?: Record<string, string>;
  files?: string[];
  bin?: string | Record<string, string>;
  main?: string;
  module?: string;
  types?: string;
  exports?: Record<string, unknown>;
  publishConfig?: { access?: string };
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export function readManifest(path: string): Manifest {
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
}

export function packageDirectory(layer: string): string {
  return join(REPO_ROOT, 'packages', layer);
}

/** Outcome of a finished command. */
export interface RunResult {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kills the command after this many ms. Default 300,000. */
  timeoutMs?: number;
}

/** Runs a command without a shell and collects its output; never rejects on a non-zero exit. */
export function run(
  file: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const command = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(
      () => child.kill('SIGKILL'),
      options.timeoutMs ?? 300_000,
    );
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`Could not start ${command}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ command, code, signal, stdout, stderr });
    });
  });
}

/** A readable account of a finished command, for assertion messages. */
export function describeRun(result: RunResult): string {
  const tail = (text: string): string => text.slice(-4_000);
  return (
    `${result.command} exited with ${result.code ?? result.signal}\n` +
    `--- stdout ---\n${tail(result.stdout)}\n--- stderr ---\n${tail(result.stderr)}`
  );
}

/** Runs a command and throws with its output unless it exits with 0. */
export async function runOrThrow(
  file: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const result = await run(file, args, options);
  if (result.code !== 0) throw new Error(describeRun(result));
  return result;
}

/** Files that `pnpm build` must have produced for a layer. */
export function buildOutputs(layer: Layer): string[] {
  const outputs = ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts'].map(
    (file) => join('dist', file),
  );
  if (layer === 'worker')
    outputs.push(join('python', 'pyroost', '__main__.py'));
  if (layer === 'cli') outputs.push(join('dist', 'cli.js'));
  return outputs;
}

/**
 * Runs `pnpm build` unless every layer already has its build outputs. A
 * stale dist/ is not detected: run `pnpm build` after changing sources.
 */
export async function ensureBuilt(): Promise<void> {
  const missing = LAYERS.some((layer) =>
    buildOutputs(layer).some(
      (file) => !existsSync(join(packageDirectory(layer), file)),
    ),
  );
  if (missing) await runOrThrow('pnpm', ['build'], { timeoutMs: 600_000 });
}

/** Packs one layer with `pnpm pack` into `destination`; returns the tarball path. */
export async function pack(layer: Layer, destination: string): Promise<string> {
  const manifest = readManifest(join(packageDirectory(layer), 'package.json'));
  await runOrThrow('pnpm', ['pack', '--pack-destination', destination], {
    cwd: packageDirectory(layer),
  });
  const expected = `${manifest.name.replace(/^@/, '').replace('/', '-')}-${manifest.version}.tgz`;
  const found = readdirSync(destination).find((file) => file === expected);
  if (!found) {
    throw new Error(
      `pnpm pack of ${manifest.name} wrote no ${expected} in ${destination}; ` +
        `found: ${readdirSync(destination).join(', ') || 'nothing'}.`,
    );
  }
  return join(destination, found);
}

/** npm settings from the environment that say how to reach the registry. */
const REGISTRY_SETTINGS = new Set(
  [
    'registry',
    'cafile',
    'ca',
    'cache',
    'proxy',
    'https_proxy',
    'noproxy',
    'strict_ssl',
    'userconfig',
    'globalconfig',
  ].map((name) => `npm_config_${name}`),
);

/** The environment for commands run in a consumer project: no paths into this repository. */
export function consumerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.PYTHONPATH;
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  for (const key of Object.keys(env)) {
    // pnpm passes the workspace's settings and the running script's
    // package.json fields to its children as npm_* variables; they must not
    // steer npm in the consumer project.
    const lower = key.toLowerCase();
    if (lower.startsWith('npm_') && !REGISTRY_SETTINGS.has(lower)) {
      delete env[key];
    }
  }
  return env;
}
