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

describe('worker crashes', () => {
  it('fails only the callers of SIGKILLed workers', async () => {
    const pool = await startPool({
      size: 4,
      overflow: 0,
      checkoutTimeoutMs: 60_000,
    });
    const before = await settledPids(pool, 4);

    const calls = Array.from({ length: 8 }, (_, index) =>
      track(
        pool.executeProgram('sleep_then_echo', {
          seconds: 1.5,
          tag: `call-${index}`,
        }),
      ),
    );
    await waitFor(
      () => pool.getStats().workers.busy === 4,
      10_000,
      'four busy workers',
    );
    expect(pool.getStats().queueLength).toBe(4);
    const killed = before.slice(0, 2);
    for (const pid of killed) process.kill(pid, 'SIGKILL');

    const outcomes = await Promise.all(calls.map((call) => call.outcome));
    const crashed = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(crashed).toHaveLength(2);
    for (const outcome of crashed) {
      expect(outcome.status === 'rejected' && outcome.error.type).toBe(
        'worker_crashed',
      );
      expect(
        killed.includes(
          outcome.status === 'rejected'
            ? (outcome.error.context.pid as number)
            : -1,
        ),
      ).toBe(true);
    }
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'fulfilled') {
        expect(outcome.value).toMatchObject({ tag: `call-${index}` });
        expect(killed).not.toContain((outcome.value as { pid: number }).pid);
      }
    });
    for (const call of calls) expect(call.settlements()).toBe(1);

    const after = await settledPids(pool, 4);
    expect(after).toHaveLength(4);
    for (const pid of killed) expect(after).not.toContain(pid);
    expect(pool.getStats().totals.restarts).toBe(2);
    expect((await pool.healthCheck()).status).toBe('healthy');
  });

  it('reports os._exit as worker_crashed', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [pid] = await settledPids(pool, 1);

    const error = await rejection(
      pool.executeProgram('exit_process', { code: 13 }),
    );
    expect(error.type).toBe('worker_crashed');
    expect(error.context.exitCode).toBe(13);
    expect(error.context.pid).toBe(pid);
    expect(String(error.context.stderr)).toContain('exiting with os._exit');

    const result = await pool.executeProgram('echo', { tag: 'after' });
    expect(result).toMatchObject({ tag: 'after' });
    expect(isAlive(pid as number)).toBe(false);
  });

  it('replaces a worker that closed its protocol channel', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [pid] = await settledPids(pool, 1);

    const error = await rejection(
      pool.executeProgram('close_protocol_then_return', { tag: 'closed' }),
    );
    expect(['worker_crashed', 'protocol_error']).toContain(error.type);
    expect(error.context.pid).toBe(pid);

    const result = await pool.executeProgram('echo', { tag: 'after' });
    expect(result).toMatchObject({ tag: 'after' });
    await waitFor(() => !isAlive(pid as number), 10_000, 'the worker to die');
  });

  it('fails fast when the protocol channel closes mid-request', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [pid] = await settledPids(pool, 1);

    const startedAt = performance.now();
    const error = await rejection(
      pool.executeProgram(
        'close_protocol_then_sleep',
        { seconds: 86_400 },
        { timeoutMs: 90_000 },
      ),
    );
    const elapsedMs = performance.now() - startedAt;
    expect(error.type).toBe('protocol_error');
    expect(error.message).toContain('closed its protocol channel');
    expect(error.context.program).toBe('close_protocol_then_sleep');
    // The caller learns at once, not at the 90 s timeout.
    expect(elapsedMs).toBeLessThan(60_000);

    await waitFor(() => !isAlive(pid as number), 10_000, 'the worker to die');
    const result = await pool.executeProgram('echo', { tag: 'after' });
    expect(result).toMatchObject({ tag: 'after' });
  });

  it('reports a segfault as worker_crashed', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [pid] = await settledPids(pool, 1);

    const error = await rejection(pool.executeProgram('segfault'));
    expect(error.type).toBe('worker_crashed');
    expect(error.context.signal).toBe('SIGSEGV');
    expect(error.context.pid).toBe(pid);
    const result = await pool.executeProgram('echo', { tag: 'after' });
    expect(result).toMatchObject({ tag: 'after' });
  });

  it('retires a worker whose request channel closed', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [pid] = await settledPids(pool, 1);

    // The second call is queued behind the first, so it would get the same
    // worker if the pool checked it back in.
    const first = pool.executeProgram('close_protocol_input', { tag: 'first' });
    const second = pool.executeProgram('echo', { tag: 'second' });
    expect(await first).toEqual({ tag: 'first' });
    const result = (await second) as { tag: string; pid: number };
    expect(result.tag).toBe('second');
    expect(result.pid).not.toBe(pid);
    await waitFor(() => !isAlive(pid as number), 10_000, 'the worker to exit');
  });

  it('finishes a call despite SIGTERM, spares the next', async () => {
    const lines: string[] = [];
    const logger = {
      debug: () => undefined,
      info: (_fields: object, message: string) => lines.push(message),
      warn: () => undefined,
      error: () => undefined,
    };
    const pool = await startPool({
      size: 1,
      logger,
      checkoutTimeoutMs: 60_000,
    });
    const [pid] = await settledPids(pool, 1);

    const first = pool.executeProgram('announce_then_sleep', {
      seconds: 0.5,
      tag: 'first',
    });
    const second = pool.executeProgram('echo', { tag: 'second' });
    await waitFor(
      () => lines.includes('started first'),
      10_000,
      'the call to start',
    );
    process.kill(pid as number, 'SIGTERM');

    expect(await first).toEqual({ tag: 'first', pid });
    const result = (await second) as { tag: string; pid: number };
    expect(result.tag).toBe('second');
    expect(result.pid).not.toBe(pid);
    await settledPids(pool, 1);
  });

  it('serves a request sent just before SIGTERM', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [pid] = await settledPids(pool, 1);

    // The request may still wait in the pipe when the signal arrives; it
    // counts as in flight all the same.
    const first = pool.executeProgram('sleep_then_echo', {
      seconds: 0.5,
      tag: 'first',
    });
    const second = pool.executeProgram('echo', { tag: 'second' });
    await waitFor(
      () => pool.getStats().workers.busy === 1,
      10_000,
      'a busy worker',
    );
    process.kill(pid as number, 'SIGTERM');

    expect(await first).toEqual({ tag: 'first', pid });
    const result = (await second) as { tag: string; pid: number };
    expect(result.tag).toBe('second');
    expect(result.pid).not.toBe(pid);
    await settledPids(pool, 1);
  });

  it('repairs stdout and stderr a program closed', async () => {
    const lines: string[] = [];
    const logger = {
      debug: () => undefined,
      info: (_fields: object, message: string) => lines.push(message),
      warn: () => undefined,
      error: () => undefined,
    };
    const pool = await startPool({
      size: 1,
      logger,
      checkoutTimeoutMs: 60_000,
    });
    const [pid] = await settledPids(pool, 1);

    expect(
      await pool.executeProgram('close_stdout', { tag: 'closed' }),
    ).toEqual({ tag: 'closed' });
    // Programs that print still run on the same worker, and their output
    // still reaches the logger through stderr.
    expect(await pool.executeProgram('print_line', { tag: 'a' })).toEqual({
      tag: 'a',
    });
    expect(
      await pool.executeProgram('close_stderr', { tag: 'closed' }),
    ).toEqual({ tag: 'closed' });
    expect(await pool.executeProgram('print_line', { tag: 'b' })).toEqual({
      tag: 'b',
    });
    expect(await pool.executeProgram('print_error_line', { tag: 'c' })).toEqual(
      { tag: 'c' },
    );
    expect(await pool.executeProgram('echo', { tag: 'after' })).toEqual({
      tag: 'after',
      pid,
    });
    await waitFor(
      () => lines.includes('error line c'),
      10_000,
      'stderr output after the repair',
    );
    expect(lines).toContain('line a');
    expect(lines).toContain('line b');
  });
});
