// @module-tag core
import { copyFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PyroostError } from '@pyroost/protocol';
import type { Logger } from '@pyroost/worker';
import { Pool, type PoolOptions } from './index.js';

const fixtures = fileURLToPath(new URL('../test/fixtures/', import.meta.url));
const PROGRAMS = `${fixtures}programs.py`;

/** Result of the `interval` fixture program. */
interface Interval {
  tag: number;
  square: number;
  pid: number;
  /** time.monotonic() in seconds, comparable across processes on Linux. */
  start: number;
  end: number;
}

interface Doubled {
  x: number;
  double: number;
  pid: number;
}

const pools: Pool[] = [];
const temporaryDirectories: string[] = [];
/** Warnings and errors logged by the pools of the current test, for failure messages. */
const warnings: string[] = [];

const logger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (fields, message) =>
    warnings.push(`warn: ${message} ${JSON.stringify(fields)}`),
  error: (fields, message) =>
    warnings.push(`error: ${message} ${JSON.stringify(fields)}`),
};

async function startPool(options: Partial<PoolOptions> = {}): Promise<Pool> {
  const pool = await Pool.start({ programs: [PROGRAMS], logger, ...options });
  pools.push(pool);
  return pool;
}

async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'pyroost-pool-test-'));
  temporaryDirectories.push(directory);
  return directory;
}

/**
 * Copies a fixture to a new temporary directory and returns the copy's path.
 * Tests that look for leftover processes by path use a copy, so that workers
 * of other test runs on the same machine never match.
 */
async function copyFixture(name: string): Promise<string> {
  const path = join(await temporaryDirectory(), name);
  await copyFile(`${fixtures}${name}`, path);
  return path;
}

afterEach(async () => {
  warnings.length = 0;
  await Promise.all(
    pools.splice(0).map((pool) => pool.close({ graceful: false })),
  );
  await Promise.all(
    temporaryDirectories
      .splice(0)
      .map((directory) => rm(directory, { recursive: true, force: true })),
  );
});

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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

function pidsOf(pool: Pool): number[] {
  return pool.workers().map((worker) => worker.pid as number);
}

/** Returns true once `count` workers exist, all idle, none with a pid in `excluded`. */
function hasIdleWorkers(
  pool: Pool,
  count: number,
  excluded: number[] = [],
): boolean {
  const workers = pool.workers();
  return (
    workers.length === count &&
    workers.every(
      (worker) =>
        worker.state === 'idle' && !excluded.includes(worker.pid as number),
    )
  );
}

/** Pids of live processes whose command line has `argument` as one of its arguments. */
async function processesWithArgument(argument: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let commandLine: string;
    try {
      commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // The process exited while the directory was read.
    }
    if (commandLine.split('\0').includes(argument)) found.push(Number(entry));
  }
  return found;
}

/** Returns the maximum number of intervals that overlap at any instant. */
function maxOverlap(intervals: Interval[]): number {
  const events = intervals.flatMap((interval) => [
    { time: interval.start, change: 1 },
    { time: interval.end, change: -1 },
  ]);
  // At equal times an end sorts before a start, so touching intervals do not count as overlapping.
  events.sort((a, b) => a.time - b.time || a.change - b.change);
  let running = 0;
  let max = 0;
  for (const event of events) {
    running += event.change;
    max = Math.max(max, running);
  }
  return max;
}

/** Tags ordered by the time their program started in Python. */
function startOrder(intervals: Interval[]): number[] {
  return [...intervals]
    .sort((a, b) => a.start - b.start)
    .map((interval) => interval.tag);
}

describe('Pool concurrency', () => {
  it('runs 50 callers on 2 workers', async () => {
    const pool = await startPool({
      size: 2,
      overflow: 0,
      checkoutTimeoutMs: 30_000,
    });
    const poolPids = pidsOf(pool);
    const calls = Array.from({ length: 50 }, (_, tag) =>
      pool.executeAnonymous('interval', { tag, seconds: 0.05 }),
    );
    const results = (await Promise.all(calls)) as Interval[];

    results.forEach((result, tag) => {
      expect(result.tag).toBe(tag);
      expect(result.square).toBe(tag * tag);
    });
    expect(maxOverlap(results)).toBeLessThanOrEqual(2);
    expect(new Set(results.map((result) => result.pid))).toEqual(
      new Set(poolPids),
    );

    // The queue hands calls to workers in call order, so each worker runs
    // its calls in increasing call order.
    for (const pid of poolPids) {
      const tags = startOrder(results.filter((result) => result.pid === pid));
      expect(tags, `calls run by pid ${pid}`).toEqual(
        [...tags].sort((a, b) => a - b),
      );
    }
    // Across workers, two calls handed out at nearly the same moment may
    // start in Python in either order, and a worker the OS does not schedule
    // for a whole call can fall one more place behind.
    startOrder(results).forEach((tag, rank) => {
      expect(
        Math.abs(tag - rank),
        `call ${tag} started at rank ${rank}`,
      ).toBeLessThanOrEqual(2);
    });

    const stats = pool.stats();
    expect(stats.queueLength).toBe(0);
    expect(stats.totals.executions).toBe(50);
    expect(stats.totals.succeeded).toBe(50);
    expect(stats.totals.failed).toBe(0);
    expect(stats.workers.total).toBe(2);
  });

  it('serves a single worker in call order', async () => {
    const pool = await startPool({
      size: 1,
      overflow: 0,
      checkoutTimeoutMs: 30_000,
    });
    const calls = Array.from({ length: 20 }, (_, tag) =>
      pool.executeAnonymous('interval', { tag, seconds: 0.005 }),
    );
    const results = (await Promise.all(calls)) as Interval[];
    expect(startOrder(results)).toEqual(results.map((_, tag) => tag));
    expect(maxOverlap(results)).toBe(1);
  });
});

describe('Pool queue', () => {
  it('rejects with checkout_timeout', async () => {
    const pool = await startPool({ size: 1, overflow: 0 });
    const sleeper = pool.executeAnonymous('sleep', { seconds: 1 });
    const error = await rejection(
      pool.executeAnonymous('double', { x: 1 }, { checkoutTimeoutMs: 100 }),
    );
    expect(error.type).toBe('checkout_timeout');
    expect(error.message).toContain('within 100 ms');
    expect(error.message).toContain('pool size 1');
    expect(error.message).toMatch(/\d+ other callers queued/);
    expect(error.message).toContain('checkoutTimeoutMs');
    expect(error.context.checkoutTimeoutMs).toBe(100);
    expect(error.context.size).toBe(1);
    expect(typeof error.context.queueLength).toBe('number');
    expect(pool.stats().queueLength).toBe(0);

    expect(await sleeper).toMatchObject({ slept: 1 });
    expect(await pool.executeAnonymous('double', { x: 4 })).toMatchObject({
      double: 8,
    });
    expect(pool.stats().queueLength).toBe(0);
  });

  it('rejects past maxQueue at once', async () => {
    const pool = await startPool({ size: 1, overflow: 0, maxQueue: 2 });
    let sleeperDone = false;
    const sleeper = pool
      .executeAnonymous('sleep', { seconds: 1 })
      .finally(() => {
        sleeperDone = true;
      });
    const queued = [1, 2].map((x) => pool.executeAnonymous('double', { x }));
    expect(pool.stats().queueLength).toBe(2);

    const error = await rejection(pool.executeAnonymous('double', { x: 3 }));
    expect(error.type).toBe('queue_full');
    expect(sleeperDone).toBe(false);
    expect(error.message).toContain('maxQueue 2');
    expect(error.context.queueLength).toBe(2);

    await sleeper;
    const results = (await Promise.all(queued)) as Doubled[];
    expect(results.map((result) => result.double)).toEqual([2, 4]);
    expect(pool.stats().queueLength).toBe(0);
    expect(await pool.executeAnonymous('double', { x: 5 })).toMatchObject({
      double: 10,
    });
  });

  it('rejects a queued call on abort', async () => {
    const directory = await temporaryDirectory();
    const path = join(directory, 'marks.txt');
    const pool = await startPool({ size: 1, overflow: 0 });
    const pidsBefore = pidsOf(pool);
    const sleeper = pool.executeAnonymous('sleep', { seconds: 0.5 });

    const controller = new AbortController();
    const aborted = pool.executeAnonymous(
      'mark',
      { path, tag: 'aborted' },
      { signal: controller.signal },
    );
    expect(pool.stats().queueLength).toBe(1);
    controller.abort(new Error('caller gave up'));
    const error = await rejection(aborted);
    expect(error.type).toBe('aborted');
    expect(error.message).toContain('nothing reached Python');
    expect(pool.stats().queueLength).toBe(0);

    const alreadyAborted = AbortSignal.abort();
    const early = await rejection(
      pool.executeAnonymous(
        'mark',
        { path, tag: 'already aborted' },
        { signal: alreadyAborted },
      ),
    );
    expect(early.type).toBe('aborted');

    await sleeper;
    expect(await pool.executeAnonymous('mark', { path, tag: 'after' })).toBe(
      'after',
    );
    expect(await readFile(path, 'utf8')).toBe('after\n');
    expect(pidsOf(pool)).toEqual(pidsBefore);
    expect(pool.stats().totals.restarts, warnings.join('\n')).toBe(0);
    expect(pool.stats().queueLength).toBe(0);
  });
});

describe('Pool failures', () => {
  it('replaces a worker killed with SIGKILL', async () => {
    const pool = await startPool({
      size: 2,
      overflow: 0,
      checkoutTimeoutMs: 30_000,
    });
    const victim = pool.executeAnonymous('sleep', { seconds: 30 });
    expect(
      await waitFor(
        () => pool.workers().some((worker) => worker.state === 'busy'),
        5_000,
      ),
    ).toBe(true);
    const victimPid = pool.workers().find((worker) => worker.state === 'busy')
      ?.pid as number;

    const others = Array.from({ length: 4 }, (_, x) =>
      pool.executeAnonymous('interval', { tag: x, seconds: 0.2 }),
    );
    expect(
      await waitFor(
        () => pool.workers().every((worker) => worker.state === 'busy'),
        5_000,
      ),
    ).toBe(true);
    process.kill(victimPid, 'SIGKILL');

    const error = await rejection(victim);
    expect(error.type).toBe('worker_crashed');
    expect(error.context.pid).toBe(victimPid);
    const results = (await Promise.all(others)) as Interval[];
    expect(results.map((result) => result.square)).toEqual([0, 1, 4, 9]);
    expect(results.every((result) => result.pid !== victimPid)).toBe(true);

    expect(
      await waitFor(() => hasIdleWorkers(pool, 2, [victimPid]), 10_000),
    ).toBe(true);
    expect(pidsOf(pool).every(isAlive)).toBe(true);
    expect(pool.stats().totals.restarts, warnings.join('\n')).toBe(1);
  });

  it('skips idle workers that already exited', async () => {
    // The worker logs its exit before the pool hears of it, so a call that
    // the logger starts arrives while the dead worker is still listed idle.
    // Set once the pool has started; the logger runs during start too.
    const started: { pool?: Pool } = {};
    const fromLogger: Promise<unknown>[] = [];
    const callingLogger: Logger = {
      ...logger,
      warn: (fields, message) => {
        logger.warn(fields, message);
        if (started.pool && message.startsWith('worker exited unexpectedly')) {
          fromLogger.push(started.pool.executeAnonymous('pid'));
        }
      },
    };
    const pool = await startPool({
      size: 1,
      overflow: 0,
      checkoutTimeoutMs: 30_000,
      logger: callingLogger,
    });
    started.pool = pool;
    const victimPid = pool.workers()[0]?.pid as number;
    process.kill(victimPid, 'SIGKILL');

    expect(await waitFor(() => fromLogger.length > 0, 5_000)).toBe(true);
    const pid = await fromLogger[0];
    expect(typeof pid).toBe('number');
    expect(pid).not.toBe(victimPid);
  });

  it('start rejects on an import error', async () => {
    const raisesAtImport = await copyFixture('raises_at_import.py');
    const error = await rejection(
      Pool.start({ programs: [raisesAtImport], size: 2 }),
    );
    expect(
      error.type,
      `${error.message}\n${String(error.context.stderr)}`,
    ).toBe('program_error');
    expect(`${error.message}\n${String(error.context.traceback)}`).toContain(
      'pool fixture broken on purpose at import',
    );
    expect(await processesWithArgument(raisesAtImport)).toEqual([]);

    await sleep(500);
    expect(await processesWithArgument(raisesAtImport)).toEqual([]);
  });

  it('start stops workers that started', async () => {
    const importsOnce = await copyFixture('imports_once.py');
    const error = await rejection(
      Pool.start({
        programs: [importsOnce],
        size: 2,
        env: { PYROOST_TEST_CLAIM_FILE: `${importsOnce}.claim` },
      }),
    );
    expect(
      error.type,
      `${error.message}\n${String(error.context.stderr)}`,
    ).toBe('program_error');
    expect(`${error.message}\n${String(error.context.traceback)}`).toContain(
      'claim file already taken',
    );
    expect(await processesWithArgument(importsOnce)).toEqual([]);

    await sleep(500);
    expect(await processesWithArgument(importsOnce)).toEqual([]);
  });

  it('times out a call and serves the queue', async () => {
    const pool = await startPool({
      size: 1,
      overflow: 0,
      checkoutTimeoutMs: 30_000,
    });
    const [sleeperPid] = pidsOf(pool);
    const sleeper = pool.executeAnonymous(
      'sleep',
      { seconds: 86_400 },
      { timeoutMs: 300 },
    );
    const quick = [1, 2, 3, 4, 5].map((x) =>
      pool.executeAnonymous('double', { x }),
    );

    const error = await rejection(sleeper);
    expect(error.type).toBe('execution_timeout');
    expect(error.message).toContain('300 ms');
    const results = (await Promise.all(quick)) as Doubled[];
    expect(results.map((result) => result.x)).toEqual([1, 2, 3, 4, 5]);
    expect(results.map((result) => result.double)).toEqual([2, 4, 6, 8, 10]);
    expect(results.every((result) => result.pid !== sleeperPid)).toBe(true);

    expect(
      await waitFor(
        () => hasIdleWorkers(pool, 1, [sleeperPid as number]),
        10_000,
      ),
    ).toBe(true);
    expect(await waitFor(() => !isAlive(sleeperPid as number), 5_000)).toBe(
      true,
    );
  });
});

describe('Pool close', () => {
  /** Starts a pool of 2 on a copy of the programs, with 2 calls in flight and 3 queued. */
  async function busyPool(): Promise<{
    pool: Pool;
    programs: string;
    pids: number[];
    inFlight: Promise<unknown>[];
    queued: Promise<unknown>[];
  }> {
    const programs = await copyFixture('programs.py');
    const pool = await startPool({
      programs: [programs],
      size: 2,
      overflow: 0,
      checkoutTimeoutMs: 30_000,
    });
    const pids = pidsOf(pool);
    const inFlight = [0, 1].map(() =>
      pool.executeAnonymous('sleep', { seconds: 0.5 }),
    );
    const queued = [1, 2, 3].map((x) => pool.executeAnonymous('double', { x }));
    expect(pool.stats().queueLength).toBe(3);
    expect(pool.workers().every((worker) => worker.state === 'busy')).toBe(
      true,
    );
    expect(await processesWithArgument(programs)).toEqual(
      expect.arrayContaining(pids),
    );
    return { pool, programs, pids, inFlight, queued };
  }

  it('graceful close finishes calls in flight', async () => {
    const { pool, programs, pids, inFlight, queued } = await busyPool();
    const outcomes = Promise.allSettled([...inFlight, ...queued]);
    await pool.close();

    const settled = await outcomes;
    for (const outcome of settled.slice(0, 2)) {
      expect(outcome.status).toBe('fulfilled');
      expect((outcome as PromiseFulfilledResult<unknown>).value).toMatchObject({
        slept: 0.5,
      });
    }
    for (const outcome of settled.slice(2)) {
      expect(outcome.status).toBe('rejected');
      expect(
        ((outcome as PromiseRejectedResult).reason as PyroostError).type,
      ).toBe('pool_closed');
    }
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await processesWithArgument(programs)).toEqual([]);
    expect(pool.workers()).toEqual([]);
    expect(pool.stats().closed).toBe(true);
    expect(
      (await rejection(pool.executeAnonymous('double', { x: 1 }))).type,
    ).toBe('pool_closed');
  });

  it('forced close rejects every call', async () => {
    const { pool, programs, pids, inFlight, queued } = await busyPool();
    const outcomes = Promise.allSettled([...inFlight, ...queued]);
    await pool.close({ graceful: false });

    const settled = await outcomes;
    for (const outcome of settled) {
      expect(outcome.status).toBe('rejected');
      expect(
        ((outcome as PromiseRejectedResult).reason as PyroostError).type,
      ).toBe('pool_closed');
    }
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await processesWithArgument(programs)).toEqual([]);
    expect(pool.workers()).toEqual([]);
  });
});

describe('Pool worker life cycle', () => {
  it('recycles after maxTasksPerWorker', async () => {
    const pool = await startPool({
      size: 1,
      overflow: 0,
      maxTasksPerWorker: 2,
      maxQueue: 1_000,
      checkoutTimeoutMs: 60_000,
    });
    const calls = Array.from({ length: 50 }, (_, x) =>
      pool.executeAnonymous('double', { x }),
    );
    const results = (await Promise.all(calls)) as Doubled[];

    results.forEach((result, x) => {
      expect(result.double).toBe(2 * x);
    });
    const pids = results.map((result) => result.pid);
    expect(new Set(pids).size).toBe(25);
    for (let x = 0; x < 50; x += 2) {
      expect(pids[x + 1], `calls ${x} and ${x + 1}`).toBe(pids[x]);
    }
    const stats = pool.stats();
    expect(stats.totals.recycled).toBe(25);
    expect(stats.totals.restarts, warnings.join('\n')).toBe(0);
    expect(stats.totals.succeeded).toBe(50);

    expect(await waitFor(() => hasIdleWorkers(pool, 1, pids), 10_000)).toBe(
      true,
    );
    expect(await waitFor(() => pids.every((pid) => !isAlive(pid)), 5_000)).toBe(
      true,
    );
  });

  it('runs overflow workers under load', async () => {
    const directory = await temporaryDirectory();
    const pool = await startPool({
      size: 1,
      overflow: 2,
      idleTimeoutMs: 200,
      checkoutTimeoutMs: 30_000,
    });
    const [corePid] = pidsOf(pool);
    // Each call waits in Python until all three have started, so all three
    // results report `reached` only if they ran at the same time.
    const calls = [0, 1, 2].map(() =>
      pool.executeAnonymous('barrier', { directory, count: 3, timeout: 20 }),
    );
    const results = (await Promise.all(calls)) as {
      pid: number;
      reached: boolean;
    }[];

    expect(results.map((result) => result.reached)).toEqual([true, true, true]);
    const pids = results.map((result) => result.pid);
    expect(new Set(pids).size).toBe(3);
    expect(pids).toContain(corePid);
    expect(pool.stats().totals.overflowStarted).toBe(2);

    expect(await waitFor(() => pool.workers().length === 1, 10_000)).toBe(true);
    expect(pool.workers()[0]).toMatchObject({ pid: corePid, kind: 'core' });
    const overflowPids = pids.filter((pid) => pid !== corePid);
    expect(
      await waitFor(() => overflowPids.every((pid) => !isAlive(pid)), 5_000),
    ).toBe(true);
  });

  it('replaces a stopped worker on ping', async () => {
    const pool = await startPool({ size: 2, overflow: 0 });
    expect(await pool.pingIdleWorkers(5_000)).toEqual([]);
    expect(hasIdleWorkers(pool, 2)).toBe(true);

    const [stopped, healthy] = pool.workers();
    const stoppedPid = stopped!.pid as number;
    process.kill(stoppedPid, 'SIGSTOP');
    try {
      expect(await pool.pingIdleWorkers(300)).toEqual([stopped!.id]);
      expect(
        await waitFor(() => hasIdleWorkers(pool, 2, [stoppedPid]), 10_000),
      ).toBe(true);
      expect(pidsOf(pool)).toContain(healthy!.pid);
      expect(await waitFor(() => !isAlive(stoppedPid), 5_000)).toBe(true);
      expect(pool.stats().totals.restarts, warnings.join('\n')).toBe(1);
      expect(await pool.executeAnonymous('double', { x: 21 })).toMatchObject({
        double: 42,
      });
    } finally {
      if (isAlive(stoppedPid)) {
        process.kill(stoppedPid, 'SIGCONT');
        process.kill(stoppedPid, 'SIGKILL');
      }
    }
  });
});

describe('Pool inputs', () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const cases: [string, unknown][] = [
    ['bigint', { n: 1n }],
    ['circular reference', circular],
    ['function', { f: () => 1 }],
    ['symbol', { s: Symbol('s') }],
    ['array', [1, 2]],
    ['string', 'text'],
  ];

  it('rejects invalid inputs', async () => {
    const pool = await startPool({ size: 1, overflow: 0 });
    const pidsBefore = pidsOf(pool);
    const restartsBefore = pool.stats().totals.restarts;

    for (const [name, inputs] of cases) {
      const anonymous = await rejection(
        pool.executeAnonymous('echo', inputs as Record<string, unknown>),
      );
      expect(anonymous.type, name).toBe('invalid_input');
      const inSession = await rejection(
        pool.executeInSession(
          's-inputs',
          'echo',
          inputs as Record<string, unknown>,
        ),
      );
      expect(inSession.type, `${name} in a session`).toBe('invalid_input');
    }
    const missing = await rejection(
      pool.executeAnonymous('no_such_program', {}),
    );
    expect(missing.type).toBe('program_not_found');
    expect(missing.message).toContain('no_such_program');

    expect(pidsOf(pool)).toEqual(pidsBefore);
    expect(pool.stats().totals.restarts, warnings.join('\n')).toBe(
      restartsBefore,
    );
    expect(await pool.executeAnonymous('echo', { a: 1 })).toEqual({ a: 1 });
  });

  it('rejects explicit undefined inputs', async () => {
    const pool = await startPool({ size: 1, overflow: 0 });
    const pidsBefore = pidsOf(pool);

    const anonymous = await rejection(pool.executeAnonymous('echo', undefined));
    expect(anonymous.type).toBe('invalid_input');
    const inSession = await rejection(
      pool.executeInSession('s-undefined', 'echo', undefined),
    );
    expect(inSession.type).toBe('invalid_input');

    // Omitted inputs mean no keyword arguments.
    expect(await pool.executeAnonymous('echo')).toEqual({});
    expect(await pool.executeInSession('s-undefined', 'echo')).toEqual({});
    expect(pidsOf(pool)).toEqual(pidsBefore);
    expect(pool.stats().totals.restarts, warnings.join('\n')).toBe(0);
  });
});

describe('Pool sessions and stats', () => {
  it('counts session executions and errors', async () => {
    const pool = await startPool({ size: 1, overflow: 0 });
    await pool.executeInSession('s-a', 'double', { x: 1 });
    const [first] = pool.sessions();
    expect(first).toMatchObject({ sessionId: 's-a', executions: 1, errors: 0 });

    await sleep(20);
    await pool.executeInSession('s-a', 'double', { x: 2 });
    expect(
      (await rejection(pool.executeInSession('s-a', 'fail', { message: 'no' })))
        .type,
    ).toBe('program_error');
    const [session] = pool.sessions();
    expect(session).toMatchObject({
      sessionId: 's-a',
      executions: 3,
      errors: 1,
    });
    expect(session!.startedAt).toBe(first!.startedAt);
    expect(session!.lastUsedAt).toBeGreaterThan(first!.lastUsedAt);
    expect(pool.stats().sessions).toBe(1);

    await pool.executeAnonymous('double', { x: 3 });
    expect(pool.sessions()).toHaveLength(1);
  });

  it('expires idle sessions', async () => {
    const pool = await startPool({ size: 1, overflow: 0 });
    await pool.executeInSession('s-old', 'double', { x: 1 });
    await sleep(300);
    await pool.executeInSession('s-new', 'double', { x: 2 });

    expect(pool.expireSessions(200)).toBe(1);
    expect(pool.sessions().map((session) => session.sessionId)).toEqual([
      's-new',
    ]);
    expect(pool.stats().sessions).toBe(1);
    expect(pool.expireSessions(60_000)).toBe(0);
  });

  it('reports latency and errors by type', async () => {
    const pool = await startPool({
      size: 1,
      overflow: 0,
      checkoutTimeoutMs: 30_000,
    });
    await pool.executeAnonymous('double', { x: 1 });
    await pool.executeAnonymous('double', { x: 2 });
    await rejection(pool.executeAnonymous('fail', { message: 'one' }));
    await rejection(pool.executeAnonymous('fail', { message: 'two' }));
    await rejection(pool.executeAnonymous('echo', { n: 1n }));
    await rejection(
      pool.executeAnonymous('sleep', { seconds: 60 }, { timeoutMs: 200 }),
    );

    const stats = pool.stats();
    expect(stats.errorsByType).toEqual({
      program_error: 2,
      invalid_input: 1,
      execution_timeout: 1,
    });
    expect(stats.totals).toMatchObject({
      executions: 6,
      succeeded: 2,
      failed: 4,
    });
    expect(stats.latencyMs.count).toBe(6);
    expect(stats.latencyMs.p50).toBeGreaterThan(0);
    expect(stats.latencyMs.p50).toBeLessThanOrEqual(stats.latencyMs.p95);
    expect(stats.latencyMs.p95).toBeLessThanOrEqual(stats.latencyMs.p99);
    expect(stats.latencyMs.p99).toBeLessThanOrEqual(stats.latencyMs.max);
    // The timed-out call is the slowest: it waited for its 200 ms timeout,
    // less up to a few ms because Node timers count from the event loop's
    // cached time.
    expect(stats.latencyMs.max).toBeGreaterThanOrEqual(190);
    // The bigint call is rejected before checkout, so it never waited.
    expect(stats.checkoutWaitMs.count).toBe(5);
  });
});
