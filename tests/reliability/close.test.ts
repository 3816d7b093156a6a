import { afterEach, describe, expect, it } from 'vitest';
import {
  closePools,
  isAlive,
  rejection,
  settledPids,
  startPool,
  track,
  waitFor,
} from './fixtures/helpers.js';

afterEach(closePools);

describe('close', () => {
  it('forced close settles every call once', async () => {
    const pool = await startPool({
      size: 2,
      overflow: 0,
      checkoutTimeoutMs: 60_000,
    });
    const pids = await settledPids(pool, 2);

    const running = [0, 1].map((index) =>
      track(
        pool.executeProgram('sleep_then_echo', {
          seconds: 86_400,
          tag: `running-${index}`,
        }),
      ),
    );
    await waitFor(
      () => pool.getStats().workers.busy === 2,
      10_000,
      'two busy workers',
    );
    const queued = Array.from({ length: 20 }, (_, index) =>
      track(pool.executeProgram('echo', { tag: `queued-${index}` })),
    );
    expect(pool.getStats().queueLength).toBe(20);

    await pool.close({ graceful: false });

    const outcomes = await Promise.all(
      [...running, ...queued].map((call) => call.outcome),
    );
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect(outcome.status === 'rejected' && outcome.error.type).toBe(
        'pool_closed',
      );
    }
    // Nothing settles twice, even after late exit events.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const call of [...running, ...queued]) {
      expect(call.settlements()).toBe(1);
    }
    for (const pid of pids) expect(isAlive(pid)).toBe(false);

    const stats = pool.getStats();
    expect(stats.workers.total).toBe(0);
    expect(stats.queueLength).toBe(0);
    const afterClose = await rejection(
      pool.executeProgram('echo', { tag: 'late' }),
    );
    expect(afterClose.type).toBe('pool_closed');
  });

  it('lets running calls finish on graceful close', async () => {
    const pool = await startPool({
      size: 2,
      overflow: 0,
      checkoutTimeoutMs: 60_000,
    });
    const pids = await settledPids(pool, 2);

    const running = [0, 1].map((index) =>
      track(
        pool.executeProgram('sleep_then_echo', {
          seconds: 0.5,
          tag: `running-${index}`,
        }),
      ),
    );
    await waitFor(
      () => pool.getStats().workers.busy === 2,
      10_000,
      'two busy workers',
    );
    const queued = Array.from({ length: 5 }, (_, index) =>
      track(pool.executeProgram('echo', { tag: `queued-${index}` })),
    );

    await pool.close();

    const runningOutcomes = await Promise.all(running.map((c) => c.outcome));
    runningOutcomes.forEach((outcome, index) => {
      expect(outcome.status).toBe('fulfilled');
      expect(outcome.status === 'fulfilled' && outcome.value).toMatchObject({
        tag: `running-${index}`,
      });
    });
    for (const call of queued) {
      const outcome = await call.outcome;
      expect(outcome.status === 'rejected' && outcome.error.type).toBe(
        'pool_closed',
      );
    }
    for (const call of [...running, ...queued]) {
      expect(call.settlements()).toBe(1);
    }
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  it('settles calls when close races replacements', async () => {
    const pool = await startPool({
      size: 2,
      overflow: 0,
      checkoutTimeoutMs: 60_000,
      initialBackoffMs: 0,
    });
    const pids = await settledPids(pool, 2);
    const started: number[] = [];
    pool.rawPool.on('workerStarted', (worker: { pid: number }) =>
      started.push(worker.pid),
    );
    const calls = Array.from({ length: 10 }, (_, index) =>
      track(pool.executeProgram('echo', { tag: `c-${index}`, pause_s: 0.2 })),
    );
    await waitFor(
      () => pool.getStats().workers.busy === 2,
      10_000,
      'two busy workers',
    );
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await pool.close({ graceful: false });

    const outcomes = await Promise.all(calls.map((call) => call.outcome));
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(['pool_closed', 'worker_crashed']).toContain(outcome.error.type);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const call of calls) expect(call.settlements()).toBe(1);
    expect(pool.getStats().workers.total).toBe(0);
    expect(pool.workers()).toEqual([]);
    // Replacements that started while the pool closed are gone too.
    for (const pid of [...pids, ...started]) expect(isAlive(pid)).toBe(false);
  });
});
