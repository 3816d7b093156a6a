import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  FrameDecoder,
  PyroostError,
  decodeJson,
  encodeJson,
  type ErrorType,
} from './index.js';

interface JsonVector {
  name: string;
  text: string;
  value: unknown;
}

interface FrameVector {
  name: string;
  hex: string;
  max_frame_bytes: number;
  messages?: unknown[];
  error?: ErrorType;
}

function readVectors<T>(file: string): T[] {
  const url = new URL(`../vectors/${file}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as T[];
}

const FLOAT_VALUES: Record<string, number> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};

/** Replaces each `{"$float": …}` marker of a vector with the number it is for. */
function fromVector(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromVector);
  if (typeof value !== 'object' || value === null) return value;

  const entries = Object.entries(value);
  const [first] = entries;
  if (entries.length === 1 && first?.[0] === '$float') {
    const number = FLOAT_VALUES[first[1] as string];
    if (number === undefined) {
      throw new Error(`Unknown $float value ${JSON.stringify(first[1])}`);
    }
    return number;
  }
  return Object.fromEntries(
    entries.map(([key, inner]) => [key, fromVector(inner)]),
  );
}

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('Expected the call to throw, but it returned');
}

/** Decodes `bytes` fed in chunks of `chunkSize` bytes and returns every message. */
function decodeInChunks(
  bytes: Buffer,
  maxFrameBytes: number,
  chunkSize: number,
): Record<string, unknown>[] {
  const decoder = new FrameDecoder({ maxFrameBytes });
  const messages: Record<string, unknown>[] = [];
  for (let start = 0; start < bytes.length; start += chunkSize) {
    messages.push(...decoder.push(bytes.subarray(start, start + chunkSize)));
  }
  return messages;
}

const jsonVectors = readVectors<JsonVector>('json.json');
const frameVectors = readVectors<FrameVector>('frames.json');

describe('json.json vectors', () => {
  it('file contains cases', () => {
    expect(jsonVectors.length).toBeGreaterThan(0);
  });

  it.each(jsonVectors.map((vector) => [vector.name, vector] as const))(
    'decodes %s',
    (_name, vector) => {
      expect(decodeJson(vector.text)).toStrictEqual(fromVector(vector.value));
    },
  );

  it.each(jsonVectors.map((vector) => [vector.name, vector] as const))(
    'round-trips %s through encodeJson',
    (_name, vector) => {
      const value = fromVector(vector.value);
      expect(decodeJson(encodeJson(value))).toStrictEqual(value);
    },
  );
});

describe('frames.json vectors', () => {
  it('file contains cases', () => {
    expect(frameVectors.length).toBeGreaterThan(0);
  });

  it('every case expects either messages or an error', () => {
    for (const vector of frameVectors) {
      expect(vector.messages === undefined, vector.name).not.toBe(
        vector.error === undefined,
      );
    }
  });

  const messageVectors = frameVectors.filter((vector) => vector.messages);
  const errorVectors = frameVectors.filter((vector) => vector.error);

  it.each(messageVectors.map((vector) => [vector.name, vector] as const))(
    'decodes %s in one chunk',
    (_name, vector) => {
      const bytes = Buffer.from(vector.hex, 'hex');
      const expected = fromVector(vector.messages);
      expect(
        decodeInChunks(bytes, vector.max_frame_bytes, bytes.length || 1),
      ).toStrictEqual(expected);
    },
  );

  it.each(messageVectors.map((vector) => [vector.name, vector] as const))(
    'decodes %s one byte at a time',
    (_name, vector) => {
      const bytes = Buffer.from(vector.hex, 'hex');
      const expected = fromVector(vector.messages);
      expect(decodeInChunks(bytes, vector.max_frame_bytes, 1)).toStrictEqual(
        expected,
      );
    },
  );

  it.each(errorVectors.map((vector) => [vector.name, vector] as const))(
    'rejects %s',
    (_name, vector) => {
      const bytes = Buffer.from(vector.hex, 'hex');
      for (const chunkSize of [bytes.length, 1]) {
        const error = catchError(() =>
          decodeInChunks(bytes, vector.max_frame_bytes, chunkSize),
        );
        expect(error, `chunk size ${chunkSize}`).toBeInstanceOf(PyroostError);
        expect((error as PyroostError).type, `chunk size ${chunkSize}`).toBe(
          vector.error,
        );
      }
    },
  );
});
