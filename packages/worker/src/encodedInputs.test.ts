import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PyroostError } from '@pyroost/protocol';
import { EncodedInputs, PythonWorker } from './index.js';

const PROGRAMS = fileURLToPath(
  new URL('../test/fixtures/programs.py', import.meta.url),
);
const started: PythonWorker[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.kill()));
});

function thrown(run: () => unknown): PyroostError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PyroostError);
    return error as PyroostError;
  }
  throw new Error('expected a PyroostError to be thrown');
}

describe('EncodedInputs', () => {
  it('encodes plain objects and lists', () => {
    const single = EncodedInputs.forExecute('p', { a: 1, b: [NaN] });
    expect(single.field).toBe('inputs');
    expect(single.json).toBe('{"a":1,"b":[NaN]}');
    expect(single.count).toBe(1);
    const batch = EncodedInputs.forBatch('p', [{ a: 1 }, { a: 2 }]);
    expect(batch.field).toBe('inputs_list');
    expect(batch.count).toBe(2);
  });

  it('rejects what JSON cannot carry, naming program and key', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const inputs of [
      { n: 1n },
      circular,
      { f: () => 1 },
      [1],
      'text',
      null,
      undefined,
    ]) {
      const error = thrown(() =>
        EncodedInputs.forExecute('p', inputs, { sessionId: 's' }),
      );
      expect(error.type).toBe('invalid_input');
      expect(error.context.program).toBe('p');
      expect(error.context.sessionId).toBe('s');
    }
    expect(
      thrown(() => EncodedInputs.forExecute('p', { n: 1n })).context.key,
    ).toBe('n');
    expect(thrown(() => EncodedInputs.forBatch('p', [{ a: 1 }, 2])).type).toBe(
      'invalid_input',
    );
  });

  it('sends pre-encoded inputs unchanged to Python', async () => {
    const worker = await PythonWorker.start({ programs: [PROGRAMS] });
    started.push(worker);
    const inputs = { text: 'é\u{1F600}', list: [1, null, Infinity] };
    const encoded = EncodedInputs.forExecute('echo', inputs);
    expect(await worker.execute('echo', encoded)).toEqual(inputs);
    const batch = EncodedInputs.forBatch('add', [
      { a: 1, b: 2 },
      { a: 3, b: 4 },
    ]);
    expect(await worker.executeBatch('add', batch)).toEqual([
      { ok: true, result: 3 },
      { ok: true, result: 7 },
    ]);
    const mismatch = await worker.execute('add', batch).catch((e) => e);
    expect((mismatch as PyroostError).type).toBe('invalid_input');
    expect(worker.requestsServed).toBe(3);
  });
});
