import { describe, expect, it } from 'vitest';
import {
  PROTOCOL_VERSION,
  PyroostError,
  parseBatchItems,
  parseWorkerMessage,
} from './index.js';

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('Expected the call to throw, but it returned');
}

function withoutKey(
  record: Record<string, unknown>,
  key: string,
): Record<string, unknown> {
  const copy = { ...record };
  delete copy[key];
  return copy;
}

const ready = {
  type: 'ready',
  protocol: PROTOCOL_VERSION,
  pid: 4242,
  python: '3.11.7',
  programs: ['word_stats'],
};

const errorJson = {
  category: 'program',
  type: 'program_error',
  message: 'ValueError: bad input',
  context: { program: 'word_stats', exception: 'ValueError' },
};

const success = {
  type: 'response',
  id: 7,
  ok: true,
  result: { words: 1 },
  timing: { start_ns: 1_700_000_000_000, end_ns: 1_700_000_000_500 },
};

const failure = { type: 'response', id: 7, ok: false, error: errorJson };

describe('parseWorkerMessage accepted shapes', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['ready', ready],
    ['ready with no programs', { ...ready, programs: [] }],
    ['ready with an added field', { ...ready, features: ['batch'] }],
    ['successful response', success],
    [
      'successful response without timing',
      { type: 'response', id: 0, ok: true, result: 'pong' },
    ],
    [
      'successful response with a null result',
      { type: 'response', id: 1, ok: true, result: null },
    ],
    ['failed response', failure],
    ['failed response with timing', { ...failure, timing: success.timing }],
    ['startup error', { type: 'startup_error', error: errorJson }],
    [
      'timing as decimal strings',
      {
        ...success,
        timing: {
          start_ns: '1700000000000000000',
          end_ns: '1700000000000500000',
        },
      },
    ],
  ];

  it.each(cases)('accepts %s', (_name, message) => {
    expect(parseWorkerMessage(message)).toBe(message);
  });
});

describe('parseWorkerMessage rejected shapes', () => {
  const successWithoutResult = withoutKey(success, 'result');
  const readyWithoutPython = withoutKey(ready, 'python');

  const cases: [string, Record<string, unknown>, string][] = [
    ['missing type', { id: 1, ok: true, result: 1 }, 'unknown type'],
    ['unknown type', { type: 'hello' }, 'unknown type'],
    [
      'request echoed back',
      { type: 'request', id: 1, command: 'ping' },
      'unknown type',
    ],
    ['response without id', { ...success, id: undefined }, 'integer id'],
    ['response with a string id', { ...success, id: '7' }, 'integer id'],
    ['response with a fractional id', { ...success, id: 7.5 }, 'integer id'],
    ['response with an unsafe id', { ...success, id: 2 ** 53 }, 'integer id'],
    ['response without ok', { type: 'response', id: 1, result: 1 }, 'ok field'],
    ['response with a string ok', { ...success, ok: 'true' }, 'ok field'],
    [
      'successful response without result',
      successWithoutResult,
      'without a result',
    ],
    [
      'failed response without error',
      { type: 'response', id: 1, ok: false },
      'error object',
    ],
    [
      'failed response with a string error',
      { ...failure, error: 'boom' },
      'error object',
    ],
    [
      'failed response with an array error',
      { ...failure, error: [errorJson] },
      'error object',
    ],
    [
      'failed response with an untyped error',
      { ...failure, error: { message: 'boom' } },
      'error object',
    ],
    [
      'response with null timing',
      { ...success, timing: null },
      'malformed timing',
    ],
    [
      'response with timing missing end_ns',
      { ...success, timing: { start_ns: 1 } },
      'malformed timing',
    ],
    [
      'response with a non-decimal timing string',
      {
        ...success,
        timing: { start_ns: '1.7e18', end_ns: '1700000000000500000' },
      },
      'malformed timing',
    ],
    [
      'ready without protocol',
      { ...ready, protocol: undefined },
      'protocol undefined',
    ],
    ['ready without pid', { ...ready, pid: undefined }, 'without a pid'],
    ['ready with a string pid', { ...ready, pid: '4242' }, 'without a pid'],
    ['ready without python', readyWithoutPython, 'Python version'],
    [
      'ready without programs',
      { ...ready, programs: undefined },
      'program names',
    ],
    [
      'ready with an object for programs',
      { ...ready, programs: { a: 1 } },
      'program names',
    ],
    [
      'ready with a non-string program',
      { ...ready, programs: ['a', 1] },
      'program names',
    ],
    ['startup error without error', { type: 'startup_error' }, 'error object'],
    [
      'startup error with a string error',
      { type: 'startup_error', error: 'boom' },
      'error object',
    ],
    [
      'startup error with an untyped error',
      { type: 'startup_error', error: { message: 'boom' } },
      'error object',
    ],
  ];

  it.each(cases)('rejects %s', (_name, message, expectedText) => {
    const error = catchError(() => parseWorkerMessage(message));
    expect(error).toBeInstanceOf(PyroostError);
    expect((error as PyroostError).type).toBe('protocol_error');
    expect((error as PyroostError).message).toContain(expectedText);
  });

  it('shows the message in the error', () => {
    const error = catchError(() =>
      parseWorkerMessage({ type: 'hello', marker: 'xyz' }),
    );
    expect((error as PyroostError).message).toContain('"marker":"xyz"');
  });
});

describe('parseWorkerMessage protocol version', () => {
  it('names both versions and the fix on a mismatch', () => {
    const error = catchError(() =>
      parseWorkerMessage({ ...ready, protocol: PROTOCOL_VERSION + 1 }),
    );
    expect(error).toBeInstanceOf(PyroostError);
    expect((error as PyroostError).type).toBe('protocol_error');
    expect((error as PyroostError).message).toContain(
      `Worker speaks protocol ${PROTOCOL_VERSION + 1}, expected ${PROTOCOL_VERSION}`,
    );
    expect((error as PyroostError).message).toContain(
      'the Python bridge and @pyroost/worker versions do not match',
    );
  });

  it('rejects the version as a string', () => {
    const error = catchError(() =>
      parseWorkerMessage({ ...ready, protocol: String(PROTOCOL_VERSION) }),
    );
    expect((error as PyroostError).type).toBe('protocol_error');
  });
});

describe('parseBatchItems', () => {
  const items = [
    { ok: true, result: 1 },
    { ok: false, error: errorJson },
  ];

  it('accepts one item per input', () => {
    expect(parseBatchItems(items, 2)).toBe(items);
  });

  it('accepts an empty batch', () => {
    expect(parseBatchItems([], 0)).toStrictEqual([]);
  });

  const rejected: [string, unknown, number][] = [
    ['too few items', items, 3],
    ['too many items', items, 1],
    ['an object', { 0: items[0] }, 1],
    ['null', null, 0],
    ['an item without ok', [{ result: 1 }], 1],
    ['an item with a string ok', [{ ok: 'true', result: 1 }], 1],
    ['an item that is not an object', [1], 1],
  ];

  it.each(rejected)('rejects %s', (_name, value, expected) => {
    const error = catchError(() => parseBatchItems(value, expected));
    expect(error).toBeInstanceOf(PyroostError);
    expect((error as PyroostError).type).toBe('protocol_error');
  });
});
