// Runs word counts for several sessions on a pyroost pool and exports every
// execution's trace over OTLP HTTP, for example to Jaeger. See README.md.
//
//   OTEL_EXPORTER_OTLP_ENDPOINT  OTLP HTTP base URL, default http://localhost:4318
//   OTEL_SERVICE_NAME            service name of the Node spans, default pyroost-example
//
// At the end it prints one JSON line to stdout with what it ran.
import { fileURLToPath } from 'node:url';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { PythonPool } from '@pyroost/api';

const endpoint = (
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318'
).replace(/\/+$/, '');

// NodeSDK registers the tracer provider, the W3C propagator and an
// AsyncLocalStorage context manager, which carries the execution span across
// awaits so that every pyroost span lands in the execution's trace.
const sdk = new NodeSDK({
  serviceName: process.env.OTEL_SERVICE_NAME ?? 'pyroost-example',
  traceExporter: new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }),
  // Jaeger accepts only traces, so metrics and logs are not exported.
  metricReaders: [],
  logRecordProcessors: [],
});
sdk.start();

/** A pino-compatible logger that writes JSON lines to stderr. */
const logger = Object.fromEntries(
  ['debug', 'info', 'warn', 'error'].map((level) => [
    level,
    (fields, message) => {
      if (level === 'debug') return;
      process.stderr.write(
        `${JSON.stringify({ level, ...fields, message })}\n`,
      );
    },
  ]),
);

const SESSIONS = ['alice', 'bob', 'carol'];
const TEXTS = [
  'the quick brown fox jumps over the lazy dog',
  'a pool of long lived python workers serves many callers',
  'to be or not to be that is the question',
];

const pool = await PythonPool.start({
  programs: [fileURLToPath(new URL('./programs.py', import.meta.url))],
  size: 2,
  logger,
});

const summary = { sessions: SESSIONS, executions: 0, batches: 0, failed: 0 };

async function runSession(sessionId) {
  for (const text of TEXTS) {
    summary.executions += 1;
    await pool.executeProgram('word_stats', { text }, { sessionId });
  }
  summary.batches += 1;
  await pool.executeBatch(
    'word_stats',
    TEXTS.map((text) => ({ text })),
    { sessionId },
  );
}

try {
  await Promise.all(SESSIONS.map(runSession));
  // One failing call, to show an ERROR span with error.type program_error.
  summary.executions += 1;
  try {
    await pool.executeProgram(
      'word_stats',
      { text: '' },
      { sessionId: 'carol' },
    );
  } catch (error) {
    summary.failed += 1;
    logger.warn(
      { sessionId: 'carol', errorType: error.type },
      `expected failure: ${error.message}`,
    );
  }
} finally {
  // Closing the pool lets each worker exit normally, which flushes the spans
  // that the Python programs opened. sdk.shutdown() flushes the Node spans.
  await pool.close();
  await sdk.shutdown();
}

process.stdout.write(`${JSON.stringify(summary)}\n`);
