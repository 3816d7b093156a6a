// @module-tag core
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, type WorkerLoss } from '@pyroost/pool';
import { PyroostError } from '@pyroost/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PoolSupervisor } from './index.js';

const PROGRAMS = fileURLToPath(
  new URL('../test/fixtures/programs.py', import.meta.url),
);

/** Epoch ms that the clock is set to at the start of each clock test. */
const T0 = Date.UTC(2030, 0, 1);

function loss(workerId = 'worker-1'): WorkerLoss {
  return {
    workerId,
    pid: 1234,
    reason: new PyroostError({
      type: 'worker_crashed',
      message: `Worker ${workerId} exited.`,
    }),
  };
}

/** Advances the mocked `Date.now()` to `T0 + ms`. */
function setClock(ms: number): void {
  vi.setSystemTime(T0 + ms);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('PoolSupervisor back-off', () => {
  it('doubles the delay with each consecutive failure', () => {
    const supervisor = new PoolSupervisor({
      initialBackoffMs: 100,
      maxBackoffMs: 100_000,
      maxRestarts: 100,
    });
    const delays = Array.from({ length: 6 }, () =>
      supervisor.onWorkerLost(loss()),
    );
    expect(delays).toEqual([100, 200, 400, 800, 1_600, 3_200]);
  });

  it('caps the delay at maxBackoffMs', () => {
    const supervisor = new PoolSupervisor({
      initialBackoffMs: 100,
      maxBackoffMs: 500,
      maxRestarts: 100,
    });
    const delays = Array.from({ length: 6 }, () =>
      supervisor.onWorkerLost(loss()),
    );
    expect(delays).toEqual([100, 200, 400, 500, 500, 500]);
  });

  it('resets the doubling once a replacement starts', () => {
    const supervisor = new PoolSupervisor({
      initialBackoffMs: 50,
      maxRestarts: 100,
    });
    expect(supervisor.onWorkerLost(loss())).toBe(50);
    expect(supervisor.onWorkerLost(loss())).toBe(100);
    supervisor.onWorkerStarted();
    expect(supervisor.onWorkerLost(loss())).toBe(50);
  });

  it('uses the documented defaults', () => {
    const supervisor = new PoolSupervisor();
    expect(supervisor.maxRestarts).toBe(10);
    expect(supervisor.restartWindowMs).toBe(60_000);
    expect(supervisor.initialBackoffMs).toBe(100);
    expect(supervisor.maxBackoffMs).toBe(10_000);
    expect(supervisor.onWorkerLost(loss())).toBe(100);
  });
});

describe('PoolSupervisor intensity limit', () => {
  it('returns null once the window holds maxRestarts', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    setClock(0);
    const supervisor = new PoolSupervisor({
      maxRestarts: 3,
      restartWindowMs: 1_000,
      initialBackoffMs: 10,
    });
    expect(supervisor.onWorkerLost(loss('worker-1'))).toBe(10);
    expect(supervisor.onWorkerLost(loss('worker-2'))).toBe(20);
    expect(supervisor.onWorkerLost(loss('worker-3'))).toBe(40);
    expect(supervisor.exhausted).toBe(false);
    expect(supervisor.restartsInWindow()).toBe(3);

    const last = loss('worker-4');
    expect(supervisor.onWorkerLost(last)).toBeNull();
    expect(supervisor.exhausted).toBe(true);
    expect(supervisor.lastFailure).toBe(last);
  });

  it('stays exhausted after the window has passed', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    setClock(0);
    const supervisor = new PoolSupervisor({
      maxRestarts: 1,
      restartWindowMs: 1_000,
    });
    expect(supervisor.onWorkerLost(loss())).not.toBeNull();
    expect(supervisor.onWorkerLost(loss())).toBeNull();

    setClock(10_000);
    expect(supervisor.restartsInWindow()).toBe(0);
    expect(supervisor.onWorkerLost(loss())).toBeNull();
    expect(supervisor.exhausted).toBe(true);
  });

  it('prunes restarts that left the window', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const supervisor = new PoolSupervisor({
      maxRestarts: 2,
      restartWindowMs: 1_000,
      initialBackoffMs: 10,
    });
    setClock(0);
    expect(supervisor.onWorkerLost(loss())).toBe(10);
    setClock(600);
    expect(supervisor.onWorkerLost(loss())).toBe(20);
    expect(supervisor.restartsInWindow()).toBe(2);

    // The restart at 0 ms leaves the window at 1,000 ms (the window is
    // half-open: a restart exactly restartWindowMs old no longer counts).
    setClock(999);
    expect(supervisor.restartsInWindow()).toBe(2);
    setClock(1_000);
    expect(supervisor.restartsInWindow()).toBe(1);

    // With one slot free again, a third loss is restarted, not refused.
    expect(supervisor.onWorkerLost(loss())).toBe(40);
    expect(supervisor.exhausted).toBe(false);
    expect(supervisor.restartsInWindow()).toBe(2);

    setClock(1_600);
    expect(supervisor.restartsInWindow()).toBe(1);
    setClock(2_000);
    expect(supervisor.restartsInWindow()).toBe(0);
  });

  it('refuses the first loss when maxRestarts is 0', () => {
    const supervisor = new PoolSupervisor({ maxRestarts: 0 });
    expect(supervisor.onWorkerLost(loss())).toBeNull();
    expect(supervisor.exhausted).toBe(true);
  });
});

describe('PoolSupervisor options', () => {
  it.each([
    ['maxRestarts', -1],
    ['restartWindowMs', Number.NaN],
    ['initialBackoffMs', Number.POSITIVE_INFINITY],
    ['maxBackoffMs', -0.5],
  ])('rejects %s = %s with invalid_input', (option, value) => {
    let caught: unknown;
    try {
      new PoolSupervisor({ [option]: value });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PyroostError);
    const error = caught as PyroostError;
    expect(error.type).toBe('invalid_input');
    expect(error.message).toContain(option);
    expect(error.context).toMatchObject({ option });
  });
});

describe('PoolSupervisor with a real pool', () => {
  const cleanups: (() => Promise<void> | void)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('restarts a crashed worker after back-off', async () => {
    const supervisor = new PoolSupervisor({
      maxRestarts: 5,
      initialBackoffMs: 20,
    });
    const pool = await Pool.start({
      programs: [PROGRAMS],
      size: 1,
      overflow: 0,
      restartPolicy: supervisor,
    });
    cleanups.push(() => pool.close({ graceful: false }));
    const firstPid = (await pool.executeAnonymous('pid', {})) as number;

    const restarted = new Promise((resolve) =>
      pool.once('workerStarted', resolve),
    );
    await expect(
      pool.executeAnonymous('crash', { status: 3 }),
    ).rejects.toMatchObject({ type: 'worker_crashed' });
    await restarted;

    const secondPid = (await pool.executeAnonymous('pid', {})) as number;
    expect(secondPid).not.toBe(firstPid);
    expect(supervisor.restartsInWindow()).toBe(1);
    expect(supervisor.exhausted).toBe(false);
    expect(pool.stats().totals.restarts).toBe(1);
  });

  it('stops a start-up failure loop at maxRestarts', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'pyroost-supervisor-'));
    cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
    const marker = join(directory, 'fail-at-import');
    const supervisor = new PoolSupervisor({
      maxRestarts: 3,
      restartWindowMs: 60_000,
      initialBackoffMs: 10,
      maxBackoffMs: 40,
    });
    const pool = await Pool.start({
      programs: [PROGRAMS],
      size: 1,
      overflow: 0,
      env: { PYROOST_TEST_FAIL_MARKER: marker },
      restartPolicy: supervisor,
    });
    cleanups.push(() => pool.close({ graceful: false }));

    // From now on every replacement worker fails while importing programs.
    writeFileSync(marker, '');
    expect(existsSync(marker)).toBe(true);
    const stopped = new Promise<WorkerLoss>((resolve) =>
      pool.once('replacementStopped', resolve),
    );
    await expect(
      pool.executeAnonymous('crash', { status: 4 }),
    ).rejects.toMatchObject({ type: 'worker_crashed' });
    const finalLoss = await stopped;

    expect(supervisor.exhausted).toBe(true);
    expect(finalLoss.startError).toBeInstanceOf(PyroostError);
    expect(supervisor.lastFailure?.startError?.message).toContain(
      'start-up failure requested',
    );
    // One restart for the crash, then two more for failed start-ups; the
    // fourth loss finds the window full.
    expect(pool.stats().totals.restarts).toBe(3);
    expect(pool.stats().replacementStopped).toBe(true);
    expect(pool.stats().workers.total).toBe(0);
  });
});
