import { describe, expect, it } from 'vitest';
import {
  FrameDecoder,
  PyroostError,
  decodeJson,
  encodeFrame,
  encodeJson,
  MAX_INPUT_DEPTH,
} from './index.js';

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('Expected the call to throw, but it returned');
}

function roundTrip(value: unknown): unknown {
  return decodeJson(encodeJson(value));
}

describe('encodeJson non-finite numbers', () => {
  it('writes bare tokens in value position', () => {
    expect(encodeJson({ x: Number.NaN })).toBe('{"x":NaN}');
    expect(encodeJson([Number.NaN, 1, Number.POSITIVE_INFINITY])).toBe(
      '[NaN,1,Infinity]',
    );
    expect(encodeJson({ n: Number.NEGATIVE_INFINITY, m: 2 })).toBe(
      '{"n":-Infinity,"m":2}',
    );
  });

  it('writes a bare token at the top level', () => {
    expect(encodeJson(Number.NaN)).toBe('NaN');
    expect(encodeJson(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
  });

  it('round-trips tokens nested in objects and arrays', () => {
    const value = {
      top: Number.NaN,
      nested: {
        list: [
          1,
          Number.POSITIVE_INFINITY,
          [Number.NEGATIVE_INFINITY, { deep: Number.NaN }],
        ],
        inner: { p: Number.POSITIVE_INFINITY, n: Number.NEGATIVE_INFINITY },
      },
      finite: [0.1, -2.5e-300, 1e300],
    };
    expect(roundTrip(value)).toStrictEqual(value);
  });

  it('encodes a boxed NaN as a token', () => {
    const boxed = new Number(Number.NaN);
    expect(encodeJson({ n: boxed })).toBe('{"n":NaN}');
  });
});

describe('decodeJson non-finite tokens', () => {
  it('maps tokens to numbers', () => {
    expect(decodeJson('{"a":NaN,"b":[Infinity,-Infinity]}')).toStrictEqual({
      a: Number.NaN,
      b: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
    });
  });

  it('rejects a bare token as an object key', () => {
    expect(() => decodeJson('{NaN:1}')).toThrow(SyntaxError);
    expect(() => decodeJson('{"a":{Infinity:NaN}}')).toThrow(SyntaxError);
  });

  it('rejects text that is not JSON around a token', () => {
    expect(() => decodeJson('{"a":NaN,}')).toThrow(SyntaxError);
    expect(() => decodeJson('{"a":-NaN}')).toThrow(SyntaxError);
    expect(() => decodeJson('{"a":NaNx}')).toThrow(SyntaxError);
    expect(() => decodeJson('{"a":"unterminated NaN')).toThrow(SyntaxError);
  });

  it('decodes a 16 MiB string next to a token', () => {
    const big = 'a'.repeat(16 * 1024 * 1024);
    const decoded = decodeJson(`{"s":"${big}","x":NaN}`) as {
      s: string;
      x: number;
    };
    expect(decoded.s.length).toBe(big.length);
    expect(decoded.x).toBeNaN();
  });

  it('decodes 4 Mi escaped quotes next to a token', () => {
    const quotes = '"'.repeat(4 * 1024 * 1024);
    const decoded = decodeJson(`{"s":${JSON.stringify(quotes)},"x":NaN}`) as {
      s: string;
      x: number;
    };
    expect(decoded.s).toBe(quotes);
    expect(decoded.x).toBeNaN();
  });
});

describe('token text inside strings', () => {
  const texts = [
    'NaN',
    'Infinity',
    '-Infinity',
    'NaN Infinity -Infinity',
    '"NaN"',
    '\\',
    '\\NaN',
    '\\\\NaN',
    '\\"NaN\\"',
    'a\\"-Infinity',
    '\\\\"Infinity',
    '\u0000pyroost-non-finite-:NaN',
  ];

  it.each(texts)('keeps %j as text beside a real token', (text) => {
    const value = {
      s: text,
      [text]: Number.NaN,
      list: [text, Number.POSITIVE_INFINITY],
    };
    expect(roundTrip(value)).toStrictEqual(value);
  });

  it.each(texts)('keeps %j as text without a real token', (text) => {
    const value = { s: text, [text]: 1 };
    expect(roundTrip(value)).toStrictEqual(value);
  });

  it('tags a token after a string that ends in a backslash', () => {
    // The JSON text is {"s":"\\","x":NaN}. The string contains one
    // backslash, so its closing quote is not escaped and NaN is outside it.
    expect(decodeJson('{"s":"\\\\","x":NaN}')).toStrictEqual({
      s: '\\',
      x: Number.NaN,
    });
  });

  it('keeps a token after an escaped quote inside the string', () => {
    // The JSON text is {"s":"\"NaN","x":NaN}.
    expect(decodeJson('{"s":"\\"NaN","x":NaN}')).toStrictEqual({
      s: '"NaN',
      x: Number.NaN,
    });
  });
});

describe('encodeJson binary data', () => {
  it('writes a Buffer as base64', () => {
    expect(encodeJson({ data: Buffer.from('hello') })).toBe(
      '{"data":"aGVsbG8="}',
    );
  });

  it('writes a Uint8Array as base64', () => {
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
    expect(encodeJson({ data: bytes })).toBe('{"data":"AAEC/f7/"}');
  });

  it('writes only the viewed bytes of a subarray', () => {
    const whole = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const view = whole.subarray(2, 5);
    expect(view.byteOffset).toBe(2);
    expect(encodeJson({ data: view })).toBe('{"data":"AQID"}');
  });

  it('writes only the viewed bytes of a Buffer subarray', () => {
    const view = Buffer.from('xxhixx').subarray(2, 4);
    expect(encodeJson([view])).toBe('["aGk="]');
  });

  it('writes an empty Uint8Array as an empty string', () => {
    expect(encodeJson({ data: new Uint8Array(0) })).toBe('{"data":""}');
  });

  it('writes a top-level Buffer as a base64 string', () => {
    expect(encodeJson(Buffer.from([255]))).toBe('"/w=="');
  });
});

describe('encodeJson rejected values', () => {
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const cyclicArray: unknown[] = [1];
  cyclicArray.push({ back: cyclicArray });

  const cases: { name: string; value: unknown; key: string; fix: string }[] = [
    {
      name: 'bigint',
      value: { count: 10n },
      key: 'count',
      fix: 'String(value)',
    },
    {
      name: 'function',
      value: { callback: () => 1 },
      key: 'callback',
      fix: 'send plain data only',
    },
    {
      name: 'symbol',
      value: { tag: Symbol('t') },
      key: 'tag',
      fix: 'send plain data only',
    },
    {
      name: 'Map',
      value: { lookup: new Map([['a', 1]]) },
      key: 'lookup',
      fix: 'Object.fromEntries(map)',
    },
    {
      name: 'Set',
      value: { members: new Set([1]) },
      key: 'members',
      fix: 'Array.from(set)',
    },
    {
      name: 'circular object',
      value: { outer: cyclic },
      key: 'self',
      fix: 'send a copy without the cycle',
    },
    {
      name: 'circular array',
      value: { outer: cyclicArray },
      key: 'back',
      fix: 'send a copy without the cycle',
    },
    {
      name: 'bigint in an array',
      value: { list: [1, 2n] },
      key: '1',
      fix: 'String(value)',
    },
  ];

  it.each(cases.map((entry) => [entry.name, entry] as const))(
    'rejects %s with invalid_input',
    (_name, entry) => {
      const error = catchError(() => encodeJson(entry.value));
      expect(error).toBeInstanceOf(PyroostError);
      const pyroostError = error as PyroostError;
      expect(pyroostError.type).toBe('invalid_input');
      expect(pyroostError.message).toContain(
        `key ${JSON.stringify(entry.key)}`,
      );
      expect(pyroostError.message).toContain(entry.fix);
      expect(pyroostError.context).toStrictEqual({ key: entry.key });
    },
  );

  it('accepts an object referenced twice without a cycle', () => {
    const shared = { k: 1 };
    expect(encodeJson({ a: shared, b: [shared, shared] })).toBe(
      '{"a":{"k":1},"b":[{"k":1},{"k":1}]}',
    );
  });

  it('rejects undefined at the top level', () => {
    const error = catchError(() => encodeJson(undefined));
    expect(error).toBeInstanceOf(PyroostError);
    expect((error as PyroostError).type).toBe('invalid_input');
    expect((error as PyroostError).message).toContain('undefined');
  });

  it('rejects a function at the top level', () => {
    const error = catchError(() => encodeJson(() => 1));
    expect(error).toBeInstanceOf(PyroostError);
    expect((error as PyroostError).type).toBe('invalid_input');
    expect((error as PyroostError).message).toContain('at the top level');
  });

  it('wraps an exception from toJSON as invalid_input', () => {
    const cause = new Error('toJSON failed');
    const value = {
      date: {
        toJSON(): never {
          throw cause;
        },
      },
    };
    const error = catchError(() => encodeJson(value));
    expect(error).toBeInstanceOf(PyroostError);
    expect((error as PyroostError).type).toBe('invalid_input');
    expect((error as PyroostError).cause).toBe(cause);
  });
});

describe('encodeJson undefined properties', () => {
  it('leaves out undefined properties', () => {
    expect(encodeJson({ a: 1, b: undefined, c: { d: undefined } })).toBe(
      '{"a":1,"c":{}}',
    );
  });
});

describe('lone surrogates', () => {
  it('round-trip through a frame', () => {
    const value = {
      high: 'a\ud800b',
      low: '\udfff',
      trailing: 'x\ud83d',
      pair: '\ud83d\ude00',
      reversed: '\ude00\ud83d',
    };
    const text = encodeJson(value);
    expect(text).toContain('\\ud800');
    expect(text).toContain('\\udfff');

    const decoder = new FrameDecoder();
    const frame = encodeFrame(text);
    expect(decoder.push(frame)).toStrictEqual([value]);
    expect(decoder.pendingBytes).toBe(0);
  });
});

describe('encodeJson depth and typed arrays', () => {
  function nested(depth: number): unknown {
    let value: unknown = 1;
    for (let level = 0; level < depth; level += 1) value = [value];
    return value;
  }

  it('accepts nesting up to the limit', () => {
    const text = encodeJson({ d: nested(MAX_INPUT_DEPTH - 2) });
    expect(text.startsWith('{"d":[[')).toBe(true);
  });

  it('rejects nesting past the limit', () => {
    let error: unknown;
    try {
      encodeJson({ d: nested(MAX_INPUT_DEPTH + 10) });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PyroostError);
    expect((error as PyroostError).type).toBe('invalid_input');
    expect((error as PyroostError).message).toContain(String(MAX_INPUT_DEPTH));
  });

  it('sends Float32Array as an array of numbers', () => {
    const text = encodeJson({ v: new Float32Array([1.5, -2]) });
    expect(JSON.parse(text)).toEqual({ v: [1.5, -2] });
  });
});
