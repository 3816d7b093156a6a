import { randomUUID } from 'node:crypto';
import { PyroostError, describeValue } from './pyroostError.js';

/**
 * Marks a non-finite number while `JSON.stringify` or `JSON.parse` runs. The
 * random part makes a clash with a real string practically impossible.
 */
const NON_FINITE_TAG = `\u0000pyroost-non-finite-${randomUUID()}:`;
const NON_FINITE_TAG_JSON = JSON.stringify(NON_FINITE_TAG).slice(0, -1);

const NON_FINITE_VALUES: Record<string, number> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LETTER_N = 0x4e;
const LETTER_I = 0x49;
const MINUS = 0x2d;

function invalidInput(message: string, key: string): PyroostError {
  return new PyroostError({
    type: 'invalid_input',
    message,
    context: key === '' ? {} : { key },
  });
}

function nameKey(key: string): string {
  return key === '' ? 'at the top level' : `at key ${JSON.stringify(key)}`;
}

/**
 * Encodes a value as JSON text under the pyroost JSON policy: NaN and
 * ±Infinity become the bare tokens `NaN`, `Infinity`, `-Infinity`; a
 * `Uint8Array` (and so a `Buffer`) becomes a base64 string; a bigint, a
 * function, a symbol, a `Map`, a `Set` or a circular reference is rejected
 * with `invalid_input`. Properties whose value is `undefined` are left out,
 * as `JSON.stringify` does.
 */
export function encodeJson(value: unknown): string {
  try {
    if (isPlainJson(value, 0)) return JSON.stringify(value);
  } catch {
    // A getter threw; the replacer path below reports it as invalid_input.
  }
  return encodeWithReplacer(value);
}

/**
 * Deepest nesting of objects and arrays accepted in a request. Python's
 * `json` decoder recurses once per level and fails near its recursion limit
 * (1,000 frames by default), so requests stay well below it.
 */
export const MAX_INPUT_DEPTH = 512;

/**
 * Deepest nesting that `isPlainJson` walks. Deeper values, and values with a
 * cycle, take the replacer path, which detects cycles.
 */
const MAX_PLAIN_DEPTH = 256;

/**
 * Returns whether a value is made only of null, booleans, strings, finite
 * numbers, arrays and objects whose prototype is `Object.prototype` or null,
 * so that plain `JSON.stringify` encodes it exactly as the policy requires.
 * `JSON.stringify` with a replacer calls back into JavaScript for every
 * value and runs two to three times slower than without one.
 */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (depth >= MAX_PLAIN_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index += 1) {
          if (!isPlainJson(value[index], depth + 1)) return false;
        }
        return true;
      }
      const prototype = Object.getPrototypeOf(value) as unknown;
      if (prototype !== Object.prototype && prototype !== null) return false;
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (!isPlainJson(item, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function encodeWithReplacer(value: unknown): string {
  let hasNonFinite = false;
  // Objects and arrays from the top level down to the one being serialized,
  // so that a reference back to any of them is caught as a cycle.
  const ancestors: object[] = [];

  function replacer(
    this: Record<string, unknown>,
    key: string,
    current: unknown,
  ): unknown {
    // `this` is the object that contains `key`, so every ancestor above it
    // has been serialized completely and is off the current path.
    while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) {
      ancestors.pop();
    }
    const original = this[key];
    if (original instanceof Uint8Array) {
      return Buffer.from(
        original.buffer,
        original.byteOffset,
        original.byteLength,
      ).toString('base64');
    }
    switch (typeof current) {
      case 'number':
        return encodeNumber(current);
      case 'bigint':
        throw invalidInput(
          `Inputs contain the bigint ${current}n ${nameKey(key)}, which JSON cannot carry; ` +
            'send it as a string with String(value) and convert it in Python with int().',
          key,
        );
      case 'function':
      case 'symbol':
        throw invalidInput(
          `Inputs contain ${describeValue(current)} ${nameKey(key)}, which JSON cannot carry; ` +
            'send plain data only (objects, arrays, strings, numbers, booleans, null).',
          key,
        );
      case 'object':
        if (current === null) return current;
        // JSON.stringify unboxes a Number only after the replacer, which
        // would turn new Number(NaN) into null.
        if (current instanceof Number) return encodeNumber(current.valueOf());
        if (current instanceof Map || current instanceof Set) {
          const fix =
            current instanceof Map
              ? 'Object.fromEntries(map)'
              : 'Array.from(set)';
          throw invalidInput(
            `Inputs contain a ${current.constructor.name} ${nameKey(key)}, which JSON would send ` +
              `as an empty object; convert it first with ${fix}.`,
            key,
          );
        }
        if (ancestors.includes(current)) {
          throw invalidInput(
            `Inputs contain a circular reference ${nameKey(key)}, which JSON cannot carry; ` +
              'remove the reference to the enclosing object or send a copy without the cycle.',
            key,
          );
        }
        if (ancestors.length >= MAX_INPUT_DEPTH) {
          throw invalidInput(
            `Inputs are nested more than ${MAX_INPUT_DEPTH} levels deep ${nameKey(key)}; ` +
              "Python's JSON decoder cannot rebuild such values. Flatten the structure, " +
              'for example into a list of records.',
            key,
          );
        }
        ancestors.push(current);
        if (ArrayBuffer.isView(current) && !(current instanceof DataView)) {
          // Typed arrays other than Uint8Array travel as arrays of numbers;
          // JSON.stringify alone would send them as objects keyed by index.
          return Array.from(current as unknown as ArrayLike<number>);
        }
        return current;
      default:
        return current;
    }
  }

  function encodeNumber(number: number): number | string {
    if (Number.isFinite(number)) return number;
    hasNonFinite = true;
    return NON_FINITE_TAG + String(number);
  }

  let text: string | undefined;
  try {
    text = JSON.stringify(value, replacer);
  } catch (error) {
    if (error instanceof PyroostError) throw error;
    throw new PyroostError({
      type: 'invalid_input',
      message: `Inputs cannot be encoded as JSON: ${(error as Error).message}`,
      cause: error,
    });
  }
  if (text === undefined) {
    throw invalidInput(
      `Inputs must be a JSON value, got ${describeValue(value)}; pass an object of keyword arguments.`,
      '',
    );
  }
  if (!hasNonFinite) return text;
  return replaceNonFiniteTags(text);
}

function replaceNonFiniteTags(text: string): string {
  let result = '';
  let position = 0;
  for (;;) {
    const start = text.indexOf(NON_FINITE_TAG_JSON, position);
    if (start === -1) break;
    const tokenStart = start + NON_FINITE_TAG_JSON.length;
    const end = text.indexOf('"', tokenStart);
    // `start` is the opening quote of the tagged string, which is dropped
    // together with the tag and the closing quote.
    result += text.slice(position, start) + text.slice(tokenStart, end);
    position = end + 1;
  }
  return result + text.slice(position);
}

/**
 * Decodes JSON text under the pyroost JSON policy. Plain JSON takes the
 * native `JSON.parse` path; text that contains the bare `NaN`, `Infinity` or
 * `-Infinity` tokens takes a slower path that maps them to numbers. Throws a
 * `SyntaxError` for text that is not JSON either way, including text that
 * uses a bare token as an object key.
 */
export function decodeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (!text.includes('NaN') && !text.includes('Infinity')) throw error;
  }

  return JSON.parse(tagNonFiniteTokens(text), (key, value: unknown) => {
    if (key.startsWith(NON_FINITE_TAG)) {
      throw new SyntaxError(
        `Invalid JSON: the bare token ${key.slice(NON_FINITE_TAG.length)} is used as an object key`,
      );
    }
    if (typeof value === 'string' && value.startsWith(NON_FINITE_TAG)) {
      return NON_FINITE_VALUES[value.slice(NON_FINITE_TAG.length)];
    }
    return value;
  });
}

/**
 * Replaces each bare `NaN`, `Infinity` and `-Infinity` token outside JSON
 * strings with a tagged string that `JSON.parse` accepts. The scan is written
 * by hand because, on Node 20, a regular expression that matches a whole
 * string literal overflows the V8 backtrack stack at 10 million characters.
 */
function tagNonFiniteTokens(text: string): string {
  const parts: string[] = [];
  let copied = 0;
  let position = 0;
  while (position < text.length) {
    const code = text.charCodeAt(position);
    if (code === QUOTE) {
      position = endOfString(text, position) + 1;
      continue;
    }

    let token: string | undefined;
    if (code === LETTER_N) token = 'NaN';
    else if (code === LETTER_I) token = 'Infinity';
    else if (code === MINUS) token = '-Infinity';
    if (token !== undefined && text.startsWith(token, position)) {
      parts.push(
        text.slice(copied, position),
        JSON.stringify(NON_FINITE_TAG + token),
      );
      position += token.length;
      copied = position;
      continue;
    }
    position += 1;
  }
  parts.push(text.slice(copied));
  return parts.join('');
}

/**
 * Returns the index of the quote that closes the JSON string opening at
 * `start`, or `text.length` when the string is unterminated. A quote preceded
 * by an odd number of backslashes is escaped and does not close the string.
 */
function endOfString(text: string, start: number): number {
  let end = start + 1;
  for (;;) {
    end = text.indexOf('"', end);
    if (end === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) {
      backslashes += 1;
    }
    if (backslashes % 2 === 0) return end;
    end += 1;
  }
}
