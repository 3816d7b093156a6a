// Closed-loop load generation and the statistics the tables print.

import { readFileSync } from 'node:fs';

/** Returns the q-quantile (0..1) of sorted numbers, nearest-rank. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(
    sorted.length - 1,
    Math.max(0, Math.ceil(q * sorted.length) - 1),
  );
  return sorted[rank];
}

/** Returns min, median and max of the numbers. */
export function spread(values) {
  const sorted = values
    .filter((value) => Number.isFinite(value))
    .sort((a, b) => a - b);
  if (sorted.length === 0)
    return { min: Number.NaN, median: Number.NaN, max: Number.NaN };
  const middle = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? sorted[middle]
      : (sorted[middle - 1] + sorted[middle]) / 2;
  return { min: sorted[0], median, max: sorted[sorted.length - 1] };
}

/**
 * Runs `callers` concurrent callers, each calling `call()` in a loop until
 * `durationMs` have passed and it has made at least `minCallsPerCaller`
 * calls. Calls started before the deadline are awaited, and the elapsed time
 * runs to the last completion. Returns calls per second and the latency
 * percentiles in milliseconds.
 */
export async function closedLoop(
  call,
  { callers, durationMs, minCallsPerCaller = 1 },
) {
  const latencies = [];
  const startedAt = performance.now();
  const deadline = startedAt + durationMs;

  const runCaller = async () => {
    let calls = 0;
    while (calls < minCallsPerCaller || performance.now() < deadline) {
      const callStartedAt = performance.now();
      await call();
      latencies.push(performance.now() - callStartedAt);
      calls += 1;
    }
  };
  await Promise.all(Array.from({ length: callers }, runCaller));

  const elapsedMs = performance.now() - startedAt;
  latencies.sort((a, b) => a - b);
  return {
    calls: latencies.length,
    elapsedMs,
    callsPerSecond: (latencies.length * 1000) / elapsedMs,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
  };
}

/** Returns the items in a rotated order, so that no system always runs first. */
export function rotate(items, by) {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** Waits for the given number of milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs a full garbage collection when node was started with --expose-gc. */
export function collectGarbage() {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
}

/**
 * Returns the CPU time a process has used, in microseconds, from the first
 * field of /proc/<pid>/schedstat (nanoseconds on CPU of its main thread).
 */
export function processCpuMicros(pid) {
  try {
    return (
      Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) /
      1000
    );
  } catch {
    return Number.NaN;
  }
}

/**
 * Starts counting CPU time of this Node process and of the given worker
 * processes. The returned function gives the microseconds each side used
 * since then. CPU time is far less disturbed than wall time by other load on
 * a shared machine.
 */
export function startCpuCount(pids) {
  const node = process.cpuUsage();
  const python = pids.map(processCpuMicros);
  return () => {
    const nodeUsage = process.cpuUsage(node);
    const pythonMicros = pids.reduce(
      (sum, pid, index) => sum + processCpuMicros(pid) - python[index],
      0,
    );
    return { nodeMicros: nodeUsage.user + nodeUsage.system, pythonMicros };
  };
}
