import { afterEach, describe, expect, it } from 'vitest';
import {
  closePools,
  isAlive,
  settledPids,
  startPool,
  waitFor,
} from './fixtures/helpers.js';

afterEach(closePools);

describe('recycling', () => {
  it('completes 50 queued calls with 25 recycles', async () => {
    const pool = await startPool({
      size: 1,
      overflow: 0,
      maxTasksPerWorker: 2,
      checkoutTimeoutMs: 120_000,
    });
    const [firstPid] = await settledPids(pool, 1);

    const results = (await Promise.all(
      Array.from({ length: 50 }, (_, n) =>
        pool.executeProgram('double', { n }),
      ),
    )) as { n: number; double: number; pid: number }[];

    results.forEach((result, n) => {
      expect(result.n).toBe(n);
      expect(result.double).toBe(2 * n);
    });
    // Each worker served exactly two calls, and the queue kept its order.
    const callsByPid = new Map<number, number[]>();
    results.forEach((result, n) =>
      callsByPid.set(result.pid, [...(callsByPid.get(result.pid) ?? []), n]),
    );
    expect(callsByPid.size).toBe(25);
    for (const calls of callsByPid.values()) {
      expect(calls).toHaveLength(2);
      expect((calls[1] as number) - (calls[0] as number)).toBe(1);
    }
    expect(callsByPid.get(firstPid as number)).toEqual([0, 1]);

    const stats = pool.getStats();
    expect(stats.totals.recycled).toBe(25);
    expect(stats.totals.succeeded).toBe(50);
    expect(stats.totals.failed).toBe(0);
    // Recycling is not a failure, so the restart budget stays untouched.
    expect(stats.restartsInWindow).toBe(0);

    const [lastPid] = await settledPids(pool, 1);
    expect(callsByPid.has(lastPid as number)).toBe(false);
    await waitFor(
      () => [...callsByPid.keys()].every((pid) => !isAlive(pid)),
      10_000,
      'every recycled worker to exit',
    );
    expect((await pool.healthCheck()).status).toBe('healthy');
  });
});
