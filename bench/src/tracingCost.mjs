// Measures what pyroost's tracing costs when no OpenTelemetry SDK is
// registered, which is the default for a library user.
//
//   node bench/src/tracingCost.mjs [--iterations N] [--calls N] [--rounds N]
//
// 1. Micro: the OpenTelemetry API calls that PythonPool, Pool and
//    PythonWorker make for one execution (three tracers, three spans with
//    their attributes, context.with, the traceparent check), timed against
//    the same loop calling an empty function. Both run in this process, in
//    alternating rounds, and the medians are compared.
// 2. Macro: sequential calls of a no-op Python program on a one-worker pool,
//    with no SDK and with an SDK that records every span (BasicTracerProvider,
//    BatchSpanProcessor and an exporter that drops spans), in alternating
//    rounds. The micro cost
//    is then given as a share of one no-SDK round trip.
//
// It prints a table and one JSON line. Timings vary with the machine and its
// load; compare the rows of one run, not numbers across machines.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  SpanKind,
  context,
  isSpanContextValid,
  trace,
} from '@opentelemetry/api';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { PythonPool } from '@pyroost/api';
import { spread } from './measure.mjs';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '200000' },
    calls: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
  },
});
const ITERATIONS = Number(values.iterations);
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const PROGRAMS = fileURLToPath(
  new URL('../python/programs.py', import.meta.url),
);

/** Calls the OpenTelemetry API as pyroost does for one execution, in the same order. */
function tracingOfOneExecution(program, sessionId) {
  const apiTracer = trace
    .getTracerProvider()
    .getTracer('@pyroost/api', '0.1.0');
  const root = apiTracer.startSpan(`pyroost.execute ${program}`, {
    kind: SpanKind.INTERNAL,
    attributes: { 'pyroost.program': program, 'session.id': sessionId },
  });
  context.with(trace.setSpan(context.active(), root), () => {
    const poolTracer = trace
      .getTracerProvider()
      .getTracer('@pyroost/pool', '0.1.0');
    const checkout = poolTracer.startSpan(
      'pyroost.checkout',
      { kind: SpanKind.INTERNAL, attributes: { 'session.id': sessionId } },
      context.active(),
    );
    checkout.setAttributes({
      'pyroost.checkout.queued': false,
      'pyroost.worker.id': 'worker-1',
    });
    checkout.end();
    const workerTracer = trace
      .getTracerProvider()
      .getTracer('@pyroost/worker', '0.1.0');
    const request = workerTracer.startSpan(
      'pyroost.worker.request',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'pyroost.worker.id': 'worker-1',
          'process.pid': 1234,
          'pyroost.program': program,
          'pyroost.command': 'execute',
          'session.id': sessionId,
        },
      },
      context.active(),
    );
    isSpanContextValid(request.spanContext());
    request.isRecording();
    request.end();
  });
  root.end();
}

function emptyCall() {}

function nanosPerCall(fn) {
  const startedAt = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i += 1) fn('noop', 'session-1');
  return Number(process.hrtime.bigint() - startedAt) / ITERATIONS;
}

async function microsPerRoundTrip(pool) {
  const startedAt = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i += 1) {
    await pool.executeProgram('noop', {}, { sessionId: 'session-1' });
  }
  return Number(process.hrtime.bigint() - startedAt) / CALLS / 1000;
}

/** A span exporter that drops everything, so only the SDK's own work is timed. */
const dropExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => undefined,
};

// Micro, after a warm-up of each.
nanosPerCall(tracingOfOneExecution);
nanosPerCall(emptyCall);
const tracedNanos = [];
const emptyNanos = [];
for (let round = 0; round < ROUNDS; round += 1) {
  tracedNanos.push(nanosPerCall(tracingOfOneExecution));
  emptyNanos.push(nanosPerCall(emptyCall));
}

// Macro.
const sdkProvider = new BasicTracerProvider({
  spanProcessors: [new BatchSpanProcessor(dropExporter)],
});
const noSdkPool = await PythonPool.start({ programs: [PROGRAMS], size: 1 });
const sdkPool = await PythonPool.start({
  programs: [PROGRAMS],
  size: 1,
  tracerProvider: sdkProvider,
});
const noSdkMicros = [];
const sdkMicros = [];
try {
  await microsPerRoundTrip(noSdkPool);
  await microsPerRoundTrip(sdkPool);
  for (let round = 0; round < ROUNDS; round += 1) {
    noSdkMicros.push(await microsPerRoundTrip(noSdkPool));
    sdkMicros.push(await microsPerRoundTrip(sdkPool));
  }
} finally {
  await noSdkPool.close();
  await sdkPool.close();
  await sdkProvider.shutdown();
}

const traced = spread(tracedNanos);
const empty = spread(emptyNanos);
const noSdk = spread(noSdkMicros);
const sdk = spread(sdkMicros);
const tracingNanos = traced.median - empty.median;
const row = (label, value, unit) =>
  `${label.padEnd(58)} ${value.toFixed(value < 10 ? 2 : 1).padStart(9)} ${unit}`;
console.log(
  [
    `${ITERATIONS} iterations x ${ROUNDS} rounds (micro), ${CALLS} calls x ${ROUNDS} rounds (macro), medians`,
    row('tracing calls of one execution, no SDK', traced.median, 'ns'),
    row('empty function call (the no-op baseline)', empty.median, 'ns'),
    row('tracing cost per execution, no SDK', tracingNanos, 'ns'),
    row('round trip of a no-op program, no SDK', noSdk.median, 'us'),
    row(
      'round trip of a no-op program, SDK recording every span',
      sdk.median,
      'us',
    ),
    row(
      'no-SDK tracing cost as a share of the round trip',
      (100 * tracingNanos) / (noSdk.median * 1000),
      '%',
    ),
  ].join('\n'),
);
console.log(
  JSON.stringify({
    iterations: ITERATIONS,
    calls: CALLS,
    rounds: ROUNDS,
    tracingNanosNoSdk: traced,
    emptyCallNanos: empty,
    roundTripMicrosNoSdk: noSdk,
    roundTripMicrosSdk: sdk,
  }),
);
