import { afterEach, describe, expect, it } from 'vitest';
import type { PythonPool } from '@pyroost/api';
import {
  closePools,
  rejection,
  settledPids,
  startPool,
  waitFor,
} from './fixtures/helpers.js';

afterEach(closePools);

const circular: Record<string, unknown> = { name: 'loop' };
circular.self = circular;

/** Calls JSON cannot carry, each with the error type it must get. */
const INVALID_CALLS: {
  name: string;
  call: (pool: PythonPool) => Promise<unknown>;
  type: string;
}[] = [
  {
    name: 'a bigint',
    call: (pool) => pool.executeProgram('echo', { tag: 10n }),
    type: 'invalid_input',
  },
  {
    name: 'a nested bigint',
    call: (pool) => pool.executeProgram('echo', { tag: { deep: [1, 2n] } }),
    type: 'invalid_input',
  },
  {
    name: 'a circular object',
    call: (pool) => pool.executeProgram('echo', { tag: circular }),
    type: 'invalid_input',
  },
  {
    name: 'a function',
    call: (pool) => pool.executeProgram('echo', { tag: () => 1 }),
    type: 'invalid_input',
  },
  {
    name: 'a symbol',
    call: (pool) => pool.executeProgram('echo', { tag: Symbol('s') }),
    type: 'invalid_input',
  },
  {
    name: 'a Map',
    call: (pool) => pool.executeProgram('echo', { tag: new Map([[1, 2]]) }),
    type: 'invalid_input',
  },
  {
    name: 'undefined inputs',
    call: (pool) => pool.executeProgram('echo', undefined),
    type: 'invalid_input',
  },
  {
    name: 'null inputs',
    call: (pool) => pool.executeProgram('echo', null as never),
    type: 'invalid_input',
  },
  {
    name: 'array inputs',
    call: (pool) => pool.executeProgram('echo', ['tag'] as never),
    type: 'invalid_input',
  },
  {
    name: 'string inputs',
    call: (pool) => pool.executeProgram('echo', 'tag' as never),
    type: 'invalid_input',
  },
  {
    name: 'number inputs',
    call: (pool) => pool.executeProgram('echo', 42 as never),
    type: 'invalid_input',
  },
  {
    name: 'an unknown program',
    call: (pool) => pool.executeProgram('no_such_program', { tag: 1 }),
    type: 'program_not_found',
  },
  {
    name: 'an empty program name',
    call: (pool) => pool.executeProgram('', { tag: 1 }),
    type: 'invalid_input',
  },
];

/** Requests that reached the bridge of the pool's only worker, and its pid. */
async function served(
  pool: PythonPool,
): Promise<{ requests: number; pid: number }> {
  return (await pool.executeProgram('served')) as {
    requests: number;
    pid: number;
  };
}

describe('invalid inputs', () => {
  it.each(INVALID_CALLS)(
    'rejects $name before Python',
    async ({ call, type }) => {
      const pool = await startPool({ size: 1, maxTasksPerWorker: 3 });
      const before = await served(pool);

      for (let attempt = 0; attempt < 4; attempt += 1) {
        const error = await rejection(call(pool));
        expect(error.type).toBe(type);
        expect(error.message.length).toBeGreaterThan(20);
      }

      // Only the second `served` call itself reached Python, on the same worker:
      // the rejected calls neither reached it nor counted toward its recycling.
      const after = await served(pool);
      expect(after.pid).toBe(before.pid);
      expect(after.requests).toBe(before.requests + 1);
      expect(pool.getStats().totals.recycled).toBe(0);
      expect(pool.getStats().totals.restarts).toBe(0);
    },
  );

  it('rejects invalid inputs without queuing', async () => {
    // The busy call outlasts the checkout timeout, so a call that waited for
    // the worker would get checkout_timeout instead of its own error.
    const pool = await startPool({ size: 1, checkoutTimeoutMs: 500 });
    const [pid] = await settledPids(pool, 1);
    const busy = pool.executeProgram('echo', { tag: 'busy', pause_s: 3 });
    await waitFor(
      () => pool.getStats().workers.busy === 1,
      10_000,
      'a busy worker',
    );

    for (const { name, call, type } of INVALID_CALLS) {
      const error = await rejection(call(pool));
      expect({ name, type: error.type }).toEqual({ name, type });
    }
    expect(pool.getStats().errorsByType.checkout_timeout).toBeUndefined();

    // The bad batch item fails alone and at once; the good one is a real call
    // that waits for the busy worker, so its outcome is not checked here.
    const batch = pool.executeBatch('echo', [{ tag: 1 }, { tag: 2n }]);
    expect(await busy).toEqual({ tag: 'busy', pid });
    const results = await batch;
    expect(results).toHaveLength(2);
    const bad = results[1];
    expect(bad?.ok).toBe(false);
    expect(bad && !bad.ok && bad.error.type).toBe('invalid_input');
  });
});
