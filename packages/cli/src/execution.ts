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
  /** Maximum wait for a free worker in ms. Default: `checkoutTimeoutMs(undefined)`, 60,000. */
  checkoutTimeoutMs?: number;
  /** Called after each call settles, with the number settled so far. */
  onSettled?: (settledCount: number) => void;
}

/** Margin on top of the start timeout that a call waits for a worker, in ms. */
const CHECKOUT_MARGIN_MS = 60_000;

/**
 * Returns how long a call waits for a free worker, in ms. The commands never
 * have more calls in flight than workers, so a call waits only while a
 * worker is being replaced. That takes the supervisor's back-off (at most
 * 10 s by default) plus the new worker's start-up, which can take up to
 * `startTimeoutMs`. The pool's default of 5 s would fail such calls.
 */
export function checkoutTimeoutMs(startTimeoutMs: number | undefined): number {
  return CHECKOUT_MARGIN_MS + (startTimeoutMs ?? 0);
}

/** A logger that writes to stderr and can hold its lines back for a while. */
export interface StderrLogger extends Logger {
  /**
   * Holds the warnings and errors logged from now on, until `release` or
   * `discard`. A logger created with `verbose` holds nothing.
   */
  hold(): void;
  /** Writes the held lines and stops holding. */
  release(): void;
  /** Drops the held lines and stops holding. */
  discard(): void;
}

/**
 * Returns a logger that writes one line per entry to `stream`: warnings and
 * errors always, debug and info (worker starts and stops, the programs'
 * stderr) only when `verbose` is set.
 */
export function createStderrLogger(
  stream: OutputStream,
  verbose: boolean,
): StderrLogger {
  let heldLines: string[] | undefined;
  const write =
    (level: string, holdable: boolean) =>
    (fields: Record<string, unknown>, message: string): void => {
      const details =
        Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
      const line = `pyroost ${level}: ${message}${details}\n`;
      if (holdable && heldLines !== undefined) heldLines.push(line);
      else stream.write(line);
    };
  const ignore = (): void => undefined;
  return {
    debug: verbose ? write('debug', false) : ignore,
    info: verbose ? write('info', false) : ignore,
    warn: write('warn', !verbose),
    error: write('error', !verbose),
    hold: () => {
      heldLines ??= [];
    },
    release: () => {
      for (const line of heldLines ?? []) stream.write(line);
      heldLines = undefined;
    },
    discard: () => {
      heldLines = undefined;
    },
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
    startTimeoutMs: options.startTimeoutMs,
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
    checkoutTimeoutMs:
      options.checkoutTimeoutMs ?? checkoutTimeoutMs(undefined),
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

/** Lines of the worker's stderr shown under a start failure. */
const STDERR_TAIL_LINES = 20;

/**
 * Library option names in start error messages, with the command-line flag
 * that sets each, so that the message names what a CLI user can change.
 */
const FLAG_OF_OPTION: readonly (readonly [string, string])[] = [
  ['the python option', '--python'],
  ['startTimeoutMs', '--start-timeout-ms'],
];

/** Returns the last `count` non-empty lines of `text`. */
function lastLines(text: string, count: number): string[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  return lines.slice(-count);
}

/**
 * Returns the text of a start failure for the command line: the library's
 * message with its option names replaced by the flags, and the end of the
 * worker's stderr (or the Python traceback) on the following lines.
 */
export function describeStartFailure(error: PyroostError): string {
  const stderr =
    typeof error.context.stderr === 'string' ? error.context.stderr : '';
  const traceback =
    typeof error.context.traceback === 'string' ? error.context.traceback : '';
  const details = lastLines(stderr || traceback, STDERR_TAIL_LINES);

  let message = error.message;
  for (const [option, flag] of FLAG_OF_OPTION) {
    message = message.replaceAll(option, flag);
  }
  message = message.replace(
    'the end of its stderr is in context.stderr',
    details.length > 0
      ? 'the end of its stderr follows'
      : 'it wrote nothing to stderr',
  );
  // context.code is set when the interpreter could not be spawned at all.
  const notSpawned =
    error.type === 'spawn_failed' && typeof error.context.code === 'string';
  if (notSpawned && !message.includes('--python')) {
    message = `${message.replace(/\.?$/, '.')} Pass the interpreter with --python PATH.`;
  }
  const lines = [`${error.type}: ${message}`];
  if (details.length > 0) {
    const source = stderr ? "worker's stderr" : 'Python traceback';
    lines.push(
      `  end of the ${source}:`,
      ...details.map((line) => `  | ${line}`),
    );
  }
  return lines.join('\n');
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
  io.stderr.write(
    `pyroost ${command}: failed to start the pool: ${describeStartFailure(error)}\n`,
  );
}

/**
 * Starts a pool for a command and returns it, or writes the start error and
 * returns undefined. Rethrows errors that are not a PyroostError.
 *
 * Without --verbose, warnings logged during a failed start are dropped,
 * because they usually report the worker failure that the start error
 * describes in full. With --verbose they are written as they occur.
 */
export async function startPoolOrReport(
  io: CliIo,
  command: string,
  options: PoolCommandOptions,
  size: number | undefined,
): Promise<PythonPool | undefined> {
  const logger = createStderrLogger(io.stderr, options.verbose);
  logger.hold();
  try {
    const pool = await startPool(options, size, logger);
    logger.release();
    return pool;
  } catch (error) {
    if (!isPyroostError(error)) {
      logger.release();
      throw error;
    }
    logger.discard();
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
