import { fileURLToPath } from 'node:url';
import { Pool, type PoolOptions } from '@pyroost/pool';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PoolMonitor } from './index.js';

const PROGRAMS = fileURLToPath(
  new URL('../test/fixtures/programs.py', import.meta.url),
);

const pools: Pool[] = [];
const monitors: PoolMonitor[] = [];
const stoppedPids: number[] = [];

async function startPool(options: Partial<PoolOptions> = {}): Promise<Pool> {
  const pool = await Pool.start({
    programs: [PROGRAMS],
    size: 2,
    overflow: 0,
    ...options,
  });
  pools.push(pool);
  return pool;
}

function monitor(
  pool: Pool,
  options: ConstructorParameters<typeof PoolMonitor>[1] = {},
): PoolMonitor {
  const created = new PoolMonitor(pool, options);
  monitors.push(created);
  return created;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

afterEach(async () => {
  vi.useRealTimers();
  for (const created of monitors.splice(0)) created.stop();
  for (const pid of stoppedPids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone: the pool killed it.
    }
  }
  await Promise.all(
    pools.splice(0).map((pool) => pool.close({ graceful: false })),
  );
});

describe('PoolMonitor health checks', () => {
  it(
    'pings idle workers and reports none failed',
    { tags: ['core'] },
    async () => {
      const pool = await startPool();
      const pidsBefore = pool.workers().map((worker) => worker.pid);

      const report = await monitor(pool).checkNow();

      expect(report.failedWorkers).toEqual([]);
      expect(report.expiredSessions).toBe(0);
      expect(pool.workers().map((worker) => worker.pid)).toEqual(pidsBefore);
      expect(pool.stats().workers.idle).toBe(2);
    },
  );

  it(
    'replaces an idle worker that does not answer',
    { tags: ['core'] },
    async () => {
      const pool = await startPool({ killGraceMs: 200 });
      const [frozen, healthy] = pool.workers();
      if (!frozen?.pid || !healthy?.pid)
        throw new Error('expected two workers');

      // A stopped process cannot answer the ping, like a hung interpreter.
      // The timeout leaves the healthy worker ample time to answer on a
      // loaded machine.
      process.kill(frozen.pid, 'SIGSTOP');
      stoppedPids.push(frozen.pid);
      const report = await monitor(pool, {
        healthCheckTimeoutMs: 2_000,
      }).checkNow();

      expect(report.failedWorkers).toEqual([frozen.id]);
      await waitFor(
        () => !isAlive(frozen.pid as number),
        'the frozen pid to exit',
      );
      await waitFor(
        () => pool.stats().workers.idle === 2,
        'a replacement worker',
      );
      const pids = pool.workers().map((worker) => worker.pid);
      expect(pids).toContain(healthy.pid);
      expect(pids).not.toContain(frozen.pid);
      expect(await pool.executeAnonymous('square', { n: 9 })).toBe(81);
    },
  );

  it('never pings a busy worker', async () => {
    const pool = await startPool({ size: 1 });
    const busyPid = pool.workers()[0]?.pid;
    const slow = pool.executeAnonymous('sleep', { seconds: 1 });
    slow.catch(() => undefined);
    await waitFor(() => pool.stats().workers.busy === 1, 'the busy worker');

    // A ping of a worker that runs a program would wait for the program and
    // time out after 50 ms; the monitor must skip it instead.
    const report = await monitor(pool, { healthCheckTimeoutMs: 50 }).checkNow();

    expect(report.failedWorkers).toEqual([]);
    await expect(slow).resolves.toEqual({ slept: 1, pid: busyPid });
    expect(pool.workers().map((worker) => worker.pid)).toEqual([busyPid]);
  });

  it('shares one round between concurrent checkNow calls', async () => {
    const pool = await startPool({ size: 1 });
    const created = monitor(pool);
    const first = created.checkNow();
    const second = created.checkNow();
    expect(second).toBe(first);
    const report = await first;
    expect(created.lastReport).toBe(report);
    expect(created.checkNow()).not.toBe(first);
  });

  it('reports nothing for a closed pool', async () => {
    const pool = await startPool({ size: 1 });
    await pool.close();
    const report = await monitor(pool).checkNow();
    expect(report.failedWorkers).toEqual([]);
    expect(report.expiredSessions).toBe(0);
  });
});

describe('PoolMonitor sessions', () => {
  it(
    'expires sessions idle longer than sessionTtlMs',
    { tags: ['core'] },
    async () => {
      const pool = await startPool({ size: 1 });
      // Only Date is mocked, so the session timestamps move while the worker's
      // timers and pipes run in real time.
      vi.useFakeTimers({ toFake: ['Date'] });
      const start = Date.UTC(2030, 0, 1);
      vi.setSystemTime(start);
      await pool.executeInSession('old', 'square', { n: 2 });
      vi.setSystemTime(start + 5_000);
      await pool.executeInSession('recent', 'square', { n: 3 });
      vi.setSystemTime(start + 6_000);

      const report = await monitor(pool, { sessionTtlMs: 3_000 }).checkNow();

      expect(report.expiredSessions).toBe(1);
      expect(pool.sessions().map((session) => session.sessionId)).toEqual([
        'recent',
      ]);

      vi.setSystemTime(start + 9_000);
      const later = await monitor(pool, { sessionTtlMs: 3_000 }).checkNow();
      expect(later.expiredSessions).toBe(1);
      expect(pool.sessions()).toEqual([]);
    },
  );

  it('runs rounds on its timer after start', async () => {
    const pool = await startPool({ size: 1 });
    await pool.executeInSession('short-lived', 'square', { n: 4 });
    const created = monitor(pool, {
      healthCheckIntervalMs: 50,
      sessionTtlMs: 1,
    }).start();

    await waitFor(
      () => created.lastReport !== undefined && pool.sessions().length === 0,
      'a timed round that expires the session',
    );
    created.stop();
    expect(created.lastReport?.failedWorkers).toEqual([]);
  });

  it('does not start a timer when the interval is 0', async () => {
    const pool = await startPool({ size: 1 });
    const created = monitor(pool, { healthCheckIntervalMs: 0 }).start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(created.lastReport).toBeUndefined();
  });
});
