// Load average and core count printed next to the wall times of main.mjs, so
// that a reader can tell a slow pool from a busy machine.
import { availableParallelism, loadavg } from 'node:os';
import process from 'node:process';

/**
 * Returns the 1-minute load average, or null on Windows, where Node reports
 * it as 0.
 */
export function oneMinuteLoad() {
  return process.platform === 'win32' ? null : loadavg()[0];
}

/** Returns the number of CPUs that this process may use. */
export function coreCount() {
  return availableParallelism();
}

/**
 * Returns the lines that follow the wall times: the load averages sampled
 * before and after the two runs and the core count, and a note when the
 * load before the runs exceeded the core count. The load after the runs is
 * not compared, because it includes the runs' own workers.
 *
 * `machine` is { loadBefore, loadAfter, cores }, with null loads when
 * unknown.
 */
export function formatMachineLoad(machine) {
  const { loadBefore, loadAfter, cores } = machine;
  if (loadBefore === null || loadAfter === null) {
    return [`Machine: ${cores} cores, load average not available.`];
  }
  const lines = [
    `Machine: ${cores} cores, 1-minute load average ${loadBefore.toFixed(2)} ` +
      `before the runs and ${loadAfter.toFixed(2)} after.`,
  ];
  if (loadBefore > cores) {
    lines.push(
      `Note: the load average before the runs (${loadBefore.toFixed(2)}) exceeded the ${cores} cores, ` +
        'so the runs shared the CPUs with other processes, and their wall times and the speed-up are unreliable.',
    );
  }
  return lines;
}
