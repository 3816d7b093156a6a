import { parseInputsObject } from './inputs.js';
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, type CliIo } from './io.js';
import type { BenchOptions } from './options.js';
import {
  callEach,
  checkProgramRegistered,
  secondsSince,
  startPoolOrReport,
} from './execution.js';
import { formatLatency, formatSeconds, summarize } from './summary.js';

/**
 * Runs `pyroost bench`: one untimed call per worker, then `calls` timed calls
 * with the same inputs and one call per worker in flight. Prints calls per
 * second and latency percentiles, and returns 1 when any call failed.
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
    const summary = summarize(
      outcomes,
      workers,
      startSeconds,
      secondsSince(startedAt),
    );

    if (options.json) {
      const output = {
        program: options.program,
        calls: options.calls,
        workers,
        seconds: summary.seconds,
        callsPerSecond: summary.throughput,
        latencyMs: summary.latencyMs,
        failed: summary.failed,
        failedByType: summary.failedByType,
      };
      io.stdout.write(JSON.stringify(output, null, 2) + '\n');
    } else {
      const failures = Object.entries(summary.failedByType)
        .map(([name, count]) => `${name} ${count}`)
        .join(', ');
      io.stdout.write(
        [
          `${summary.succeeded + summary.failed} calls of ${options.program} on ${workers} ` +
            `${workers === 1 ? 'worker' : 'workers'} in ${formatSeconds(summary.seconds)}: ` +
            `${summary.throughput.toFixed(0)} calls/s`,
          `latency  ${formatLatency(summary.latencyMs)}`,
          `failed   ${summary.failed}${failures ? ` (${failures})` : ''}`,
        ].join('\n') + '\n',
      );
    }
    if (io.signal?.aborted) return EXIT_INTERRUPTED;
    return summary.failed > 0 ? EXIT_FAILURE : EXIT_OK;
  } finally {
    await pool.close({ graceful: !io.signal?.aborted });
  }
}
