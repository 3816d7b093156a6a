import type {
  Attributes,
  BatchObservableCallback,
  Counter,
  Histogram,
  MeterProvider,
  ObservableGauge,
} from '@opentelemetry/api';
import { ATTR_SESSION_ID } from '@pyroost/worker';
import { getMeter } from './tracing.js';

interface StatsSnapshot {
  workers: { starting: number; idle: number; busy: number; stopping: number };
  queueLength: number;
}

function withSession(
  attributes: Attributes,
  sessionId: string | undefined,
): Attributes {
  return sessionId === undefined
    ? attributes
    : { ...attributes, [ATTR_SESSION_ID]: sessionId };
}

/**
 * The pool's OpenTelemetry instruments: workers by state and queue length
 * (observed gauges), checkout wait and execution duration (histograms in
 * seconds), restarts and errors by type (counters). With no meter provider
 * registered every call is a no-op.
 */
export class PoolMetrics {
  private readonly workers: ObservableGauge;
  private readonly queueLength: ObservableGauge;
  private readonly checkoutWait: Histogram;
  private readonly executionDuration: Histogram;
  private readonly restarts: Counter;
  private readonly errors: Counter;
  private readonly observe: BatchObservableCallback;
  private readonly meter;

  constructor(
    provider: MeterProvider | undefined,
    snapshot: () => StatsSnapshot,
  ) {
    this.meter = getMeter(provider);
    this.workers = this.meter.createObservableGauge('pyroost.pool.workers', {
      description: 'Workers in the pool, by state.',
      unit: '{worker}',
    });
    this.queueLength = this.meter.createObservableGauge(
      'pyroost.pool.queue.length',
      {
        description: 'Callers waiting for a free worker.',
        unit: '{caller}',
      },
    );
    this.checkoutWait = this.meter.createHistogram(
      'pyroost.pool.checkout.duration',
      {
        description: 'Time callers waited for a free worker.',
        unit: 's',
      },
    );
    this.executionDuration = this.meter.createHistogram(
      'pyroost.execution.duration',
      {
        description:
          'Time from call to result, including the wait for a worker.',
        unit: 's',
      },
    );
    this.restarts = this.meter.createCounter('pyroost.pool.restarts', {
      description: 'Workers replaced after an unexpected exit or failed start.',
      unit: '{restart}',
    });
    this.errors = this.meter.createCounter('pyroost.execution.errors', {
      description: 'Failed executions, by error type.',
      unit: '{error}',
    });
    this.observe = (result) => {
      const stats = snapshot();
      for (const [state, count] of Object.entries(stats.workers)) {
        result.observe(this.workers, count, { 'pyroost.worker.state': state });
      }
      result.observe(this.queueLength, stats.queueLength);
    };
    this.meter.addBatchObservableCallback(this.observe, [
      this.workers,
      this.queueLength,
    ]);
  }

  recordCheckoutWait(seconds: number, sessionId: string | undefined): void {
    this.checkoutWait.record(seconds, withSession({}, sessionId));
  }

  recordExecution(
    program: string,
    seconds: number,
    sessionId: string | undefined,
  ): void {
    this.executionDuration.record(
      seconds,
      withSession({ 'pyroost.program': program }, sessionId),
    );
  }

  recordRestart(): void {
    this.restarts.add(1);
  }

  recordError(
    type: string,
    program: string,
    sessionId: string | undefined,
  ): void {
    this.errors.add(
      1,
      withSession(
        { 'error.type': type, 'pyroost.program': program },
        sessionId,
      ),
    );
  }

  shutdown(): void {
    this.meter.removeBatchObservableCallback(this.observe, [
      this.workers,
      this.queueLength,
    ]);
  }
}
