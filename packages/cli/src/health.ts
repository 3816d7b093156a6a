import { EXIT_FAILURE, EXIT_OK, type CliIo } from './io.js';
import type { HealthOptions } from './options.js';
import { startPoolOrReport } from './execution.js';

/**
 * Runs `pyroost health`: starts a pool, prints its health check and the
 * registered programs, closes the pool, and returns 0 only when the pool was
 * healthy.
 */
export async function healthCommand(
  options: HealthOptions,
  io: CliIo,
): Promise<number> {
  const pool = await startPoolOrReport(io, 'health', options, options.workers);
  if (pool === undefined) return EXIT_FAILURE;
  try {
    const report = await pool.healthCheck();
    const programs = [...pool.programs];
    if (options.json) {
      io.stdout.write(JSON.stringify({ ...report, programs }, null, 2) + '\n');
    } else {
      const { workers } = report;
      const lines = [
        `status      ${report.status}`,
        `workers     ${workers.idle + workers.busy} of ${report.size} up ` +
          `(${workers.idle} idle, ${workers.busy} busy, ${workers.starting} starting, ${workers.stopping} stopping)`,
        `queue       ${report.queueLength} callers waiting`,
        `restarts    ${report.restartsInWindow} in the supervisor's restart window`,
        `programs    ${programs.join(', ') || 'none'}`,
      ];
      for (const reason of report.reasons) lines.push(`reason      ${reason}`);
      io.stdout.write(lines.join('\n') + '\n');
    }
    return report.status === 'healthy' ? EXIT_OK : EXIT_FAILURE;
  } finally {
    await pool.close();
  }
}
