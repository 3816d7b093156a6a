// @module-tag core
import { describe, expect, it } from 'vitest';
import {
  ERROR_TYPES,
  PyroostError,
  describeValue,
  isPyroostError,
  type ErrorType,
} from './index.js';

const errorTypes = Object.keys(ERROR_TYPES) as ErrorType[];

describe('PyroostError construction', () => {
  it.each(errorTypes)('takes the category of %s from ERROR_TYPES', (type) => {
    const error = new PyroostError({ type, message: 'm' });
    expect(error.category).toBe(ERROR_TYPES[type].category);
  });

  it.each(errorTypes)('takes retryable of %s from ERROR_TYPES', (type) => {
    const error = new PyroostError({ type, message: 'm' });
    expect(error.retryable).toBe(ERROR_TYPES[type].retryable);
  });

  it('keeps an explicit category', () => {
    const error = new PyroostError({
      type: 'program_error',
      category: 'system',
      message: 'm',
    });
    expect(error.category).toBe('system');
    expect(error.retryable).toBe(false);
  });

  it('is an Error named PyroostError', () => {
    const error = new PyroostError({
      type: 'queue_full',
      message: 'Queue is full',
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('PyroostError');
    expect(error.message).toBe('Queue is full');
    expect(error.stack?.split('\n')[0]).toBe('PyroostError: Queue is full');
  });

  it('defaults context to an empty object', () => {
    const error = new PyroostError({ type: 'queue_full', message: 'm' });
    expect(error.context).toStrictEqual({});
  });

  it('keeps the cause', () => {
    const cause = new Error('socket closed');
    const error = new PyroostError({
      type: 'worker_crashed',
      message: 'm',
      cause,
    });
    expect(error.cause).toBe(cause);
  });

  it('has no cause property without a cause', () => {
    const error = new PyroostError({ type: 'worker_crashed', message: 'm' });
    expect('cause' in error).toBe(false);
  });
});

describe('PyroostError toJSON', () => {
  const error = new PyroostError({
    type: 'program_error',
    message: 'ValueError: bad',
    context: { program: 'word_stats', pid: 42 },
    cause: new Error('inner'),
  });

  it('returns exactly category, type, message and context', () => {
    expect(error.toJSON()).toStrictEqual({
      category: 'program',
      type: 'program_error',
      message: 'ValueError: bad',
      context: { program: 'word_stats', pid: 42 },
    });
  });

  it('is what JSON.stringify writes', () => {
    expect(JSON.parse(JSON.stringify(error))).toStrictEqual(error.toJSON());
  });
});

describe('PyroostError fromJSON', () => {
  it.each(errorTypes)('round-trips %s', (type) => {
    const original = new PyroostError({
      type,
      message: `failure of type ${type}`,
      context: { workerId: 3, nested: { list: [1, 'a'] } },
    });
    const rebuilt = PyroostError.fromJSON(JSON.parse(JSON.stringify(original)));
    expect(rebuilt).toBeInstanceOf(PyroostError);
    expect(rebuilt.toJSON()).toStrictEqual(original.toJSON());
    expect(rebuilt.retryable).toBe(original.retryable);
  });

  it('keeps an explicit category through a round trip', () => {
    const original = new PyroostError({
      type: 'program_error',
      category: 'resource',
      message: 'm',
    });
    expect(PyroostError.fromJSON(original.toJSON()).category).toBe('resource');
  });

  it('merges extra context over the received context', () => {
    const rebuilt = PyroostError.fromJSON(
      {
        type: 'program_error',
        message: 'm',
        context: { pid: 1, program: 'p' },
      },
      { pid: 2, workerId: 'w-1' },
    );
    expect(rebuilt.context).toStrictEqual({
      pid: 2,
      program: 'p',
      workerId: 'w-1',
    });
  });

  it('uses the type category for an unknown category', () => {
    const rebuilt = PyroostError.fromJSON({
      type: 'invalid_output',
      category: 'weather',
      message: 'm',
    });
    expect(rebuilt.category).toBe('program');
  });

  it('keeps an unknown type from a newer worker', () => {
    const rebuilt = PyroostError.fromJSON({
      type: 'future_error',
      category: 'resource',
      message: 'm',
    });
    expect(rebuilt.type).toBe('future_error');
    expect(rebuilt.category).toBe('resource');
    expect(rebuilt.retryable).toBe(false);
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', 'boom'],
    ['an array', [{ type: 'program_error' }]],
  ])('turns %s into a protocol_error', (_name, value) => {
    const rebuilt = PyroostError.fromJSON(value, { workerId: 'w-1' });
    expect(rebuilt.type).toBe('protocol_error');
    expect(rebuilt.category).toBe('communication');
    expect(rebuilt.message).toContain('not an object');
    expect(rebuilt.context).toStrictEqual({ workerId: 'w-1' });
  });

  it('turns an empty object into a program_error', () => {
    const rebuilt = PyroostError.fromJSON({});
    expect(rebuilt.type).toBe('program_error');
    expect(rebuilt.category).toBe('program');
    expect(rebuilt.message).toBe('Remote error of type program_error');
    expect(rebuilt.context).toStrictEqual({});
  });

  it('ignores fields of the wrong type', () => {
    const rebuilt = PyroostError.fromJSON({
      type: 5,
      category: 7,
      message: ['m'],
      context: 'ctx',
    });
    expect(rebuilt.type).toBe('program_error');
    expect(rebuilt.category).toBe('program');
    expect(rebuilt.message).toBe('Remote error of type program_error');
    expect(rebuilt.context).toStrictEqual({});
  });

  it('ignores a context that is an array', () => {
    const rebuilt = PyroostError.fromJSON({
      type: 'program_error',
      message: 'm',
      context: ['a', 'b'],
    });
    expect(rebuilt.context).toStrictEqual({});
  });
});

describe('isPyroostError', () => {
  it('accepts an instance', () => {
    expect(
      isPyroostError(new PyroostError({ type: 'aborted', message: 'm' })),
    ).toBe(true);
  });

  it('accepts an error from another copy of the package', () => {
    const copy = Object.assign(new Error('m'), {
      name: 'PyroostError',
      type: 'aborted',
    });
    expect(isPyroostError(copy)).toBe(true);
  });

  it.each([
    ['a plain Error', new Error('m')],
    [
      'an Error named PyroostError without type',
      Object.assign(new Error('m'), { name: 'PyroostError' }),
    ],
    ['a plain object', { name: 'PyroostError', type: 'aborted', message: 'm' }],
    [
      'the JSON form',
      new PyroostError({ type: 'aborted', message: 'm' }).toJSON(),
    ],
    ['null', null],
    ['a string', 'PyroostError'],
  ])('rejects %s', (_name, value) => {
    expect(isPyroostError(value)).toBe(false);
  });
});

describe('describeValue', () => {
  it.each([
    ['a string', 'hi', '"hi"'],
    ['a bigint', 10n, '10n'],
    ['a named function', function parse() {}, 'function parse'],
    [
      'an anonymous function',
      (
        () => () =>
          1
      )(),
      'function (anonymous)',
    ],
    ['a symbol', Symbol('tag'), 'Symbol(tag)'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
    ['an object', { a: [1] }, '{"a":[1]}'],
  ])('prints %s', (_name, value, expected) => {
    expect(describeValue(value)).toBe(expected);
  });

  it('prints a circular object by its tag', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeValue(cyclic)).toBe('[object Object]');
  });

  it('cuts long values to 80 characters', () => {
    const text = describeValue('x'.repeat(200));
    expect(text.length).toBe(80);
    expect(text.endsWith('...')).toBe(true);
  });
});
