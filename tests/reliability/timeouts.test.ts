import { afterEach, describe, expect, it } from 'vitest';
import {
  closePools,
  isAlive,
  rejection,
  settledPids,
  startPool,
  waitFor,
} from './fixtures/helpers.js';

afterEach(closePools);

describe('timeouts and aborts', () => {
  it('times out a sleeper and serves the queue', async () => {
    const pool = await startPool({
      size: 1,
      checkoutTimeoutMs: 60_000,
      timeoutMs: 60_000,
    });
    const [sleeperPid] = await settledPids(pool, 1);

    const sleeper = rejection(
      pool.executeProgram(
        'sleep_then_echo',
        { seconds: 86_400, tag: 'sleeper' },
        { timeoutMs: 300 },
      ),
    );
    const quick = [0, 1, 2, 3, 4].map((n) =>
      pool.executeProgram('double', { n }),
    );

    const timeout = await sleeper;
    expect(timeout.type).toBe('execution_timeout');
    expect(timeout.context.pid).toBe(sleeperPid);
    const results = (await Promise.all(quick)) as {
      n: number;
      double: number;
      pid: number;
    }[];
    results.forEach((result, n) => {
      expect(result.n).toBe(n);
      expect(result.double).toBe(2 * n);
      expect(result.pid).not.toBe(sleeperPid);
    });
    await waitFor(
      () => !isAlive(sleeperPid as number),
      10_000,
      'the sleeper to die',
    );
    await settledPids(pool, 1);
  });

  it('never hands a late reply to the next caller', async () => {
    // Each sleeper's sleep ends close to its timeout, so some replies race the
    // kill. Whatever wins, every quick call must get its own result.
    const pool = await startPool({
      size: 1,
      checkoutTimeoutMs: 60_000,
      timeoutMs: 60_000,
    });
    const outcomes: Promise<void>[] = [];
    for (let round = 0; round < 8; round += 1) {
      const seconds = 0.15 + round * 0.01;
      outcomes.push(
        pool
          .executeProgram(
            'sleep_then_echo',
            { seconds, tag: `sleeper-${round}` },
            { timeoutMs: 150 + round * 5 },
          )
          .then(
            (value) =>
              expect((value as { tag: string }).tag).toBe(`sleeper-${round}`),
            (error: { type: string }) =>
              expect(error.type).toBe('execution_timeout'),
          ),
      );
      for (let n = 0; n < 3; n += 1) {
        const tag = `quick-${round}-${n}`;
        outcomes.push(
          pool.executeProgram('echo', { tag }).then((value) => {
            expect((value as { tag: string }).tag).toBe(tag);
          }),
        );
      }
    }
    await Promise.all(outcomes);
    await settledPids(pool, 1);
  });

  it('times out and replaces a SIGSTOPped worker', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [stoppedPid] = await settledPids(pool, 1);

    const error = await rejection(
      pool.executeProgram('stop_self', { tag: 'stopped' }, { timeoutMs: 500 }),
    );
    expect(error.type).toBe('execution_timeout');
    expect(error.context.pid).toBe(stoppedPid);

    await waitFor(
      () => !isAlive(stoppedPid as number),
      10_000,
      'the stopped worker to die',
    );
    const result = await pool.executeProgram('echo', { tag: 'after' });
    expect(result).toMatchObject({ tag: 'after' });
    expect((result as { pid: number }).pid).not.toBe(stoppedPid);
  });

  it('times out a worker stopped from outside', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [stoppedPid] = await settledPids(pool, 1);

    const call = rejection(
      pool.executeProgram(
        'sleep_then_echo',
        { seconds: 0.2, tag: 'stopped' },
        { timeoutMs: 1_000 },
      ),
    );
    process.kill(stoppedPid as number, 'SIGSTOP');
    const error = await call;
    expect(error.type).toBe('execution_timeout');
    await waitFor(
      () => !isAlive(stoppedPid as number),
      10_000,
      'the stopped worker to die',
    );
    await settledPids(pool, 1);
  });

  it('kills and replaces a worker whose caller aborts', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [busyPid] = await settledPids(pool, 1);
    const controller = new AbortController();

    const running = rejection(
      pool.executeProgram(
        'sleep_then_echo',
        { seconds: 86_400, tag: 'aborted' },
        { signal: controller.signal },
      ),
    );
    const queuedController = new AbortController();
    const queued = rejection(
      pool.executeProgram(
        'echo',
        { tag: 'queued-aborted' },
        { signal: queuedController.signal },
      ),
    );
    const next = pool.executeProgram('echo', { tag: 'next' });

    await waitFor(
      () => pool.getStats().queueLength === 2,
      10_000,
      'two queued callers',
    );
    queuedController.abort(new Error('caller gave up while queued'));
    controller.abort(new Error('caller gave up while running'));

    const abortedRunning = await running;
    expect(abortedRunning.type).toBe('aborted');
    expect(abortedRunning.context.pid).toBe(busyPid);
    const abortedQueued = await queued;
    expect(abortedQueued.type).toBe('aborted');
    expect(abortedQueued.context.pid).toBeUndefined();

    const result = (await next) as { tag: string; pid: number };
    expect(result.tag).toBe('next');
    expect(result.pid).not.toBe(busyPid);
    await waitFor(
      () => !isAlive(busyPid as number),
      10_000,
      'the aborted worker to die',
    );
    expect(pool.getStats().errorsByType.aborted).toBe(2);
  });
});
