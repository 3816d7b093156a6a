import {
  PythonPool,
  isPyroostError,
  type Logger,
  type PyroostError,
} from '@pyroost/api';
import type { CliIo, OutputStream } from './io.js';
import type { PoolCommandOptions } from './options.js';
import { UsageError } from './usage.js';

/** Result of one call: its value or its error, and its latency. */
export type CallOutcome =
  | { ok: true; result: unknown; latencyMs: number }
  | { ok: false; error: PyroostError; latencyMs: number };

export interface CallOptions {
  sessionId?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Number of calls in flight at once. */
  concurrency: number;
  /** Called after each call settles, with the number settled so far. */
  onSettled?: (settledCount: number) => void;
}

/**
 * Returns a logger that writes one line per entry to `stream`: warnings and
 * errors always, debug and info (worker starts and stops, the programs'
 * stderr) only when `verbose` is set.
 */
export function createStderrLogger(
  stream: OutputStream,
  verbose: boolean,
): Logger {
  const write =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void => {
      const details =
        Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
      stream.write(`pyroost ${level}: ${message}${details}\n`);
    };
  const ignore = (): void => undefined;
  return {
    debug: verbose ? write('debug') : ignore,
    info: verbose ? write('info') : ignore,
    warn: write('warn'),
    error: write('error'),
  };
}

/**
 * Starts a pool for a command. Overflow workers are off, so the pool runs
 * exactly `size` workers and the command's concurrency matches them.
 */
export function startPool(
  options: PoolCommandOptions,
  size: number | undefined,
  logger: Logger,
): Promise<PythonPool> {
  return PythonPool.start({
    programs: options.programs,
    python: options.python,
    size,
    overflow: 0,
    logger,
  });
}

/**
 * Calls `program` once per inputs object, with at most `concurrency` calls
 * in flight, and returns the outcomes in input order. Latency is measured
 * around each `executeProgram` call, so it includes the time in the pool's
 * queue, which stays near zero while concurrency does not exceed the
 * workers. Calls not yet started when `signal` aborts are not made, and their
 * outcomes are left undefined.
 */
export async function callEach(
  pool: PythonPool,
  program: string,
  inputsList: Record<string, unknown>[],
  options: CallOptions,
): Promise<(CallOutcome | undefined)[]> {
  const outcomes = new Array<CallOutcome | undefined>(inputsList.length);
  let next = 0;
  let settled = 0;
  const callOptions = {
    sessionId: options.sessionId,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    // Calls wait only for a worker that is being replaced, which can take
    // longer than the pool's default checkout timeout of 5 s.
    checkoutTimeoutMs: 60_000,
  };

  async function callNext(): Promise<void> {
    while (next < inputsList.length && !options.signal?.aborted) {
      const index = next;
      next += 1;
      const startedAt = performance.now();
      try {
        const result = await pool.executeProgram(
          program,
          inputsList[index] as Record<string, unknown>,
          callOptions,
        );
        outcomes[index] = {
          ok: true,
          result,
          latencyMs: performance.now() - startedAt,
        };
      } catch (error) {
        if (!isPyroostError(error)) throw error;
        outcomes[index] = {
          ok: false,
          error,
          latencyMs: performance.now() - startedAt,
        };
      }
      settled += 1;
      options.onSettled?.(settled);
    }
  }

  const runners = Math.max(1, Math.min(options.concurrency, inputsList.length));
  await Promise.all(Array.from({ length: runners }, callNext));
  return outcomes;
}

/** Seconds elapsed since `startedAt`, a `performance.now()` reading. */
export function secondsSince(startedAt: number): number {
  return (performance.now() - startedAt) / 1000;
}

/**
 * Writes why the pool failed to start to stderr. With `json` it also writes
 * `{ error }` to stdout, and for `health` `{ status: "unhealthy", error }`.
 */
export function writeStartFailure(
  io: CliIo,
  command: string,
  error: PyroostError,
  json: boolean,
): void {
  if (json) {
    const output =
      command === 'health'
        ? { status: 'unhealthy', error: error.toJSON() }
        : { error: error.toJSON() };
    io.stdout.write(JSON.stringify(output, null, 2) + '\n');
  }
  const hint =
    error.type === 'spawn_failed'
      ? ' Pass the interpreter with --python PATH.'
      : '';
  io.stderr.write(
    `pyroost ${command}: failed to start the pool: ${error.type}: ${error.message}${hint}\n`,
  );
}

/**
 * Starts a pool for a command and returns it, or writes the start error and
 * returns undefined. Rethrows errors that are not a PyroostError.
 */
export async function startPoolOrReport(
  io: CliIo,
  command: string,
  options: PoolCommandOptions,
  size: number | undefined,
): Promise<PythonPool | undefined> {
  const logger = createStderrLogger(io.stderr, options.verbose);
  try {
    return await startPool(options, size, logger);
  } catch (error) {
    if (!isPyroostError(error)) throw error;
    writeStartFailure(io, command, error, options.json);
    return undefined;
  }
}

/** Throws UsageError unless the pool's workers registered `program`. */
export function checkProgramRegistered(
  pool: PythonPool,
  options: { program: string; programs: string[] },
  command: string,
): void {
  if (pool.programs.includes(options.program)) return;
  throw new UsageError(
    `Invalid --program ${options.program}: no @program of that name in ${options.programs.join(', ')}. ` +
      `Registered programs: ${pool.programs.join(', ') || 'none'}.`,
    command,
  );
}
