import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PythonPool } from '@pyroost/api';
import {
  BREAKS_ON_MARKER,
  RAISES_AT_IMPORT,
  START_PROBE,
  closePools,
  pidsWithArgument,
  rejection,
  settledPids,
  sleep,
  startPool,
  waitFor,
} from './fixtures/helpers.js';

afterEach(closePools);

/**
 * Samples /proc every 20 ms for `durationMs` and returns every pid seen
 * whose command line contains `fragment`.
 */
async function pidsSeenDuring(
  fragment: string,
  durationMs: number,
): Promise<Set<number>> {
  const seen = new Set<number>();
  const deadline = Date.now() + durationMs;
  while (Date.now() < deadline) {
    for (const pid of pidsWithArgument(fragment)) seen.add(pid);
    await sleep(20);
  }
  return seen;
}

describe('start failures', () => {
  it('rejects a missing interpreter with spawn_failed', async () => {
    const python = '/nonexistent/pyroost-test/bin/python3';
    const error = await rejection(
      PythonPool.start({ programs: [START_PROBE], python, size: 3 }),
    );
    expect(error.type).toBe('spawn_failed');
    expect(error.message).toContain(python);

    const seen = await pidsSeenDuring(START_PROBE, 1_000);
    expect([...seen]).toEqual([]);
  });

  it('rejects a programs file that raises at import', async () => {
    const error = await rejection(
      PythonPool.start({ programs: [RAISES_AT_IMPORT], size: 3 }),
    );
    expect(error.type).toBe('program_error');
    expect(error.message).toContain(RAISES_AT_IMPORT);
    expect(JSON.stringify(error.context)).toContain('fails on purpose');

    const seen = await pidsSeenDuring(RAISES_AT_IMPORT, 1_000);
    expect([...seen]).toEqual([]);
  });

  it('gives up on replacements that fail to import', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'pyroost-marker-'));
    const marker = join(directory, 'broken');
    try {
      const pool = await startPool({
        programs: [BREAKS_ON_MARKER],
        env: { PYROOST_BREAK_MARKER: marker },
        size: 2,
        maxRestarts: 3,
        initialBackoffMs: 10,
        maxBackoffMs: 50,
        checkoutTimeoutMs: 60_000,
      });
      await settledPids(pool, 2);
      writeFileSync(marker, '');

      for (let n = 0; n < 2; n += 1) {
        const crash = await rejection(pool.executeProgram('crash_now'));
        expect(crash.type).toBe('worker_crashed');
      }
      // A replacement already starting when the limit is hit still runs to
      // its end; after that no process may appear.
      await waitFor(
        async () =>
          (await pool.healthCheck()).status === 'unhealthy' &&
          pool.getStats().workers.total === 0,
        30_000,
        'the pool to give up on replacements',
      );
      const health = await pool.healthCheck();
      expect(health.reasons.join(' ')).toContain('restart intensity');
      expect(health.reasons.join(' ')).toContain('breaks_on_marker.py');
      const unhealthy = await rejection(pool.executeProgram('pid'));
      expect(unhealthy.type).toBe('pool_unhealthy');

      // Nothing keeps spawning in the background.
      const seen = await pidsSeenDuring(BREAKS_ON_MARKER, 1_000);
      expect([...seen]).toEqual([]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
