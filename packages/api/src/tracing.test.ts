import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  MetricReader,
  MeterProvider,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
} from 'vitest';
import {
  PyroostError,
  PythonPool,
  type Logger,
  type PythonPoolOptions,
} from './index.js';

const PROGRAMS = fileURLToPath(
  new URL('../test/fixtures/programs.py', import.meta.url),
);
const TRACING_PROGRAMS = fileURLToPath(
  new URL('../test/fixtures/tracing_programs.py', import.meta.url),
);
const PYTHON_HAS_OTEL_SDK =
  spawnSync('python3', ['-c', 'import opentelemetry.sdk.trace'], {
    stdio: 'ignore',
  }).status === 0;

/** A metric reader that only collects on demand. */
class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const contextManager = new AsyncLocalStorageContextManager();
const pools: PythonPool[] = [];

function recordingLogger(lines: LogLine[]): Logger {
  const method =
    (level: string) => (fields: Record<string, unknown>, message: string) =>
      lines.push({ level, fields, message });
  return {
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
  };
}

async function startPool(
  options: Partial<PythonPoolOptions> = {},
): Promise<PythonPool> {
  const pool = await PythonPool.start({
    programs: [PROGRAMS, TRACING_PROGRAMS],
    size: 2,
    overflow: 0,
    tracerProvider,
    ...options,
  });
  pools.push(pool);
  return pool;
}

async function rejection(promise: Promise<unknown>): Promise<PyroostError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(PyroostError);
    return error as PyroostError;
  }
  throw new Error('expected the promise to reject');
}

async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Finished spans of the one trace whose root span has the given name and session. */
function traceOf(rootName: string, sessionId: string): ReadableSpan[] {
  const spans = exporter.getFinishedSpans();
  const roots = spans.filter(
    (span) =>
      span.name === rootName && span.attributes['session.id'] === sessionId,
  );
  expect(roots, `root spans named ${rootName} in ${sessionId}`).toHaveLength(1);
  const traceId = roots[0]!.spanContext().traceId;
  return spans.filter((span) => span.spanContext().traceId === traceId);
}

function only(spans: ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((span) => span.name === name);
  expect(found, `spans named ${name}`).toHaveLength(1);
  return found[0]!;
}

function parentId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

function durationNanos(span: ReadableSpan): number {
  return span.duration[0] * 1e9 + span.duration[1];
}

/** Checks the shape every execution that reached a worker shares. */
function expectExecutionTree(
  spans: ReadableSpan[],
  program: string,
  sessionId: string,
): {
  root: ReadableSpan;
  checkout: ReadableSpan;
  request: ReadableSpan;
} {
  const root = only(spans, `pyroost.execute ${program}`);
  const checkout = only(spans, 'pyroost.checkout');
  const request = only(spans, 'pyroost.worker.request');
  expect(parentId(root)).toBeUndefined();
  expect(parentId(checkout)).toBe(root.spanContext().spanId);
  expect(parentId(request)).toBe(root.spanContext().spanId);
  expect(root.attributes['pyroost.program']).toBe(program);
  expect(request.attributes['pyroost.program']).toBe(program);
  for (const span of spans) {
    expect(span.attributes['session.id'], span.name).toBe(sessionId);
  }
  return { root, checkout, request };
}

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});

afterAll(async () => {
  context.disable();
  await tracerProvider.shutdown();
});

beforeEach(() => {
  exporter.reset();
});

afterEach(async () => {
  await Promise.all(
    pools.splice(0).map((pool) => pool.close({ graceful: false })),
  );
});

describe('execution spans', () => {
  it('traces a success from the api down to Python', async () => {
    const pool = await startPool();
    const pids = pool.workers().map((worker) => worker.pid);
    const ids = pool.workers().map((worker) => worker.id);
    await pool.executeProgram('square', { n: 4 }, { sessionId: 'ok-1' });

    const spans = traceOf('pyroost.execute square', 'ok-1');
    expect(spans.map((span) => span.name).sort()).toEqual([
      'pyroost.checkout',
      'pyroost.execute square',
      'pyroost.python',
      'pyroost.worker.request',
    ]);
    const { root, checkout, request } = expectExecutionTree(
      spans,
      'square',
      'ok-1',
    );
    const python = only(spans, 'pyroost.python');
    expect(parentId(python)).toBe(request.spanContext().spanId);

    expect(pids).toContain(request.attributes['process.pid']);
    expect(ids).toContain(request.attributes['pyroost.worker.id']);
    expect(python.attributes['process.pid']).toBe(
      request.attributes['process.pid'],
    );
    expect(checkout.attributes['pyroost.checkout.queued']).toBe(false);
    expect(checkout.attributes['pyroost.worker.id']).toBe(
      request.attributes['pyroost.worker.id'],
    );
    for (const span of spans) {
      expect(span.status.code, span.name).toBe(SpanStatusCode.UNSET);
      expect(span.attributes['error.type'], span.name).toBeUndefined();
    }
    // Python's own time is part of the round trip. The 1 ms margin covers
    // the two clocks' resolution.
    expect(durationNanos(python)).toBeGreaterThan(0);
    expect(durationNanos(python)).toBeLessThanOrEqual(
      durationNanos(request) + 1e6,
    );
    expect(durationNanos(request)).toBeLessThanOrEqual(
      durationNanos(root) + 1e6,
    );
  });

  it('gives each execution its own trace', async () => {
    const pool = await startPool();
    await Promise.all(
      ['a', 'b', 'c', 'd'].map((session) =>
        pool.executeProgram(
          'square',
          { n: 2 },
          { sessionId: `many-${session}` },
        ),
      ),
    );
    const traceIds = new Set<string>();
    for (const session of ['a', 'b', 'c', 'd']) {
      const spans = traceOf('pyroost.execute square', `many-${session}`);
      expect(spans).toHaveLength(4);
      expectExecutionTree(spans, 'square', `many-${session}`);
      traceIds.add(spans[0]!.spanContext().traceId);
    }
    expect(traceIds.size).toBe(4);
  });

  it('joins the trace of an active caller span', async () => {
    const pool = await startPool();
    const tracer = tracerProvider.getTracer('caller');
    await tracer.startActiveSpan('caller', async (caller) => {
      await pool.executeProgram('square', { n: 1 }, { sessionId: 'nested' });
      caller.end();
    });
    const caller = only(exporter.getFinishedSpans(), 'caller');
    const root = only(exporter.getFinishedSpans(), 'pyroost.execute square');
    expect(root.spanContext().traceId).toBe(caller.spanContext().traceId);
    expect(parentId(root)).toBe(caller.spanContext().spanId);
  });

  it('marks a program error on every span that saw it', async () => {
    const pool = await startPool();
    const error = await rejection(
      pool.executeProgram('square', { n: -1 }, { sessionId: 'prog-err' }),
    );
    expect(error.type).toBe('program_error');

    const spans = traceOf('pyroost.execute square', 'prog-err');
    const { root, checkout, request } = expectExecutionTree(
      spans,
      'square',
      'prog-err',
    );
    const python = only(spans, 'pyroost.python');
    expect(parentId(python)).toBe(request.spanContext().spanId);
    for (const span of [root, request, python]) {
      expect(span.status.code, span.name).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['error.type'], span.name).toBe('program_error');
      expect(span.attributes['pyroost.error.category'], span.name).toBe(
        'program',
      );
    }
    expect(root.status.message).toContain('negative input -1');
    expect(root.events.map((event) => event.name)).toContain('exception');
    expect(checkout.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('marks a timeout and records no Python span', async () => {
    const pool = await startPool();
    const error = await rejection(
      pool.executeProgram(
        'sleep',
        { seconds: 10 },
        { sessionId: 'slow', timeoutMs: 300 },
      ),
    );
    expect(error.type).toBe('execution_timeout');

    const spans = traceOf('pyroost.execute sleep', 'slow');
    const { root, checkout, request } = expectExecutionTree(
      spans,
      'sleep',
      'slow',
    );
    expect(spans.map((span) => span.name)).not.toContain('pyroost.python');
    for (const span of [root, request]) {
      expect(span.status.code, span.name).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['error.type'], span.name).toBe(
        'execution_timeout',
      );
    }
    expect(checkout.status.code).toBe(SpanStatusCode.UNSET);
    // The request span lasts at least as long as the timeout.
    expect(durationNanos(request)).toBeGreaterThanOrEqual(300e6 - 1e6);
  });

  it('marks a worker killed mid-request as crashed', async () => {
    const pool = await startPool({ size: 1 });
    const [worker] = pool.workers();
    const call = rejection(
      pool.executeProgram('sleep', { seconds: 10 }, { sessionId: 'killed' }),
    );
    await waitFor(
      () => pool.workers().some((member) => member.state === 'busy'),
      'the worker to become busy',
    );
    process.kill(worker!.pid!, 'SIGKILL');
    const error = await call;
    expect(error.type).toBe('worker_crashed');

    const spans = traceOf('pyroost.execute sleep', 'killed');
    const { root, request } = expectExecutionTree(spans, 'sleep', 'killed');
    expect(request.attributes['process.pid']).toBe(worker!.pid);
    expect(request.attributes['pyroost.worker.id']).toBe(worker!.id);
    expect(spans.map((span) => span.name)).not.toContain('pyroost.python');
    for (const span of [root, request]) {
      expect(span.status.code, span.name).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['error.type'], span.name).toBe('worker_crashed');
      expect(span.attributes['pyroost.error.category'], span.name).toBe(
        'system',
      );
    }
  });

  it('ends a queued call that was aborted at the checkout', async () => {
    const pool = await startPool({ size: 1 });
    const busy = pool.executeProgram(
      'sleep',
      { seconds: 2 },
      { sessionId: 'holder' },
    );
    await waitFor(
      () => pool.workers().some((member) => member.state === 'busy'),
      'the worker to become busy',
    );
    const controller = new AbortController();
    const queued = rejection(
      pool.executeProgram(
        'square',
        { n: 3 },
        { sessionId: 'gave-up', signal: controller.signal },
      ),
    );
    await waitFor(
      () => pool.getStats().queueLength === 1,
      'the call to be queued',
    );
    controller.abort(new Error('caller gave up'));
    const error = await queued;
    expect(error.type).toBe('aborted');
    await busy;

    const spans = traceOf('pyroost.execute square', 'gave-up');
    expect(spans.map((span) => span.name).sort()).toEqual([
      'pyroost.checkout',
      'pyroost.execute square',
    ]);
    const root = only(spans, 'pyroost.execute square');
    const checkout = only(spans, 'pyroost.checkout');
    expect(parentId(checkout)).toBe(root.spanContext().spanId);
    expect(checkout.attributes['pyroost.checkout.queued']).toBe(true);
    expect(checkout.attributes['pyroost.worker.id']).toBeUndefined();
    for (const span of spans) {
      expect(span.attributes['session.id'], span.name).toBe('gave-up');
      expect(span.status.code, span.name).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['error.type'], span.name).toBe('aborted');
    }
  });

  it('marks a checkout that found the queue full', async () => {
    const pool = await startPool({ size: 1, maxQueue: 0 });
    const busy = pool.executeProgram('sleep', { seconds: 1 });
    await waitFor(
      () => pool.workers().some((member) => member.state === 'busy'),
      'the worker to become busy',
    );
    const error = await rejection(
      pool.executeProgram('square', { n: 3 }, { sessionId: 'full' }),
    );
    expect(error.type).toBe('queue_full');
    await busy;

    const spans = traceOf('pyroost.execute square', 'full');
    const checkout = only(spans, 'pyroost.checkout');
    expect(checkout.attributes['pyroost.checkout.queued']).toBe(false);
    expect(checkout.status.code).toBe(SpanStatusCode.ERROR);
    expect(checkout.attributes['error.type']).toBe('queue_full');
  });

  it('traces a batch with one request span per frame', async () => {
    const pool = await startPool();
    const inputs = [1, 2, -3, 4, 5, 6].map((n) => ({ n }));
    const results = await pool.executeBatch('square', inputs, {
      sessionId: 'batch',
      chunkSize: 3,
    });
    expect(results.filter((item) => !item.ok)).toHaveLength(1);

    const spans = traceOf('pyroost.executeBatch square', 'batch');
    const root = only(spans, 'pyroost.executeBatch square');
    expect(root.attributes['pyroost.batch.size']).toBe(6);
    expect(root.attributes['pyroost.batch.failed']).toBe(1);
    const rootId = root.spanContext().spanId;
    const checkouts = spans.filter((span) => span.name === 'pyroost.checkout');
    const requests = spans.filter(
      (span) => span.name === 'pyroost.worker.request',
    );
    const pythons = spans.filter((span) => span.name === 'pyroost.python');
    expect(checkouts).toHaveLength(2);
    expect(requests).toHaveLength(2);
    expect(pythons).toHaveLength(2);
    for (const span of [...checkouts, ...requests]) {
      expect(parentId(span), span.name).toBe(rootId);
    }
    for (const span of requests) {
      expect(span.attributes['pyroost.command']).toBe('execute_batch');
    }
    const requestIds = requests.map((span) => span.spanContext().spanId);
    for (const span of pythons) expect(requestIds).toContain(parentId(span));
    for (const span of spans) {
      expect(span.attributes['session.id'], span.name).toBe('batch');
    }
  });

  it.skipIf(!PYTHON_HAS_OTEL_SDK)(
    "parents the program's own span on the request span",
    async () => {
      const pool = await startPool();
      const result = (await pool.executeProgram(
        'own_span',
        {},
        { sessionId: 'own' },
      )) as { trace_id: string; parent_span_id: string | null };

      const spans = traceOf('pyroost.execute own_span', 'own');
      const { request } = expectExecutionTree(spans, 'own_span', 'own');
      expect(result.trace_id).toBe(request.spanContext().traceId);
      expect(result.parent_span_id).toBe(request.spanContext().spanId);
    },
  );

  it('sends no trace context without a recording tracer', async () => {
    const pool = await startPool({
      tracerProvider: trace.getTracerProvider(),
    });
    const result = await pool.executeProgram('own_span', {});
    if (PYTHON_HAS_OTEL_SDK) {
      expect(result).toMatchObject({ parent_span_id: null });
    }
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });
});

describe('execution logs', () => {
  it('forwards stderr lines with session, worker and pid', async () => {
    // Many calls in a row on one worker: a line attributed to the next call
    // shows up as a wrong session id.
    const LINES = 20;
    const lines: LogLine[] = [];
    const pool = await startPool({ logger: recordingLogger(lines) });
    const pids = pool.workers().map((worker) => worker.pid);
    for (let i = 0; i < LINES; i += 1) {
      await pool.executeProgram(
        'noisy',
        { text: `stderr line ${i}` },
        { sessionId: `noisy-${i}` },
      );
    }
    await waitFor(
      () => lines.some((line) => line.message === `stderr line ${LINES - 1}`),
      'the last stderr line',
    );
    for (let i = 0; i < LINES; i += 1) {
      const line = lines.find((entry) => entry.message === `stderr line ${i}`);
      expect(line, `stderr line ${i}`).toBeDefined();
      expect(line!.fields.stream).toBe('stderr');
      expect(line!.fields.sessionId).toBe(`noisy-${i}`);
      expect(pids).toContain(line!.fields.pid);
      expect(line!.fields.workerId).toMatch(/^worker-\d+$/);
    }
  });

  it('logs a crash with session, worker and pid', async () => {
    const lines: LogLine[] = [];
    const pool = await startPool({ size: 1, logger: recordingLogger(lines) });
    const [worker] = pool.workers();
    await rejection(pool.executeProgram('crash', {}, { sessionId: 'crashed' }));
    const exitLine = lines.find((line) =>
      line.message.startsWith('worker exited unexpectedly'),
    );
    expect(exitLine).toBeDefined();
    expect(exitLine!.level).toBe('warn');
    expect(exitLine!.fields.sessionId).toBe('crashed');
    expect(exitLine!.fields.workerId).toBe(worker!.id);
    expect(exitLine!.fields.pid).toBe(worker!.pid);
  });

  it('logs a timeout with session, worker and pid', async () => {
    const lines: LogLine[] = [];
    const pool = await startPool({ size: 1, logger: recordingLogger(lines) });
    const [worker] = pool.workers();
    await rejection(
      pool.executeProgram(
        'sleep',
        { seconds: 10 },
        { sessionId: 'late', timeoutMs: 200 },
      ),
    );
    const line = lines.find(
      (entry) => entry.fields.errorType === 'execution_timeout',
    );
    expect(line).toBeDefined();
    expect(line!.fields.sessionId).toBe('late');
    expect(line!.fields.workerId).toBe(worker!.id);
    expect(line!.fields.pid).toBe(worker!.pid);
  });
});

describe('pool metrics', () => {
  function metric(
    collected: MetricData[],
    name: string,
  ): MetricData | undefined {
    return collected.find((data) => data.descriptor.name === name);
  }

  async function collect(reader: MetricReader): Promise<MetricData[]> {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  }

  it('records durations, errors by type and workers by state', async () => {
    const reader = new ManualReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const pool = await startPool({ meterProvider });
    await pool.executeProgram('square', { n: 2 }, { sessionId: 'm' });
    await pool.executeProgram('square', { n: 3 });
    await rejection(pool.executeProgram('square', { n: -1 }));
    await rejection(pool.executeProgram('square', { n: -2 }));
    await rejection(
      pool.executeProgram('sleep', { seconds: 10 }, { timeoutMs: 200 }),
    );
    // The timed-out worker is being replaced, so wait for the pool to be whole.
    await waitFor(() => pool.getStats().workers.idle === 2, 'two idle workers');

    const collected = await collect(reader);
    const duration = metric(collected, 'pyroost.execution.duration');
    expect(duration?.descriptor.unit).toBe('s');
    const durationPoints = duration!.dataPoints as DataPoint<Histogram>[];
    const countBy = (errorType: string | undefined): number =>
      durationPoints
        .filter((point) => point.attributes['error.type'] === errorType)
        .reduce((sum, point) => sum + point.value.count, 0);
    expect(countBy(undefined)).toBe(2);
    expect(countBy('program_error')).toBe(2);
    expect(countBy('execution_timeout')).toBe(1);
    const timeoutPoint = durationPoints.find(
      (point) => point.attributes['error.type'] === 'execution_timeout',
    );
    expect(timeoutPoint!.value.sum).toBeGreaterThanOrEqual(0.199);

    const errors = metric(collected, 'pyroost.execution.errors');
    const errorCount = (type: string): number =>
      (errors!.dataPoints as DataPoint<number>[])
        .filter((point) => point.attributes['error.type'] === type)
        .reduce((sum, point) => sum + point.value, 0);
    expect(errorCount('program_error')).toBe(2);
    expect(errorCount('execution_timeout')).toBe(1);

    const checkout = metric(collected, 'pyroost.pool.checkout.duration');
    expect(checkout?.descriptor.unit).toBe('s');
    const checkoutCount = (
      checkout!.dataPoints as DataPoint<Histogram>[]
    ).reduce((sum, point) => sum + point.value.count, 0);
    expect(checkoutCount).toBe(5);

    // A worker killed for the caller's timeout is replaced at once and is
    // not a restart: only unexpected exits count toward the restart limit.
    const restarts = metric(collected, 'pyroost.pool.restarts');
    const restartCount = (
      (restarts?.dataPoints ?? []) as DataPoint<number>[]
    ).reduce((sum, point) => sum + point.value, 0);
    expect(restartCount).toBe(0);
    expect(pool.getStats().totals.restarts).toBe(0);

    const workers = metric(collected, 'pyroost.pool.workers');
    const byState = Object.fromEntries(
      (workers!.dataPoints as DataPoint<number>[]).map((point) => [
        point.attributes['pyroost.worker.state'],
        point.value,
      ]),
    );
    expect(byState).toEqual({ starting: 0, idle: 2, busy: 0, stopping: 0 });
    const queue = metric(collected, 'pyroost.pool.queue.length');
    expect((queue!.dataPoints as DataPoint<number>[])[0]!.value).toBe(0);

    for (const data of collected) {
      for (const point of data.dataPoints) {
        expect(point.attributes['session.id'], data.descriptor.name).toBe(
          undefined,
        );
      }
    }
    await meterProvider.shutdown();
  });

  it('reports busy workers and queued callers while under load', async () => {
    const reader = new ManualReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const pool = await startPool({ size: 1, meterProvider });
    const calls = [0, 1, 2].map(() =>
      pool.executeProgram('sleep', { seconds: 1 }),
    );
    await waitFor(
      () => pool.getStats().queueLength === 2,
      'two queued callers',
    );
    const collected = await collect(reader);
    const workers = metric(collected, 'pyroost.pool.workers');
    const busy = (workers!.dataPoints as DataPoint<number>[]).find(
      (point) => point.attributes['pyroost.worker.state'] === 'busy',
    );
    expect(busy?.value).toBe(1);
    const queue = metric(collected, 'pyroost.pool.queue.length');
    expect((queue!.dataPoints as DataPoint<number>[])[0]!.value).toBe(2);
    await Promise.all(calls);
    await meterProvider.shutdown();
  });
});
