import { afterEach, describe, expect, it } from 'vitest';
import {
  closePools,
  rejection,
  settledPids,
  startPool,
  waitFor,
} from './fixtures/helpers.js';

afterEach(closePools);

/** The string that programs.py's text_of_length returns. */
function textOfLength(length: number, seed: number): string {
  let unit = '';
  for (let i = 0; i < 26; i += 1) {
    unit += String.fromCharCode('a'.charCodeAt(0) + ((seed + i) % 26));
  }
  unit += 'é';
  return unit.repeat(Math.floor(length / unit.length) + 1).slice(0, length);
}

describe('program output', () => {
  it('keeps unflushed stdout out of the protocol', async () => {
    const lines: string[] = [];
    const logger = {
      debug: () => undefined,
      info: (_fields: object, message: string) => lines.push(message),
      warn: () => undefined,
      error: () => undefined,
    };
    const pool = await startPool({ size: 1, logger });
    const [pid] = await settledPids(pool, 1);

    for (let round = 0; round < 3; round += 1) {
      const result = await pool.executeProgram('noisy_stdout', {
        stdout_bytes: 100 * 1024,
        tag: `round-${round}`,
      });
      expect(result).toEqual({ tag: `round-${round}` });
    }
    // The noise went to stderr and on to the logger, and the worker stayed.
    // stderr is a separate pipe, so its last lines may arrive after the result.
    await waitFor(
      () => lines.includes('raw line on fd 1 for round-2'),
      10_000,
      'the last stderr line',
    );
    for (let round = 0; round < 3; round += 1) {
      expect(lines).toContain(`banner for round-${round}`);
      expect(lines).toContain(`raw line on fd 1 for round-${round}`);
    }
    const bulkLines = lines.filter((line) => line === 'x'.repeat(99));
    expect(bulkLines).toHaveLength(3 * 1024);
    expect(pool.workers().map((worker) => worker.pid)).toEqual([pid]);
    expect(pool.getStats().totals.restarts).toBe(0);
  });

  it('returns strings of 65,500 characters and 20 MB intact', async () => {
    const pool = await startPool({ size: 1 });
    const [pid] = await settledPids(pool, 1);

    for (const [length, seed] of [
      [65_500, 1],
      [65_536, 2],
      [20 * 1024 * 1024, 3],
      [65_500, 4],
    ] as const) {
      const result = await pool.executeProgram('text_of_length', {
        length,
        seed,
      });
      expect(typeof result).toBe('string');
      expect((result as string).length).toBe(length);
      expect(result === textOfLength(length, seed)).toBe(true);
    }
    expect(pool.workers().map((worker) => worker.pid)).toEqual([pid]);
  });

  it('rejects oversized frames, keeps the worker', async () => {
    const pool = await startPool({
      size: 1,
      maxFrameBytes: 1024 * 1024,
      maxTasksPerWorker: 2,
    });
    const [pid] = await settledPids(pool, 1);

    // A result over the limit: Python sends a frame_too_large error instead.
    const tooLargeResult = await rejection(
      pool.executeProgram('text_of_length', {
        length: 2 * 1024 * 1024,
        seed: 1,
      }),
    );
    expect(tooLargeResult.type).toBe('frame_too_large');
    // Inputs over the limit: Node rejects them before sending, and the
    // call does not count toward the worker's maxTasksPerWorker.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const tooLargeInput = await rejection(
        pool.executeProgram('echo', { tag: 'x'.repeat(2 * 1024 * 1024) }),
      );
      expect(tooLargeInput.type).toBe('frame_too_large');
    }
    expect(await pool.executeProgram('echo', { tag: 'after' })).toEqual({
      tag: 'after',
      pid,
    });
    expect(pool.getStats().totals.recycled).toBe(1);
  });

  it('delivers NaN and Infinity as numbers', async () => {
    const pool = await startPool({ size: 1 });

    const result = (await pool.executeProgram('non_finite', {
      tag: 'nf',
    })) as Record<string, unknown>;
    expect(result.tag).toBe('nf');
    expect(Number.isNaN(result.nan)).toBe(true);
    expect(result.inf).toBe(Number.POSITIVE_INFINITY);
    expect(result.minus_inf).toBe(Number.NEGATIVE_INFINITY);
    const list = result.list as number[];
    expect(Number.isNaN(list[0])).toBe(true);
    expect(list.slice(1)).toEqual([1.5, Number.POSITIVE_INFINITY]);
    const nested = result.nested as { values: [number, { deeper: number }] };
    expect(nested.values[0]).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(nested.values[1].deeper)).toBe(true);

    expect(Number.isNaN(await pool.executeProgram('nan_value'))).toBe(true);
    expect(await pool.executeProgram('inf_value')).toBe(
      Number.POSITIVE_INFINITY,
    );
    // The same values travel from Node to Python.
    expect(await pool.executeProgram('is_nan', { value: Number.NaN })).toBe(
      true,
    );
    expect(await pool.executeProgram('is_nan', { value: 1 })).toBe(false);
  });
});
