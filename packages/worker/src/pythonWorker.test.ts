// @module-tag core
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PyroostError } from '@pyroost/protocol';
import { PythonWorker, type PythonWorkerOptions } from './index.js';

const fixtures = fileURLToPath(new URL('../test/fixtures/', import.meta.url));
const PROGRAMS = `${fixtures}programs.py`;

const started: PythonWorker[] = [];

async function startWorker(
  options: Partial<PythonWorkerOptions> = {},
): Promise<PythonWorker> {
  const worker = await PythonWorker.start({ programs: [PROGRAMS], ...options });
  started.push(worker);
  return worker;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(
  condition: () => boolean,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return condition();
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

afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.kill()));
});

describe('PythonWorker start', () => {
  it('reports pid, programs and python version', async () => {
    const worker = await startWorker();
    expect(worker.state).toBe('idle');
    expect(worker.pid).toBeGreaterThan(0);
    expect(worker.programNames).toContain('echo');
    expect(worker.programNames).toContain('renamed');
    expect(worker.programNames).not.toContain('_hidden_name');
    expect(worker.pythonVersion).toMatch(/^3\.\d+\.\d+/);
    expect(await worker.execute('pid')).toBe(worker.pid);
  });

  it('rejects a missing interpreter naming its path', async () => {
    const error = await rejection(
      PythonWorker.start({ programs: [PROGRAMS], python: '/no/such/python3' }),
    );
    expect(error.type).toBe('spawn_failed');
    expect(error.message).toContain('/no/such/python3');
  });

  it('rejects a programs file that raises at import', async () => {
    const path = `${fixtures}raises_at_import.py`;
    const error = await rejection(PythonWorker.start({ programs: [path] }));
    expect(error.type).toBe('program_error');
    expect(error.message).toContain('raises_at_import.py');
    expect(String(error.context.traceback)).toContain(
      'broken on purpose at import',
    );
  });

  it('rejects a programs file that does not exist', async () => {
    const path = `${fixtures}does_not_exist.py`;
    const error = await rejection(PythonWorker.start({ programs: [path] }));
    expect(error.type).toBe('program_not_found');
    expect(error.message).toContain('does_not_exist.py');
  });

  it('rejects an empty programs list before spawning', async () => {
    const error = await rejection(PythonWorker.start({ programs: [] }));
    expect(error.type).toBe('invalid_input');
  });

  it.each([
    ['env', 'X=1', 'Option env must be an object'],
    ['env', { LEVEL: 3 }, 'got 3 for LEVEL'],
    ['cwd', 42, 'Option cwd must be a directory path'],
    ['tracerProvider', 5, 'Option tracerProvider must be'],
    ['tracerProvider', {}, 'Option tracerProvider must be'],
  ])('rejects %s %j before spawning', async (option, value, message) => {
    const error = await rejection(
      PythonWorker.start({ programs: [PROGRAMS], [option]: value }),
    );
    expect(error).toBeInstanceOf(PyroostError);
    expect(error.type).toBe('invalid_input');
    expect(error.message).toContain(message);
    expect(error.context.option).toBe(option);
  });
});

describe('PythonWorker execute', () => {
  it('returns results and counts requests', async () => {
    const worker = await startWorker();
    expect(await worker.execute('add', { a: 2, b: 3 })).toBe(5);
    expect(await worker.execute('renamed')).toBe('renamed');
    expect(worker.requestsServed).toBe(3);
  });

  it('keeps results intact when a program floods stdout', async () => {
    const worker = await startWorker();
    const result = await worker.execute('noisy_stdout', { size: 1024 * 1024 });
    expect(result).toEqual({ written: 1024 * 1024 });
    expect(worker.stderrTail()).toContain('xxxx');
  });

  it('keeps results intact when a program floods stderr', async () => {
    const worker = await startWorker();
    const result = await worker.execute('noisy_stderr', {
      size: 5 * 1024 * 1024,
    });
    expect(result).toEqual({ written: 5 * 1024 * 1024 });
    expect(await worker.execute('add', { a: 1, b: 1 })).toBe(2);
  });

  it('round-trips a 20 MB string and a 65,500-character string', async () => {
    const worker = await startWorker();
    const large = (await worker.execute('repeat', {
      text: 'ab',
      count: 10 * 1024 * 1024,
    })) as string;
    expect(large.length).toBe(20 * 1024 * 1024);
    expect(large.startsWith('abab')).toBe(true);
    expect(large.endsWith('abab')).toBe(true);

    const text = 'é😀x'.repeat(65_500 / 4);
    expect(text.length).toBe(65_500);
    expect(await worker.execute('echo', { text })).toEqual({ text });
  });

  it('decodes NaN and Infinity results as numbers', async () => {
    const worker = await startWorker();
    const result = (await worker.execute('non_finite')) as Record<
      string,
      unknown
    >;
    expect(result.nan).toBeNaN();
    expect(result.inf).toBe(Number.POSITIVE_INFINITY);
    expect(result.ninf).toBe(Number.NEGATIVE_INFINITY);
    const nested = result.nested as [number, { x: number }];
    expect(nested[0]).toBeNaN();
    expect(nested[1].x).toBe(Number.POSITIVE_INFINITY);
  });

  it('sends NaN and Infinity inputs to Python as floats', async () => {
    const worker = await startWorker();
    const result = (await worker.execute('echo', {
      values: [NaN, Infinity, -Infinity],
    })) as {
      values: number[];
    };
    expect(result.values[0]).toBeNaN();
    expect(result.values.slice(1)).toEqual([Infinity, -Infinity]);
  });

  it('returns integers beyond 2^53 as decimal strings', async () => {
    const worker = await startWorker();
    expect(await worker.execute('big_int')).toEqual({
      big: '18446744073709551616',
      safe: 9007199254740991,
    });
  });

  it('turns a ValueError into a program error with its traceback', async () => {
    const worker = await startWorker();
    const error = await rejection(
      worker.execute('fail', { message: 'bad value 42' }, { sessionId: 's-1' }),
    );
    expect(error.category).toBe('program');
    expect(error.type).toBe('program_error');
    expect(error.message).toContain('ValueError');
    expect(error.message).toContain('bad value 42');
    expect(error.context.exception).toBe('ValueError');
    expect(String(error.context.traceback)).toContain(
      'raise ValueError(message)',
    );
    expect(error.context.workerId).toBe(worker.id);
    expect(error.context.sessionId ?? error.context.session_id).toBe('s-1');
    expect(worker.state).toBe('idle');
    expect(await worker.execute('add', { a: 1, b: 2 })).toBe(3);
  });

  it('passes the session id to Python', async () => {
    const worker = await startWorker();
    expect(await worker.execute('session', {}, { sessionId: 'abc' })).toBe(
      'abc',
    );
    expect(await worker.execute('session')).toBeNull();
  });

  it('sends odd session ids intact', async () => {
    const worker = await startWorker();
    for (const sessionId of [
      'a"b\\c',
      'line\nbreak',
      '\ud800 lone',
      'é 日本',
    ]) {
      expect(await worker.execute('session', {}, { sessionId })).toBe(
        sessionId,
      );
    }
  });

  it('rejects non-string session ids', async () => {
    const worker = await startWorker();
    for (const sessionId of [5, Symbol('s'), { id: 1 }]) {
      const error = await rejection(
        worker.execute('session', {}, { sessionId: sessionId as never }),
      );
      expect(error.type).toBe('invalid_input');
      expect(error.message).toContain('sessionId must be a string');
    }
    expect(worker.state).toBe('idle');
    // null, as on the wire, means no session.
    expect(
      await worker.execute('session', {}, { sessionId: null as never }),
    ).toBeNull();
  });

  it('rejects an unknown program before sending it', async () => {
    const worker = await startWorker();
    const error = await rejection(worker.execute('nope'));
    expect(error.type).toBe('program_not_found');
    expect(error.message).toContain('nope');
    expect(error.message).toContain('echo');
    expect(worker.requestsServed).toBe(1);
  });

  it('rejects inputs JSON cannot carry and keeps the worker', async () => {
    const worker = await startWorker();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const cases: unknown[] = [
      { n: 10n },
      circular,
      { f: () => 1 },
      { s: Symbol('x') },
      undefined,
      [1, 2],
      'text',
    ];
    for (const inputs of cases) {
      const error = await rejection(
        worker.execute('echo', inputs as Record<string, unknown>),
      );
      expect(error.type).toBe('invalid_input');
    }
    expect(worker.state).toBe('idle');
    expect(await worker.execute('add', { a: 1, b: 2 })).toBe(3);
  });

  it('rejects a second concurrent call with worker_busy', async () => {
    const worker = await startWorker();
    const first = worker.execute('sleep', { seconds: 0.2 });
    const error = await rejection(worker.execute('add', { a: 1, b: 2 }));
    expect(error.type).toBe('worker_busy');
    expect(await first).toBe(0.2);
  });

  it('kills the worker when a call times out', async () => {
    const worker = await startWorker();
    const pid = worker.pid as number;
    const error = await rejection(
      worker.execute('sleep', { seconds: 60 }, { timeoutMs: 200 }),
    );
    expect(error.type).toBe('execution_timeout');
    expect(error.category).toBe('timeout');
    const exit = await worker.exited;
    expect(exit.reason?.type).toBe('execution_timeout');
    expect(isAlive(pid)).toBe(false);
    // A later call did not time out itself: it gets its own error, with the
    // timeout as the cause.
    const after = await rejection(worker.execute('add', { a: 1, b: 2 }));
    expect(after).not.toBe(error);
    expect(after.type).toBe('worker_crashed');
    expect(after.message).toContain('cannot take requests');
    expect(after.message).toContain(error.message);
    expect(after.context.program).toBe('add');
    expect(after.cause).toBe(error);
  });

  it('kills the worker when the call is aborted', async () => {
    const worker = await startWorker();
    const controller = new AbortController();
    const pending = worker.execute(
      'sleep',
      { seconds: 60 },
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 100);
    const error = await rejection(pending);
    expect(error.type).toBe('aborted');
    await worker.exited;
    expect(worker.state).toBe('exited');
  });

  it('rejects with worker_crashed soon after SIGKILL mid-request', async () => {
    const worker = await startWorker();
    const pending = worker.execute(
      'sleep',
      { seconds: 60 },
      { sessionId: 's-9' },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const killedAt = Date.now();
    process.kill(worker.pid as number, 'SIGKILL');
    const error = await rejection(pending);
    const elapsedMs = Date.now() - killedAt;
    expect(error.type).toBe('worker_crashed');
    expect(error.context.signal).toBe('SIGKILL');
    expect(error.context.sessionId).toBe('s-9');
    expect(elapsedMs).toBeLessThan(1_000);
  });

  it('runs a batch with a result or an error per item', async () => {
    const worker = await startWorker();
    const results = await worker.executeBatch('add', [
      { a: 1, b: 2 },
      { a: 'x', b: 1 },
      { a: 3, b: 4 },
    ]);
    expect(results[0]).toEqual({ ok: true, result: 3 });
    expect(results[1]?.ok).toBe(false);
    expect(results[2]).toEqual({ ok: true, result: 7 });
    const failed = results[1] as { ok: false; error: PyroostError };
    expect(failed.error).toBeInstanceOf(PyroostError);
    expect(failed.error.context.exception).toBe('TypeError');
  });
});

describe('PythonWorker shutdown', () => {
  it('exits within a second when stdin closes', async () => {
    const worker = await startWorker();
    const pid = worker.pid as number;
    const closedAt = Date.now();
    const exit = await worker.stop();
    expect(exit.exitCode).toBe(0);
    expect(Date.now() - closedAt).toBeLessThan(1_000);
    expect(isAlive(pid)).toBe(false);
  });

  it('lets the request in flight finish on stop', async () => {
    const worker = await startWorker();
    const pending = worker.execute('sleep', { seconds: 0.3 });
    const exit = worker.stop();
    expect(await pending).toBe(0.3);
    expect((await exit).exitCode).toBe(0);
  });

  it('reports RSS of a live process', async () => {
    const worker = await startWorker();
    const rss = await worker.rssBytes();
    expect(rss).toBeGreaterThan(1024 * 1024);
    await worker.kill();
    expect(await worker.rssBytes()).toBeUndefined();
    expect(await waitFor(() => worker.state === 'exited', 1_000)).toBe(true);
  });
});

describe('PythonWorker option checks', () => {
  it('rejects a signal that is not an AbortSignal', async () => {
    const worker = await startWorker();
    const controller = new AbortController();
    const error = await rejection(
      worker.execute(
        'add',
        { a: 1, b: 2 },
        {
          signal: controller as unknown as AbortSignal,
        },
      ),
    );
    expect(error.type).toBe('invalid_input');
    expect(error.message).toContain('controller.signal');
    expect(worker.state).toBe('idle');
    expect(await worker.execute('add', { a: 1, b: 2 })).toBe(3);
  });

  it('rejects timeouts a timer cannot hold', async () => {
    const worker = await startWorker();
    for (const timeoutMs of [1e12, Number.NaN, 0, -1]) {
      const error = await rejection(
        worker.execute('add', { a: 1, b: 2 }, { timeoutMs }),
      );
      expect(error.type).toBe('invalid_input');
      expect(error.message).toContain('timeoutMs');
    }
    expect(
      await worker.execute('add', { a: 1, b: 2 }, { timeoutMs: Infinity }),
    ).toBe(3);
  });

  it('rejects a missing cwd before spawning', async () => {
    const error = await rejection(
      PythonWorker.start({ programs: [PROGRAMS], cwd: '/no/such/dir' }),
    );
    expect(error.type).toBe('spawn_failed');
    expect(error.message).toContain('/no/such/dir');
  });

  it('rejects a logger without methods', async () => {
    const error = await rejection(
      PythonWorker.start({ programs: [PROGRAMS], logger: {} as never }),
    );
    expect(error.type).toBe('invalid_input');
    expect(error.message).toContain('logger');
  });

  it('survives a logger that throws', async () => {
    const explode = (): never => {
      throw new Error('logger failure');
    };
    const worker = await startWorker({
      logger: { debug: explode, info: explode, warn: explode, error: explode },
    });
    expect(await worker.execute('noisy_stdout', { size: 10 })).toEqual({
      written: 10,
    });
  });

  it('kills processes a program left behind', async () => {
    const worker = await startWorker();
    const childPid = (await worker.execute('spawn_child', {
      seconds: 60,
    })) as number;
    expect(isAlive(childPid)).toBe(true);
    await worker.stop();
    expect(await waitFor(() => !isAlive(childPid), 2_000)).toBe(true);
  });
});
