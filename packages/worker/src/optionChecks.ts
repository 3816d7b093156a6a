import { PyroostError, describeValue } from '@pyroost/protocol';

/**
 * Longest delay `setTimeout` honours, in ms (2^31 − 1, about 24.8 days).
 * Node fires longer timers after 1 ms, so longer limits are rejected; pass
 * `Infinity` for no limit.
 */
export const MAX_TIMER_MS = 2_147_483_647;

function invalidOption(
  name: string,
  value: unknown,
  expected: string,
): PyroostError {
  return new PyroostError({
    type: 'invalid_input',
    message: `Option ${name} must be ${expected}, got ${describeValue(value)}.`,
    context: {
      option: name,
      value: typeof value === 'number' ? String(value) : describeValue(value),
    },
  });
}

/**
 * Checks a duration option in ms: a number above 0 and at most
 * `MAX_TIMER_MS`, or `Infinity` when `allowInfinity` is set. Returns the
 * value, or `fallback` when it is undefined.
 */
export function checkDurationMs<T extends number | undefined>(
  name: string,
  value: unknown,
  fallback: T,
  options: { allowInfinity?: boolean; allowZero?: boolean } = {},
): number | T {
  if (value === undefined) return fallback;
  const infinityAllowed = options.allowInfinity ?? false;
  if (
    typeof value === 'number' &&
    value === Number.POSITIVE_INFINITY &&
    infinityAllowed
  ) {
    return value;
  }
  const minimumOk =
    typeof value === 'number' && (options.allowZero ? value >= 0 : value > 0);
  if (
    typeof value !== 'number' ||
    !minimumOk ||
    value > MAX_TIMER_MS ||
    Number.isNaN(value)
  ) {
    throw invalidOption(
      name,
      value,
      `a number of milliseconds ${options.allowZero ? '>= 0' : '> 0'} and at most ${MAX_TIMER_MS}` +
        (infinityAllowed ? ', or Infinity for no limit' : ''),
    );
  }
  return value;
}

/** Checks an integer option within [minimum, maximum]. */
export function checkInteger<T extends number | undefined>(
  name: string,
  value: unknown,
  fallback: T,
  minimum: number,
  maximum = Number.MAX_SAFE_INTEGER,
): number | T {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < minimum ||
    value > maximum
  ) {
    const range =
      maximum === Number.MAX_SAFE_INTEGER
        ? `>= ${minimum}`
        : `from ${minimum} to ${maximum}`;
    throw invalidOption(name, value, `an integer ${range}`);
  }
  return value;
}

/**
 * Checks an OpenTelemetry provider option, if given: an object with the
 * `method` that returns its tracer or meter (`getTracer`, `getMeter`).
 */
export function checkProvider(
  name: 'tracerProvider' | 'meterProvider',
  value: unknown,
  method: 'getTracer' | 'getMeter',
): void {
  if (value === undefined) return;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as Record<string, unknown>)[method] !== 'function'
  ) {
    throw invalidOption(
      name,
      value,
      `an OpenTelemetry provider with ${method}(), or left out for the global one`,
    );
  }
}

/** Checks that a `signal` option is an AbortSignal from this realm. */
export function checkSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  let usable = false;
  if (value instanceof AbortSignal) {
    try {
      usable = typeof value.aborted === 'boolean';
    } catch {
      // A fake built on AbortSignal.prototype throws from the getter.
      usable = false;
    }
  }
  if (usable) return value as AbortSignal;
  const hint =
    typeof value === 'object' && value !== null && 'signal' in value
      ? '; pass controller.signal, not the AbortController'
      : '';
  throw invalidOption('signal', value, `an AbortSignal${hint}`);
}
