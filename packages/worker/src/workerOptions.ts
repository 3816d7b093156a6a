import { statSync } from 'node:fs';
import { PyroostError, describeValue } from '@pyroost/protocol';
import {
  checkDurationMs,
  checkInteger,
  checkProvider,
} from './optionChecks.js';
import { toSafeLogger } from './logger.js';
import type { PythonWorkerOptions } from './pythonWorker.js';

/** Smallest `maxFrameBytes` the bridge accepts, so an error reply always fits. */
export const MIN_MAX_FRAME_BYTES = 1024;

/** Largest body the 4-byte length prefix can announce. */
const MAX_MAX_FRAME_BYTES = 0xffff_ffff;

/**
 * Checks the options of `PythonWorker.start` before anything is spawned and
 * throws `invalid_input` or `spawn_failed` naming the option and the fix.
 */
export function checkWorkerOptions(options: PythonWorkerOptions): void {
  for (const entry of options.programs) {
    if (typeof entry !== 'string' || entry.trim() === '') {
      throw new PyroostError({
        type: 'invalid_input',
        message:
          `Each programs entry must be a Python file path or module name, got ` +
          `${describeValue(entry)}.`,
        context: { option: 'programs' },
      });
    }
  }
  if (
    options.python !== undefined &&
    (typeof options.python !== 'string' || options.python === '')
  ) {
    throw new PyroostError({
      type: 'invalid_input',
      message: `Option python must be an interpreter path or command, got ${describeValue(options.python)}.`,
      context: { option: 'python' },
    });
  }
  checkDurationMs('startTimeoutMs', options.startTimeoutMs, undefined);
  checkDurationMs('killGraceMs', options.killGraceMs, undefined, {
    allowZero: true,
  });
  checkInteger(
    'maxFrameBytes',
    options.maxFrameBytes,
    undefined,
    MIN_MAX_FRAME_BYTES,
    MAX_MAX_FRAME_BYTES,
  );
  checkInteger('stderrBufferBytes', options.stderrBufferBytes, undefined, 1);
  toSafeLogger(options.logger);
  checkEnv(options.env);
  checkProvider('tracerProvider', options.tracerProvider, 'getTracer');
  checkCwd(options.cwd);
}

function checkEnv(env: unknown): void {
  if (env === undefined) return;
  const entries =
    typeof env === 'object' && env !== null && !Array.isArray(env)
      ? Object.entries(env)
      : undefined;
  const bad = entries?.find(
    ([, value]) => value !== undefined && typeof value !== 'string',
  );
  if (entries === undefined || bad !== undefined) {
    throw new PyroostError({
      type: 'invalid_input',
      message:
        entries === undefined
          ? `Option env must be an object of environment variables, got ${describeValue(env)}; ` +
            "pass for example { PYTHONPATH: '/srv/lib' }."
          : `Option env must map names to strings, got ${describeValue(bad?.[1])} for ${bad?.[0]}; ` +
            'convert the value with String().',
      context: { option: 'env' },
    });
  }
}

function checkCwd(cwd: unknown): void {
  if (cwd === undefined) return;
  if (typeof cwd !== 'string' || cwd === '') {
    throw new PyroostError({
      type: 'invalid_input',
      message: `Option cwd must be a directory path, got ${describeValue(cwd)}.`,
      context: { option: 'cwd' },
    });
  }
  let isDirectory = false;
  try {
    isDirectory = statSync(cwd).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) {
    throw new PyroostError({
      type: 'spawn_failed',
      message: `Option cwd is not an existing directory: "${cwd}". Create it or pass another working directory.`,
      context: { option: 'cwd', cwd },
    });
  }
}

/** Explains why the interpreter could not be spawned, with the fix. */
export function describeSpawnError(
  python: string,
  error: NodeJS.ErrnoException,
): string {
  switch (error.code) {
    case 'ENOENT':
      return (
        `Python interpreter not found: "${python}" (ENOENT). Set the python option to an ` +
        "existing interpreter, e.g. a virtualenv's bin/python, or install python3."
      );
    case 'EACCES':
      return (
        `Python interpreter "${python}" cannot be executed (EACCES): it is a directory or ` +
        'lacks execute permission. Set the python option to the interpreter binary itself.'
      );
    default:
      return `Failed to start Python interpreter "${python}": ${error.message}`;
  }
}
