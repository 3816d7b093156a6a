// @module-tag core
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PyroostError, PythonPool, type PythonPoolOptions } from './index.js';

const PROGRAMS = fileURLToPath(
  new URL('../test/fixtures/programs.py', import.meta.url),
);
const pools: PythonPool[] = [];

async function startPool(
  options: Partial<PythonPoolOptions> = {},
): Promise<PythonPool> {
  const pool = await PythonPool.start({
    programs: [PROGRAMS],
    size: 2,
    ...options,
  });
  pools.push(pool);
  return pool;
}

async function rejection(promise: Promise<unknown>): Promise<PyroostError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(PyroostError);
    return error as PyroostError;
  }
  throw new Error('expected the promise to reject');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(async () => {
  await Promise.all(
    pools.splice(0).map((pool) => pool.close({ graceful: false })),
  );
});

describe('PythonPool', () => {
  it('runs a program and reports healthy', async () => {
    const pool = await startPool();
    const result = await pool.executeProgram(
      'word_stats',
      { text: 'a b a c' },
      { sessionId: 's1' },
    );
    expect(result).toEqual({ words: 4, unique: 3, top: 'a' });
    expect(pool.programs).toContain('word_stats');
    const health = await pool.healthCheck();
    expect(health.status).toBe('healthy');
    expect(health.workers.idle).toBe(2);
    expect(pool.sessions().map((s) => s.sessionId)).toEqual(['s1']);
  });

  it('counts successes, failures and error types in stats', async () => {
    const pool = await startPool();
    await pool.executeProgram('square', { n: 3 });
    const error = await rejection(pool.executeProgram('square', { n: -1 }));
    expect(error.type).toBe('program_error');
    const stats = pool.getStats();
    expect(stats.totals.succeeded).toBe(1);
    expect(stats.totals.failed).toBe(1);
    expect(stats.errorsByType.program_error).toBe(1);
    expect(stats.latencyMs.count).toBe(2);
  });

  it('rejects explicit undefined inputs', async () => {
    const pool = await startPool();
    const error = await rejection(pool.executeProgram('square', undefined));
    expect(error.type).toBe('invalid_input');
  });

  it('runs a batch with one result or error per item, in order', async () => {
    const pool = await startPool();
    const inputs = Array.from({ length: 25 }, (_, i) => ({
      n: i === 7 ? -7 : i,
    }));
    const results = await pool.executeBatch('square', inputs, { chunkSize: 4 });
    expect(results).toHaveLength(25);
    results.forEach((item, i) => {
      if (i === 7) {
        expect(item.ok).toBe(false);
        expect(!item.ok && item.error.type).toBe('program_error');
      } else {
        expect(item).toEqual({ ok: true, result: i * i });
      }
    });
  });

  it('stops restarting past the restart intensity and reports unhealthy', async () => {
    const pool = await startPool({
      size: 1,
      overflow: 0,
      maxRestarts: 2,
      initialBackoffMs: 10,
    });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const error = await rejection(
        pool.executeProgram('crash', {}, { checkoutTimeoutMs: 5_000 }),
      );
      expect(error.type).toBe('worker_crashed');
      expect(error.context.exitCode).toBe(7);
    }
    const unhealthy = await rejection(pool.executeProgram('square', { n: 2 }));
    expect(unhealthy.type).toBe('pool_unhealthy');
    const health = await pool.healthCheck();
    expect(health.status).toBe('unhealthy');
    expect(health.reasons.join(' ')).toContain('restart intensity');
  });

  it('leaves no Python process after close or dispose', async () => {
    const pids: number[] = [];
    {
      await using pool = await PythonPool.start({
        programs: [PROGRAMS],
        size: 2,
      });
      pids.push(...pool.workers().map((w) => w.pid as number));
      expect(pids.every(isAlive)).toBe(true);
    }
    expect(pids).toHaveLength(2);
    expect(pids.some(isAlive)).toBe(false);
  });

  it('rejects a start with a missing interpreter', async () => {
    const error = await rejection(
      PythonPool.start({ programs: [PROGRAMS], python: '/nope/python' }),
    );
    expect(error.type).toBe('spawn_failed');
    expect(error.message).toContain('/nope/python');
  });
});

describe('PythonPool input checks', () => {
  it('rejects unknown options naming them', async () => {
    const error = await rejection(
      PythonPool.start({ programs: [PROGRAMS], sise: 3 } as never),
    );
    expect(error.type).toBe('invalid_input');
    expect(error.message).toContain('sise');
    expect(error.message).toContain('size');
  });

  it.each([
    ['size', 1e6, 'Option size must be an integer from 1 to 1024'],
    ['overflow', 2_000, 'Option overflow must be an integer from 0 to'],
    ['tracerProvider', 5, 'Option tracerProvider must be'],
    ['meterProvider', {}, 'Option meterProvider must be'],
  ])('rejects start option %s %j', async (option, value, message) => {
    const error = await rejection(
      PythonPool.start({ programs: [PROGRAMS], [option]: value }),
    );
    expect(error).toBeInstanceOf(PyroostError);
    expect(error.type).toBe('invalid_input');
    expect(error.message).toContain(message);
  });

  it('rejects misspelled call options naming them', async () => {
    const pool = await startPool({ size: 1, overflow: 0 });
    const call = await rejection(
      pool.executeProgram('square', { n: 2 }, { timeout: 100 } as never),
    );
    expect(call.type).toBe('invalid_input');
    expect(call.message).toContain('Unknown executeProgram option timeout');
    expect(call.message).toContain('timeoutMs');
    const batch = await rejection(
      pool.executeBatch('square', [{ n: 2 }], { chunksize: 10 } as never),
    );
    expect(batch.type).toBe('invalid_input');
    expect(batch.message).toContain('chunksize');
    expect(batch.message).toContain('chunkSize');
    expect(await pool.executeProgram('square', { n: 2 })).toBe(4);
  });

  it('fills every slot of a sparse batch', async () => {
    const pool = await startPool({ size: 1, overflow: 0 });
    // eslint-disable-next-line no-sparse-arrays
    const sparse = [, { n: 2 }] as Record<string, unknown>[];
    const results = await pool.executeBatch('square', sparse);
    expect(results).toHaveLength(2);
    expect(0 in results).toBe(true);
    const [hole, filled] = results;
    expect(hole?.ok).toBe(false);
    if (hole && !hole.ok) expect(hole.error.type).toBe('invalid_input');
    expect(filled).toEqual({ ok: true, result: 4 });
  });

  it('shares one abort signal without warnings', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      const pool = await startPool({ size: 2, overflow: 0 });
      const controller = new AbortController();
      const { signal } = controller;
      // Finished calls, then running and queued ones, all on one signal.
      for (let round = 0; round < 3; round += 1) {
        const done = Array.from({ length: 20 }, (_, n) =>
          pool.executeProgram('square', { n }, { signal }),
        );
        expect(await Promise.all(done)).toHaveLength(20);
      }
      const pending = Array.from({ length: 30 }, () =>
        pool.executeProgram('sleep', { seconds: 30 }, { signal }),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      controller.abort();
      const errors = await Promise.all(pending.map(rejection));
      expect(errors.every((error) => error.type === 'aborted')).toBe(true);
      expect(await pool.executeProgram('square', { n: 3 })).toBe(9);
      // The warning is emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    const listenerWarnings = warnings.filter(
      (warning) => warning.name === 'MaxListenersExceededWarning',
    );
    expect(listenerWarnings).toEqual([]);
  });

  it('rejects an AbortController passed as signal', async () => {
    const pool = await startPool({ size: 1, overflow: 0 });
    const controller = new AbortController();
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const error = await rejection(
        pool.executeProgram(
          'square',
          { n: 2 },
          {
            signal: controller as unknown as AbortSignal,
          },
        ),
      );
      expect(error.type).toBe('invalid_input');
      expect(error.message).toContain('controller.signal');
    }
    expect(await pool.executeProgram('square', { n: 2 })).toBe(4);
  });

  it('rejects a chunkSize that is not a positive integer', async () => {
    const pool = await startPool();
    for (const chunkSize of [0, -1, Number.NaN, 'abc']) {
      const error = await rejection(
        pool.executeBatch('square', [{ n: 1 }], {
          chunkSize: chunkSize as number,
        }),
      );
      expect(error.type).toBe('invalid_input');
      expect(error.message).toContain('chunkSize');
    }
  });

  it('fails only the batch items that are not objects', async () => {
    const pool = await startPool();
    const items = [{ n: 1 }, 'oops', { n: 3 }] as unknown as Record<
      string,
      unknown
    >[];
    const results = await pool.executeBatch('square', items);
    expect(results[0]).toEqual({ ok: true, result: 1 });
    expect(results[2]).toEqual({ ok: true, result: 9 });
    const failed = results[1] as { ok: false; error: PyroostError };
    expect(failed.ok).toBe(false);
    expect(failed.error.type).toBe('invalid_input');
    expect(failed.error.message).toContain('Batch item 1');
  });

  it('keeps a long batch from timing out in its own queue', async () => {
    const pool = await startPool({ size: 1, overflow: 0 });
    const items = Array.from({ length: 12 }, () => ({ seconds: 0.05 }));
    const results = await pool.executeBatch('sleep', items, {
      chunkSize: 2,
      checkoutTimeoutMs: 100,
    });
    expect(results.filter((item) => item.ok)).toHaveLength(12);
  });
});

describe('PythonPool recovery', () => {
  it('does not count timeouts toward the restart limit', async () => {
    const pool = await startPool({ size: 1, overflow: 0, maxRestarts: 1 });
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const error = await rejection(
        pool.executeProgram(
          'sleep',
          { seconds: 10 },
          {
            timeoutMs: 100,
            checkoutTimeoutMs: 10_000,
          },
        ),
      );
      expect(error.type).toBe('execution_timeout');
    }
    expect(
      await pool.executeProgram(
        'square',
        { n: 3 },
        { checkoutTimeoutMs: 10_000 },
      ),
    ).toBe(9);
    expect((await pool.healthCheck()).status).not.toBe('unhealthy');
    expect(pool.getStats().totals.restarts).toBe(0);
  });

  it('recovers after the restart window when a probe starts', async () => {
    const pool = await startPool({
      size: 1,
      overflow: 0,
      maxRestarts: 1,
      restartWindowMs: 400,
      initialBackoffMs: 10,
    });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const error = await rejection(
        pool.executeProgram('crash', {}, { checkoutTimeoutMs: 5_000 }),
      );
      expect(error.type).toBe('worker_crashed');
    }
    expect((await pool.healthCheck()).status).toBe('unhealthy');
    const deadline = Date.now() + 10_000;
    while (
      (await pool.healthCheck()).status !== 'healthy' &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await pool.healthCheck()).status).toBe('healthy');
    expect(await pool.executeProgram('square', { n: 5 })).toBe(25);
  });

  it('finds a stopped idle worker in healthCheck', async () => {
    const pool = await startPool({ size: 2, overflow: 0 });
    const pid = pool.workers()[0]?.pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      const report = await pool.healthCheck({ pingTimeoutMs: 300 });
      expect(report.status).toBe('degraded');
      expect(report.reasons.join(' ')).toContain('did not answer a ping');
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Already replaced and killed.
      }
    }
  });
});

describe('PythonPool second-pass checks', () => {
  it('counts crashes after an early abort', async () => {
    const pool = await startPool({
      size: 1,
      overflow: 0,
      maxRestarts: 2,
      initialBackoffMs: 10,
    });
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const early = await rejection(
        pool.executeProgram(
          'square',
          { n: 1 },
          { signal: AbortSignal.abort() },
        ),
      );
      expect(early.type).toBe('aborted');
      expect(early.message).toContain('nothing reached Python');
      const error = await rejection(
        pool.executeProgram('crash', {}, { checkoutTimeoutMs: 5_000 }),
      );
      outcomes.push(error.type);
    }
    expect(outcomes).toEqual([
      'worker_crashed',
      'worker_crashed',
      'worker_crashed',
    ]);
    expect((await pool.healthCheck({ ping: false })).status).toBe('unhealthy');
  });

  it('survives a logger that throws on warn and error', async () => {
    const explode = (): never => {
      throw new Error('logger failure');
    };
    const pool = await startPool({
      size: 1,
      overflow: 0,
      maxRestarts: 1,
      logger: {
        debug: () => undefined,
        info: () => undefined,
        warn: explode,
        error: explode,
      },
    });
    const error = await rejection(pool.executeProgram('crash', {}));
    expect(error.type).toBe('worker_crashed');
    expect(
      await pool.executeProgram(
        'square',
        { n: 4 },
        { checkoutTimeoutMs: 5_000 },
      ),
    ).toBe(16);
  });

  it('fails only the batch item JSON cannot carry', async () => {
    const pool = await startPool();
    const items = [{ n: 1 }, { n: 2n }, { n: 3 }] as unknown as Record<
      string,
      unknown
    >[];
    const results = await pool.executeBatch('square', items, { chunkSize: 3 });
    expect(results[0]).toEqual({ ok: true, result: 1 });
    expect(results[1]?.ok).toBe(false);
    expect(results[2]).toEqual({ ok: true, result: 9 });
  });

  it('rejects supervisor timings a timer cannot hold', async () => {
    for (const options of [
      { restartWindowMs: 3e9 },
      { healthCheckIntervalMs: -5 },
      { maxRestarts: 1.5 },
    ]) {
      const error = await rejection(
        PythonPool.start({ programs: [PROGRAMS], size: 1, ...options }),
      );
      expect(error.type).toBe('invalid_input');
    }
  });

  it('rejects null options without throwing synchronously', async () => {
    const pool = await startPool({ size: 1 });
    const pending = pool.executeProgram('square', { n: 1 }, null as never);
    expect(pending).toBeInstanceOf(Promise);
    expect((await rejection(pending)).type).toBe('invalid_input');
  });

  it('rejects program names that are not strings', async () => {
    const pool = await startPool({ size: 1 });
    const names: unknown[] = [Symbol('square'), 42, { name: 'square' }, ''];
    for (const name of names) {
      const call = pool.executeProgram(name as never, { n: 1 });
      expect(call).toBeInstanceOf(Promise);
      const error = await rejection(call);
      expect(error.type).toBe('invalid_input');
      expect(error.message).toContain(
        'Program name must be a non-empty string',
      );
      const batch = await rejection(
        pool.executeBatch(name as never, [{ n: 1 }]),
      );
      expect(batch).toBeInstanceOf(PyroostError);
      expect(batch.type).toBe('invalid_input');
    }
    expect(pool.getStats().totals.failed).toBe(names.length);
    expect(await pool.executeProgram('square', { n: 3 })).toBe(9);
  });

  it('rejects when reading an option throws', async () => {
    const pool = await startPool({ size: 1 });
    const options = {
      get sessionId(): string {
        throw new Error('getter failed');
      },
    };
    const call = pool.executeProgram('square', { n: 1 }, options);
    expect(call).toBeInstanceOf(Promise);
    await expect(call).rejects.toThrow('getter failed');
  });
});
