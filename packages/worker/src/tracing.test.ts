import { SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { PyroostError } from '@pyroost/protocol';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { nanosToHrTime, recordFailure, toTraceparent } from './tracing.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer('worker-tracing-test');

beforeEach(() => exporter.reset());
afterAll(() => provider.shutdown());

describe('nanosToHrTime', () => {
  it('converts a decimal string exactly', () => {
    expect(nanosToHrTime('1700000000123456789')).toEqual([
      1_700_000_000, 123_456_789,
    ]);
    expect(nanosToHrTime('999999999')).toEqual([0, 999_999_999]);
    expect(nanosToHrTime('0')).toEqual([0, 0]);
  });

  it('converts a number', () => {
    expect(nanosToHrTime(1_500_000_000)).toEqual([1, 500_000_000]);
    // JSON.parse turns a current epoch time in nanoseconds into a double,
    // which keeps it to about 256 ns.
    const [seconds, nanos] = nanosToHrTime(Number('1700000000123456789'));
    expect(seconds).toBe(1_700_000_000);
    expect(Math.abs(nanos - 123_456_789)).toBeLessThanOrEqual(256);
  });

  it('never returns a whole second of nanoseconds', () => {
    const [seconds, nanos] = nanosToHrTime(1_999_999_999.9);
    expect([seconds, nanos]).toEqual([2, 0]);
  });
});

describe('toTraceparent', () => {
  it('formats a recording span as W3C traceparent', () => {
    const span = tracer.startSpan('request');
    const { traceId, spanId } = span.spanContext();
    expect(toTraceparent(span)).toBe(`00-${traceId}-${spanId}-01`);
    span.end();
  });

  it('returns undefined for a no-op span', () => {
    const span = trace.getTracer('none').startSpan('request');
    expect(toTraceparent(span)).toBeUndefined();
  });
});

describe('recordFailure', () => {
  it('sets the PyroostError type, category and status', () => {
    const span = tracer.startSpan('failed');
    recordFailure(
      span,
      new PyroostError({ type: 'queue_full', message: 'The queue is full.' }),
    );
    span.end();
    const [finished] = exporter.getFinishedSpans();
    expect(finished!.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'The queue is full.',
    });
    expect(finished!.attributes['error.type']).toBe('queue_full');
    expect(finished!.attributes['pyroost.error.category']).toBe('resource');
    expect(finished!.events.map((event) => event.name)).toEqual(['exception']);
  });

  it('uses the name of another Error, or _OTHER', () => {
    const typed = tracer.startSpan('typed');
    recordFailure(typed, new TypeError('bad'));
    typed.end();
    const other = tracer.startSpan('other');
    recordFailure(other, 'a string');
    other.end();
    const [first, second] = exporter.getFinishedSpans();
    expect(first!.attributes['error.type']).toBe('TypeError');
    expect(second!.attributes['error.type']).toBe('_OTHER');
    expect(second!.status.message).toBe('a string');
  });
});
