import { afterEach, describe, expect, it } from 'vitest';
import type { PythonPool } from '@pyroost/api';
import {
  closePools,
  isAlive,
  rejection,
  settledPids,
  startPool,
  waitFor,
} from './fixtures/helpers.js';

afterEach(closePools);

const THREE_GB = 3 * 1024 ** 3;

/** Returns a 4-byte big-endian frame header for `length`, as hex. */
function header(length: number): string {
  return length.toString(16).padStart(8, '0');
}

function hex(text: string): string {
  return Buffer.from(text, 'utf8').toString('hex');
}

/** Checks that the pool replaced the worker with `pid` and serves again. */
async function expectReplaced(pool: PythonPool, pid: number): Promise<void> {
  await waitFor(() => !isAlive(pid), 10_000, `worker ${pid} to die`);
  const [replacement] = await settledPids(pool, 1);
  expect(replacement).not.toBe(pid);
  const result = await pool.executeProgram('echo', { tag: 'after' });
  expect(result).toEqual({ tag: 'after', pid: replacement });
}

describe('garbage on the protocol channel', () => {
  const cases: { name: string; bytes: string; type: string }[] = [
    {
      name: 'a body that is not UTF-8',
      bytes: header(8) + 'fffefdfcfbfaf9f8',
      type: 'protocol_error',
    },
    {
      name: 'a body that is not JSON',
      bytes: header(11) + hex('not json!!!'),
      type: 'protocol_error',
    },
    {
      name: 'a JSON body that is not an object',
      bytes: header(7) + hex('[1,2,3]'),
      type: 'protocol_error',
    },
    {
      name: 'a response with an unknown type',
      bytes: header(15) + hex('{"type":"oops"}'),
      type: 'protocol_error',
    },
    {
      name: 'printable text',
      bytes: hex('hello from a C library\n'),
      type: 'frame_too_large',
    },
    {
      name: 'a header announcing 3 GB',
      bytes: header(THREE_GB) + hex('{"type":'),
      type: 'frame_too_large',
    },
  ];

  it.each(cases)('replaces the worker after $name', async ({ bytes, type }) => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [pid] = await settledPids(pool, 1);

    const error = await rejection(
      pool.executeProgram('write_protocol', { hex_bytes: bytes }),
    );
    expect(error.type).toBe(type);
    expect(error.context.pid).toBe(pid);
    expect(error.context.program).toBe('write_protocol');
    await expectReplaced(pool, pid as number);
  });

  it('replaces the worker after seeded random bytes', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    for (const seed of [1, 2, 3, 4, 5]) {
      const [pid] = await settledPids(pool, 1);
      const error = await rejection(
        pool.executeProgram(
          'write_random_protocol',
          { seed, size: 4096 },
          { timeoutMs: 10_000 },
        ),
      );
      // A random header nearly always announces more than 64 MiB; a smaller
      // one waits for a body that never completes, and the timeout ends it.
      expect([
        'frame_too_large',
        'protocol_error',
        'execution_timeout',
      ]).toContain(error.type);
      await expectReplaced(pool, pid as number);
    }
  });

  it('never allocates for a 3 GB header', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [pid] = await settledPids(pool, 1);
    const before = process.memoryUsage();

    const error = await rejection(
      pool.executeProgram('write_random_protocol', {
        seed: 7,
        size: 1024 * 1024,
        header_bytes: THREE_GB,
      }),
    );
    expect(error.type).toBe('frame_too_large');
    expect(error.context.frameBytes).toBe(THREE_GB);

    const after = process.memoryUsage();
    // Far below the 3 GB that a reader trusting the header would allocate.
    expect(after.rss - before.rss).toBeLessThan(256 * 1024 * 1024);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(
      256 * 1024 * 1024,
    );
    await expectReplaced(pool, pid as number);
  });

  it('rejects a reply for another request id', async () => {
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 60_000 });
    const [pid] = await settledPids(pool, 1);

    // The start-up ping used id 1, so this request has id 2 and the forged
    // reply claims the id of the request after it.
    const error = await rejection(
      pool.executeProgram('write_late_reply', { request_id: 3 }),
    );
    expect(error.type).toBe('protocol_error');
    expect(error.message).toContain('request 3');
    await expectReplaced(pool, pid as number);
  });

  it('serves other callers during replacement', async () => {
    const pool = await startPool({ size: 2, checkoutTimeoutMs: 60_000 });
    await settledPids(pool, 2);

    const calls = Array.from({ length: 20 }, (_, index) =>
      index % 5 === 0
        ? pool
            .executeProgram('write_protocol', {
              hex_bytes: header(THREE_GB),
            })
            .then(
              () => 'resolved',
              (error: { type: string }) => error.type,
            )
        : pool
            .executeProgram('double', { n: index })
            .then((value) => (value as { double: number }).double),
    );
    const outcomes = await Promise.all(calls);
    outcomes.forEach((outcome, index) => {
      expect(outcome).toBe(index % 5 === 0 ? 'frame_too_large' : 2 * index);
    });
    await settledPids(pool, 2);
  });
});
