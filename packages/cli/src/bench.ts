import type { PyroostError } from '@pyroost/api';
import { parseInputsObject } from './inputs.js';
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, type CliIo } from './io.js';
import type { BenchOptions } from './options.js';
import {
  callEach,
  checkoutTimeoutMs,
  checkProgramRegistered,
  secondsSince,
  startPoolOrReport,
  type CallOutcome,
} from './execution.js';
import {
  formatLatency,
  formatSeconds,
  summarize,
  type RunSummary,
} from './summary.js';

/** Counts and rates of the timed calls of `bench`. */
interface BenchResult {
  /** All timed calls: counts of succeeded and failed calls, failures by type. */
  all: RunSummary;
  /** Succeeded calls only: their rate and latency percentiles. */
  succeeded: RunSummary;
  /** Error of the first failed call, if any. */
  firstError: PyroostError | undefined;
}

function measure(
  outcomes: (CallOutcome | undefined)[],
  workers: number,
  startSeconds: number,
  seconds: number,
): BenchResult {
  const succeeded = outcomes.filter((outcome) => outcome?.ok === true);
  const firstFailure = outcomes.find((outcome) => outcome?.ok === false);
  return {
    all: summarize(outcomes, workers, startSeconds, seconds),
    succeeded: summarize(succeeded, workers, startSeconds, seconds),
    firstError: firstFailure?.ok === false ? firstFailure.error : undefined,
  };
}

function benchJson(
  options: BenchOptions,
  workers: number,
  result: BenchResult,
): Record<string, unknown> {
  const { all, succeeded, firstError } = result;
  return {
    program: options.program,
    calls: options.calls,
    workers,
    seconds: all.seconds,
    succeeded: all.succeeded,
    callsPerSecond: all.succeeded > 0 ? succeeded.throughput : null,
    latencyMs: succeeded.latencyMs,
    failed: all.failed,
    failedByType: all.failedByType,
    firstError: firstError?.toJSON() ?? null,
  };
}

/**
 * Formats the text report of `bench`. The rate and the latency count
 * succeeded calls only, because a call that fails at once would otherwise
 * show up as high throughput.
 */
function formatBench(
  options: BenchOptions,
  workers: number,
  result: BenchResult,
): string {
  const { all, succeeded, firstError } = result;
  const settled = all.succeeded + all.failed;
  const head =
    `${settled} calls of ${options.program} on ${workers} ` +
    `${workers === 1 ? 'worker' : 'workers'} in ${formatSeconds(all.seconds)}`;
  const rate = `${succeeded.throughput.toFixed(0)} calls/s`;
  const lines: string[] = [];
  if (all.failed === 0) {
    lines.push(`${head}: ${rate}`);
  } else if (all.succeeded > 0) {
    lines.push(
      `${head}: ${all.succeeded} succeeded (${rate} counting succeeded calls only)`,
    );
  } else {
    lines.push(`${head}: every call failed, so no rate is reported`);
  }
  if (all.succeeded > 0) {
    const scope = all.failed > 0 ? ' (succeeded calls)' : '';
    lines.push(`latency  ${formatLatency(succeeded.latencyMs)}${scope}`);
  }
  const failures = Object.entries(all.failedByType)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
  lines.push(`failed   ${all.failed}${failures ? ` (${failures})` : ''}`);
  if (firstError !== undefined) {
    const message = firstError.message.split('\n', 1)[0];
    lines.push(`first failed call: ${firstError.type}: ${message}`);
    if (firstError.type === 'invalid_input' && options.input === undefined) {
      lines.push(
        'No --input was given, so every call had no keyword arguments. Pass them as a JSON object, such as --input \'{"a": 1}\'.',
      );
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * Runs `pyroost bench`: one untimed call per worker, then `calls` timed calls
 * with the same inputs and one call per worker in flight. Prints the rate
 * and latency percentiles of the succeeded calls and the failures by type,
 * and returns 1 when any call failed.
 */
export async function benchCommand(
  options: BenchOptions,
  io: CliIo,
): Promise<number> {
  const inputs =
    options.input === undefined
      ? {}
      : parseInputsObject(options.input, '--input');
  const poolStartedAt = performance.now();
  const pool = await startPoolOrReport(io, 'bench', options, options.workers);
  if (pool === undefined) return EXIT_FAILURE;
  try {
    checkProgramRegistered(pool, options, 'bench');
    const startSeconds = secondsSince(poolStartedAt);
    const workers = pool.getStats().size;
    const callOptions = {
      concurrency: workers,
      timeoutMs: options.timeoutMs,
      checkoutTimeoutMs: checkoutTimeoutMs(options.startTimeoutMs),
      signal: io.signal,
    };
    // The first call of each worker may import modules or fill caches.
    await callEach(
      pool,
      options.program,
      new Array(workers).fill(inputs),
      callOptions,
    );

    const startedAt = performance.now();
    const outcomes = await callEach(
      pool,
      options.program,
      new Array(options.calls).fill(inputs),
      callOptions,
    );
    const result = measure(
      outcomes,
      workers,
      startSeconds,
      secondsSince(startedAt),
    );

    if (options.json) {
      const output = benchJson(options, workers, result);
      io.stdout.write(JSON.stringify(output, null, 2) + '\n');
    } else {
      io.stdout.write(formatBench(options, workers, result));
    }
    if (io.signal?.aborted) return EXIT_INTERRUPTED;
    return result.all.failed > 0 ? EXIT_FAILURE : EXIT_OK;
  } finally {
    await pool.close({ graceful: !io.signal?.aborted });
  }
}
