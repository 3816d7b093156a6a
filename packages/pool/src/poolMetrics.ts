import type {
  Attributes,
  BatchObservableCallback,
  Counter,
  Histogram,
  Meter,
  MeterProvider,
  ObservableGauge,
} from '@opentelemetry/api';
import { getMeter } from './tracing.js';

interface StatsSnapshot {
  workers: { starting: number; idle: number; busy: number; stopping: number };
  queueLength: number;
}

/** Worker states reported by the `pyroost.pool.workers` gauge. */
const WORKER_STATES = ['starting', 'idle', 'busy', 'stopping'] as const;

/**
 * Bucket bounds in seconds for the duration histograms: from 1 ms (a warm
 * call to a small program) to 5 minutes (a long model run). The SDK default
 * buckets are sized for milliseconds and would put most calls in the first.
 */
export const DURATION_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
  60, 120, 300,
];

/**
 * The pool's OpenTelemetry instruments: workers by state and queue length
 * (observable gauges), checkout wait and execution duration (histograms in
 * seconds), restarts and errors by type (counters). With no meter provider
 * registered every call is a no-op.
 *
 * Session ids are left out of metric attributes on purpose: each session
 * would start its own time series, and the number of sessions is unbounded.
 * Spans and logs carry the session id instead.
 */
export class PoolMetrics {
  private readonly meter: Meter;
  private readonly workers: ObservableGauge;
  private readonly queueLength: ObservableGauge;
  private readonly checkoutWait: Histogram;
  private readonly executionDuration: Histogram;
  private readonly restarts: Counter;
  private readonly errors: Counter;
  private readonly observe: BatchObservableCallback;

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
        description:
          'Time a caller waited for a free worker, 0 when one was idle.',
        unit: 's',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS_SECONDS },
      },
    );
    this.executionDuration = this.meter.createHistogram(
      'pyroost.execution.duration',
      {
        description:
          'Time from call to result or error, including the wait for a worker.',
        unit: 's',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS_SECONDS },
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
      for (const state of WORKER_STATES) {
        result.observe(this.workers, stats.workers[state], {
          'pyroost.worker.state': state,
        });
      }
      result.observe(this.queueLength, stats.queueLength);
    };
    this.meter.addBatchObservableCallback(this.observe, [
      this.workers,
      this.queueLength,
    ]);
  }

  /** Records one checkout's wait for a worker, in seconds. */
  recordCheckoutWait(seconds: number): void {
    this.checkoutWait.record(seconds);
  }

  /**
   * Records one execution's duration in seconds. A failed execution also
   * gets `error.type`, which separates failures from successes.
   */
  recordExecution(
    program: string,
    seconds: number,
    errorType: string | undefined,
  ): void {
    const attributes: Attributes = { 'pyroost.program': program };
    if (errorType !== undefined) attributes['error.type'] = errorType;
    this.executionDuration.record(seconds, attributes);
  }

  /** Counts one replacement of a lost worker. */
  recordRestart(): void {
    this.restarts.add(1);
  }

  /** Counts one failed execution by its PyroostError type. */
  recordError(type: string, program: string): void {
    this.errors.add(1, { 'error.type': type, 'pyroost.program': program });
  }

  /** Stops observing the pool's gauges; the pool calls it on close. */
  shutdown(): void {
    this.meter.removeBatchObservableCallback(this.observe, [
      this.workers,
      this.queueLength,
    ]);
  }
}
