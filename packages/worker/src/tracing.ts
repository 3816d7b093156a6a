import {
  SpanStatusCode,
  isSpanContextValid,
  trace,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { isPyroostError } from '@pyroost/protocol';

/** Attribute name OpenTelemetry's semantic conventions give a session id. */
export const ATTR_SESSION_ID = 'session.id';

/** Returns the tracer of a package from the given provider, or the global one. */
export function getTracer(provider: TracerProvider | undefined): Tracer {
  return (provider ?? trace.getTracerProvider()).getTracer(
    __PACKAGE_NAME__,
    __PACKAGE_VERSION__,
  );
}

/** W3C `traceparent` header value for a span, or undefined for a non-recording no-op span. */
export function toTraceparent(span: Span): string | undefined {
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return undefined;
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/** Marks a span as failed with the error's type and ends nothing. */
export function recordFailure(span: Span, error: unknown): void {
  const type = isPyroostError(error) ? error.type : 'unknown';
  span.setAttribute('error.type', type);
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/** Converts epoch nanoseconds to the [seconds, nanoseconds] form OpenTelemetry takes. */
export function nanosToHrTime(nanos: number): [number, number] {
  const seconds = Math.floor(nanos / 1e9);
  return [seconds, Math.round(nanos - seconds * 1e9)];
}
