import {
  SpanStatusCode,
  isSpanContextValid,
  trace,
  type HrTime,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { isPyroostError } from '@pyroost/protocol';

/** Attribute name that the OpenTelemetry semantic conventions give a session id. */
export const ATTR_SESSION_ID = 'session.id';

/** Attribute that OpenTelemetry's semantic conventions use for a failure's type. */
const ATTR_ERROR_TYPE = 'error.type';

/** `error.type` value for a failure that is neither a PyroostError nor a named Error. */
const OTHER_ERROR_TYPE = '_OTHER';

const NANOS_PER_SECOND = 1_000_000_000n;

/**
 * Tracers by provider, so that a call does not ask the provider again. The
 * global provider of `@opentelemetry/api` is a proxy whose tracers follow an
 * SDK registered later, so its tracer can be kept too. `trace.disable()`
 * replaces that proxy, and the new one gets a tracer of its own.
 */
const tracers = new WeakMap<TracerProvider, Tracer>();

/** Returns this package's tracer from the given provider, or the global one. */
export function getTracer(provider: TracerProvider | undefined): Tracer {
  const source = provider ?? trace.getTracerProvider();
  let tracer = tracers.get(source);
  if (tracer === undefined) {
    tracer = source.getTracer(__PACKAGE_NAME__, __PACKAGE_VERSION__);
    tracers.set(source, tracer);
  }
  return tracer;
}

/** Returns the W3C `traceparent` header value for a span, or undefined for a non-recording no-op span. */
export function toTraceparent(span: Span): string | undefined {
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return undefined;
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/**
 * Marks a span as failed: status ERROR, `error.type` set to the PyroostError
 * type (the Error's name for other errors), and the exception recorded as an
 * event. Does not end the span.
 */
export function recordFailure(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  let type = OTHER_ERROR_TYPE;
  if (isPyroostError(error)) {
    type = error.type;
    span.setAttribute('pyroost.error.category', error.category);
  } else if (error instanceof Error && error.name) {
    type = error.name;
  }
  span.setAttribute(ATTR_ERROR_TYPE, type);
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/**
 * Converts epoch nanoseconds to the `[seconds, nanoseconds]` form that
 * OpenTelemetry takes. A decimal string is converted exactly. A number keeps
 * the precision of a double, about 256 ns for a current epoch time, because
 * such times are above 2^53.
 */
export function nanosToHrTime(nanos: number | string): HrTime {
  if (typeof nanos === 'string') {
    const value = BigInt(nanos);
    return [Number(value / NANOS_PER_SECOND), Number(value % NANOS_PER_SECOND)];
  }
  const seconds = Math.floor(nanos / 1e9);
  const rest = Math.round(nanos - seconds * 1e9);
  // Rounding can reach a whole second, which HrTime does not allow.
  return rest >= 1e9 ? [seconds + 1, rest - 1e9] : [seconds, rest];
}
