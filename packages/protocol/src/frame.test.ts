// @module-tag core
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  PyroostError,
  encodeFrame,
  encodeJson,
} from './index.js';

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('Expected the call to throw, but it returned');
}

function encodeStream(messages: readonly unknown[]): Buffer {
  return Buffer.concat(
    messages.map((message) => encodeFrame(encodeJson(message))),
  );
}

/** Splits `bytes` at the given offsets, which may repeat and be out of order. */
function splitAt(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const cuts = [
    ...new Set(offsets.map((offset) => offset % (bytes.length + 1))),
  ].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  return chunks;
}

function bytesOneByOne(bytes: Buffer): Buffer[] {
  return Array.from({ length: bytes.length }, (_, index) =>
    bytes.subarray(index, index + 1),
  );
}

function decodeChunks(
  chunks: readonly Buffer[],
  options: { maxFrameBytes?: number } = {},
): Record<string, unknown>[] {
  const decoder = new FrameDecoder(options);
  const messages: Record<string, unknown>[] = [];
  for (const chunk of chunks) messages.push(...decoder.push(chunk));
  expect(decoder.pendingBytes).toBe(0);
  return messages;
}

// Strings mix every code point outside the surrogate range (including astral
// ones, which take 4 UTF-8 bytes), lone surrogates, and the characters that
// matter to the JSON codec.
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({
    unit: fc.constantFrom(
      '"',
      '\\',
      'NaN',
      '-Infinity',
      'é',
      '世',
      '😀',
      '\ud800',
      '\udfff',
    ),
    maxLength: 8,
  }),
);

// fc.double() includes NaN and ±Infinity, which travel as bare tokens. It also
// includes -0, which JSON.stringify writes as 0, so -0 is mapped to 0.
const number = fc.oneof(
  fc.integer(),
  fc.double().map((value) => (Object.is(value, -0) ? 0 : value)),
);

const { jsonValue } = fc.letrec<{ jsonValue: unknown }>((tie) => ({
  jsonValue: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    number,
    text,
    fc.array(tie('jsonValue'), { maxLength: 4 }),
    fc.dictionary(text, tie('jsonValue'), {
      maxKeys: 4,
      noNullPrototype: true,
    }),
  ),
}));

const message = fc.dictionary(text, jsonValue, {
  maxKeys: 6,
  noNullPrototype: true,
});

const messageStream = fc.array(message, { maxLength: 8 });

describe('FrameDecoder chunking property', () => {
  it('decodes random cuts to the same messages', () => {
    fc.assert(
      fc.property(
        messageStream,
        fc.array(fc.nat(), { maxLength: 20 }),
        (messages, offsets) => {
          const bytes = encodeStream(messages);
          expect(decodeChunks(splitAt(bytes, offsets))).toStrictEqual(messages);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes one byte at a time to the same messages', () => {
    fc.assert(
      fc.property(messageStream, (messages) => {
        const bytes = encodeStream(messages);
        expect(decodeChunks(bytesOneByOne(bytes))).toStrictEqual(messages);
      }),
      { numRuns: 100 },
    );
  });

  it('decodes one chunk to the same messages', () => {
    fc.assert(
      fc.property(messageStream, (messages) => {
        expect(decodeChunks([encodeStream(messages)])).toStrictEqual(messages);
      }),
      { numRuns: 300 },
    );
  });

  it('passes the same messages to onMessage', () => {
    fc.assert(
      fc.property(
        messageStream,
        fc.array(fc.nat(), { maxLength: 20 }),
        (messages, offsets) => {
          const decoder = new FrameDecoder();
          const received: Record<string, unknown>[] = [];
          for (const chunk of splitAt(encodeStream(messages), offsets)) {
            const returned = decoder.push(chunk, (decoded) =>
              received.push(decoded),
            );
            expect(returned).toStrictEqual([]);
          }
          expect(received).toStrictEqual(messages);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('FrameDecoder multi-byte characters', () => {
  const value = { s: 'é世😀', t: ['😀😀', 'ñ'] };
  const bytes = encodeStream([value, value]);

  it('decodes two chunks cut at every offset', () => {
    for (let cut = 0; cut <= bytes.length; cut += 1) {
      const chunks = [bytes.subarray(0, cut), bytes.subarray(cut)];
      expect(decodeChunks(chunks), `cut at byte ${cut}`).toStrictEqual([
        value,
        value,
      ]);
    }
  });

  it('keeps a partial frame pending', () => {
    const decoder = new FrameDecoder();
    const firstFrameLength = bytes.length / 2;
    // Stop after 2 of the 4 UTF-8 bytes of the emoji.
    const cut = FRAME_HEADER_BYTES + Buffer.byteLength('{"s":"é世') + 2;
    expect(decoder.push(bytes.subarray(0, cut))).toStrictEqual([]);
    expect(decoder.pendingBytes).toBe(cut);
    expect(decoder.push(bytes.subarray(cut, firstFrameLength))).toStrictEqual([
      value,
    ]);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('counts a lone header as pending', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(bytes.subarray(0, FRAME_HEADER_BYTES))).toStrictEqual(
      [],
    );
    expect(decoder.pendingBytes).toBe(FRAME_HEADER_BYTES);
  });
});

const FRAME_ERROR_TYPES = ['protocol_error', 'frame_too_large'];

/**
 * Feeds `chunks` to a fresh decoder. Each push must return plain-object
 * messages or throw a PyroostError of a frame error type, and after an error
 * the decoder must reject every further push with the same error.
 */
function expectMessagesOrFrameError(
  chunks: readonly Buffer[],
  maxFrameBytes: number,
): void {
  const decoder = new FrameDecoder({ maxFrameBytes });
  for (const chunk of chunks) {
    let messages: Record<string, unknown>[];
    try {
      messages = decoder.push(chunk);
    } catch (error) {
      expect(error).toBeInstanceOf(PyroostError);
      expect(FRAME_ERROR_TYPES).toContain((error as PyroostError).type);
      expect(decoder.pendingBytes).toBe(0);
      expect(catchError(() => decoder.push(Buffer.from('{}')))).toBe(error);
      expect(catchError(() => decoder.push(Buffer.alloc(0)))).toBe(error);
      return;
    }
    for (const decoded of messages) {
      expect(typeof decoded).toBe('object');
      expect(Array.isArray(decoded)).toBe(false);
    }
  }
}

function frameOf(body: Uint8Array): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

// Bodies built from JSON punctuation and the non-finite tokens, so that the
// decoder's slow path for NaN and Infinity parses mostly malformed JSON.
const jsonLikeBody = fc
  .array(
    fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      '"',
      '\\',
      ':',
      ',',
      ' ',
      '1',
      '-',
      'e',
      '.',
      'NaN',
      'Infinity',
      '-Infinity',
      'null',
      'true',
      '"k"',
      '\\"',
      '\\u00',
      'é',
      '\ud800',
    ),
    { maxLength: 30 },
  )
  .map((parts) => Buffer.from(parts.join(''), 'utf8'));

describe('FrameDecoder fuzzing', () => {
  it('handles random bytes in random chunks', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer({ min: 0, max: 300 }),
        (bytes, offsets, maxFrameBytes) => {
          expectMessagesOrFrameError(
            splitAt(Buffer.from(bytes), offsets),
            maxFrameBytes,
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('handles frames with random bodies', () => {
    const body = fc.oneof(fc.uint8Array({ maxLength: 40 }), jsonLikeBody);
    fc.assert(
      fc.property(
        fc.array(body, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (bodies, offsets) => {
          const bytes = Buffer.concat(bodies.map(frameOf));
          expectMessagesOrFrameError(splitAt(bytes, offsets), 1024);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('handles truncated and corrupted valid streams', () => {
    const corruption = fc.record({
      truncateAt: fc.nat(),
      flips: fc.array(
        fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
        {
          maxLength: 4,
        },
      ),
      inserted: fc.uint8Array({ maxLength: 6 }),
      insertAt: fc.nat(),
    });
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 4 }),
        corruption,
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer({ min: 0, max: 4096 }),
        (messages, change, offsets, maxFrameBytes) => {
          const valid = encodeStream(messages);
          const insertAt = change.insertAt % (valid.length + 1);
          const corrupted = Buffer.concat([
            valid.subarray(0, insertAt),
            change.inserted,
            valid.subarray(insertAt),
          ]);
          for (const flip of change.flips) {
            corrupted[flip.at % corrupted.length] = flip.byte;
          }
          const truncated = corrupted.subarray(
            0,
            change.truncateAt % (corrupted.length + 1),
          );
          expectMessagesOrFrameError(
            splitAt(truncated, offsets),
            maxFrameBytes,
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('FrameDecoder oversized header', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const threeGigabytes = 3 * 1024 * 1024 * 1024;
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(threeGigabytes);

  it('rejects a 3 GB header on the header push', () => {
    const allocations = [
      vi.spyOn(Buffer, 'alloc'),
      vi.spyOn(Buffer, 'allocUnsafe'),
      vi.spyOn(Buffer, 'allocUnsafeSlow'),
      vi.spyOn(Buffer, 'concat'),
    ];
    const decoder = new FrameDecoder();

    const error = catchError(() => decoder.push(header));

    expect(error).toBeInstanceOf(PyroostError);
    expect((error as PyroostError).type).toBe('frame_too_large');
    expect((error as PyroostError).message).toContain(String(threeGigabytes));
    expect((error as PyroostError).message).toContain(
      String(DEFAULT_MAX_FRAME_BYTES),
    );
    expect((error as PyroostError).context).toStrictEqual({
      frameBytes: threeGigabytes,
      maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
    });
    expect(decoder.pendingBytes).toBe(0);
    for (const allocation of allocations) {
      expect(allocation).not.toHaveBeenCalled();
    }
  });

  it('buffers nothing pushed after the header', () => {
    const decoder = new FrameDecoder();
    expect(() => decoder.push(header)).toThrow(PyroostError);

    const megabyte = Buffer.alloc(1024 * 1024, 0x61);
    const later = catchError(() => decoder.push(megabyte));
    expect(later).toBeInstanceOf(PyroostError);
    expect((later as PyroostError).type).toBe('frame_too_large');
    expect(decoder.pendingBytes).toBe(0);
  });

  it('rejects a header pushed one byte at a time on its last byte', () => {
    const decoder = new FrameDecoder();
    for (let index = 0; index < FRAME_HEADER_BYTES - 1; index += 1) {
      expect(decoder.push(header.subarray(index, index + 1))).toStrictEqual([]);
      expect(decoder.pendingBytes).toBe(index + 1);
    }
    const error = catchError(() =>
      decoder.push(header.subarray(FRAME_HEADER_BYTES - 1)),
    );
    expect((error as PyroostError).type).toBe('frame_too_large');
    expect(decoder.pendingBytes).toBe(0);
  });

  it('rejects a header one byte over maxFrameBytes', () => {
    const small = Buffer.alloc(FRAME_HEADER_BYTES);
    small.writeUInt32BE(101);
    const error = catchError(() =>
      new FrameDecoder({ maxFrameBytes: 100 }).push(small),
    );
    expect((error as PyroostError).type).toBe('frame_too_large');
  });
});

describe('FrameDecoder after an error', () => {
  it('rethrows the first error on every push', () => {
    const decoder = new FrameDecoder();
    const bad = frameOf(Buffer.from('[1]'));
    const first = catchError(() => decoder.push(bad));
    expect((first as PyroostError).type).toBe('protocol_error');

    const good = encodeFrame(encodeJson({ ok: true }));
    expect(catchError(() => decoder.push(good))).toBe(first);
    expect(catchError(() => decoder.push(Buffer.alloc(0)))).toBe(first);
    expect(decoder.pendingBytes).toBe(0);
  });
});

describe('FrameDecoder messages before a bad frame', () => {
  const first = { n: 1, s: 'é' };
  const second = { n: 2, x: Number.NaN };

  it('passes earlier messages to onMessage before a protocol_error', () => {
    const chunk = Buffer.concat([
      encodeStream([first, second]),
      frameOf(Buffer.from([0x7b, 0xff, 0x7d])),
    ]);
    const events: unknown[] = [];
    const decoder = new FrameDecoder();

    const error = catchError(() =>
      decoder.push(chunk, (decoded) => events.push(decoded)),
    );

    expect((error as PyroostError).type).toBe('protocol_error');
    expect(events).toStrictEqual([first, second]);
  });

  it('passes earlier messages to onMessage before a frame_too_large', () => {
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(1000);
    const chunk = Buffer.concat([encodeStream([first, second]), header]);
    const events: unknown[] = [];
    const decoder = new FrameDecoder({ maxFrameBytes: 100 });

    const error = catchError(() =>
      decoder.push(chunk, (decoded) => events.push(decoded)),
    );

    expect((error as PyroostError).type).toBe('frame_too_large');
    expect(events).toStrictEqual([first, second]);
  });
});

describe('encodeFrame', () => {
  it('writes a big-endian byte length and the UTF-8 body', () => {
    const frame = encodeFrame('{"s":"é😀"}');
    const body = Buffer.from('{"s":"é😀"}', 'utf8');
    expect(frame.readUInt32BE(0)).toBe(body.length);
    expect(frame.subarray(FRAME_HEADER_BYTES)).toStrictEqual(body);
  });

  it('accepts a body exactly at maxFrameBytes', () => {
    const json = '{"s":"é"}';
    const bodyBytes = Buffer.byteLength(json);
    expect(encodeFrame(json, bodyBytes).length).toBe(
      FRAME_HEADER_BYTES + bodyBytes,
    );
  });

  it('rejects a body over maxFrameBytes', () => {
    // Nine characters but ten UTF-8 bytes, so the bound must count bytes.
    const json = '{"s":"é"}';
    expect(json.length).toBe(9);

    const error = catchError(() => encodeFrame(json, 9));

    expect(error).toBeInstanceOf(PyroostError);
    expect((error as PyroostError).type).toBe('frame_too_large');
    expect((error as PyroostError).message).toContain('10 bytes');
    expect((error as PyroostError).message).toContain('(9)');
    expect((error as PyroostError).context).toStrictEqual({
      frameBytes: 10,
      maxFrameBytes: 9,
    });
  });
});
