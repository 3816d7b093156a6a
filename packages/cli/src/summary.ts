import type { PyroostError } from '@pyroost/api';
import type { CallOutcome } from './execution.js';

/** Latency percentiles in milliseconds, null when no call was made. */
export interface LatencyPercentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** Totals of a `run` or `bench`. */
export interface RunSummary {
  total: number;
  succeeded: number;
  failed: number;
  /** Calls never made because the command was interrupted. */
  notRun: number;
  /** Failure count by error name, see `errorName`. */
  failedByType: Record<string, number>;
  workers: number;
  /** Time to start the pool, in seconds. */
  startSeconds: number;
  /** Time from the first call to the last result, in seconds. */
  seconds: number;
  /** Calls settled per second of `seconds`. */
  throughput: number;
  latencyMs: LatencyPercentiles;
}

/**
 * Returns the name a failure is counted under: the Python exception class
 * (such as `ZeroDivisionError`) for an exception raised by the program, else
 * the pyroost error type (such as `execution_timeout`).
 */
export function errorName(error: PyroostError): string {
  const exception = error.context.exception;
  if (error.type === 'program_error' && typeof exception === 'string') {
    return exception;
  }
  return error.type;
}

/** Returns the nearest-rank percentile `p` (0 to 100) of ascending `sorted` values. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export function summarize(
  outcomes: (CallOutcome | undefined)[],
  workers: number,
  startSeconds: number,
  seconds: number,
): RunSummary {
  const failedByType: Record<string, number> = {};
  const latencies: number[] = [];
  let succeeded = 0;
  let failed = 0;
  for (const outcome of outcomes) {
    if (outcome === undefined) continue;
    latencies.push(outcome.latencyMs);
    if (outcome.ok) {
      succeeded += 1;
    } else {
      failed += 1;
      const name = errorName(outcome.error);
      failedByType[name] = (failedByType[name] ?? 0) + 1;
    }
  }
  latencies.sort((a, b) => a - b);
  const settled = succeeded + failed;
  return {
    total: outcomes.length,
    succeeded,
    failed,
    notRun: outcomes.length - settled,
    failedByType,
    workers,
    startSeconds,
    seconds,
    throughput: seconds > 0 ? settled / seconds : 0,
    latencyMs: {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: percentile(latencies, 100),
    },
  };
}

export function formatSeconds(seconds: number): string {
  return seconds < 10 ? `${seconds.toFixed(3)} s` : `${seconds.toFixed(1)} s`;
}

function formatMs(value: number | null): string {
  if (value === null) return 'n/a';
  return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`;
}

/** Formats the latency percentiles as one line of text. */
export function formatLatency(latency: LatencyPercentiles): string {
  return (
    `p50 ${formatMs(latency.p50)}, p95 ${formatMs(latency.p95)}, ` +
    `p99 ${formatMs(latency.p99)}, max ${formatMs(latency.max)}`
  );
}

/** Formats the summary of `run` as indented lines ending in a newline. */
export function formatSummary(summary: RunSummary, noun: string): string {
  const settled = summary.succeeded + summary.failed;
  const failures = Object.entries(summary.failedByType)
    .sort(([a, countA], [b, countB]) => countB - countA || a.localeCompare(b))
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
  const lines = [
    'Summary',
    `  done        ${settled} of ${summary.total} ${noun} in ${formatSeconds(summary.seconds)} ` +
      `on ${summary.workers} ${summary.workers === 1 ? 'worker' : 'workers'} ` +
      `(pool start ${formatSeconds(summary.startSeconds)})`,
    `  succeeded   ${summary.succeeded}`,
    `  failed      ${summary.failed}${failures ? ` (${failures})` : ''}`,
  ];
  if (summary.notRun > 0) {
    lines.push(`  not run     ${summary.notRun} (interrupted)`);
  }
  // Failed calls often return at once, so their rate does not measure the
  // speed of the program.
  const throughput =
    summary.succeeded > 0 || settled === 0
      ? `${summary.throughput.toFixed(1)} ${noun}/s`
      : 'n/a (every call failed)';
  lines.push(
    `  throughput  ${throughput}`,
    `  latency     ${formatLatency(summary.latencyMs)}`,
  );
  return lines.join('\n') + '\n';
}
