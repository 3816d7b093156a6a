import { SpanKind, context, trace, type Span } from '@opentelemetry/api';
import {
  Pool,
  type PoolOptions,
  type PoolStats,
  type SessionInfo,
} from '@pyroost/pool';
import { PyroostError, describeValue } from '@pyroost/protocol';
import {
  PoolMonitor,
  PoolSupervisor,
  type PoolMonitorOptions,
  type PoolSupervisorOptions,
} from '@pyroost/supervisor';
import {
  ATTR_SESSION_ID,
  recordFailure,
  type BatchResult,
} from '@pyroost/worker';
import { getTracer } from './tracing.js';

/**
 * Options of `PythonPool.start`: the pool options (size, overflow, queue,
 * timeouts, recycling), the supervisor's restart limits and the monitor's
 * health-check settings, all in one object.
 */
export interface PythonPoolOptions
  extends
    Omit<PoolOptions, 'restartPolicy'>,
    Omit<PoolSupervisorOptions, 'logger'>,
    Omit<PoolMonitorOptions, 'logger'> {}

/** Per-call options of `executeProgram`. */
export interface ExecuteProgramOptions {
  /** Session the call belongs to; it is added to spans, logs, metrics and errors. */
  sessionId?: string;
  /** Execution timeout in ms. Default: the pool's `timeoutMs` (30,000). */
  timeoutMs?: number;
  /** Longest wait for a free worker in ms. Default: the pool's `checkoutTimeoutMs` (5,000). */
  checkoutTimeoutMs?: number;
  /** Aborts the call while it is queued or running. */
  signal?: AbortSignal;
}

/** Per-call options of `executeBatch`. */
export interface ExecuteBatchOptions extends ExecuteProgramOptions {
  /**
   * Inputs sent per frame. Default: the list split evenly over the pool's
   * workers, at most 1,000 per frame. `timeoutMs` applies to each frame.
   */
  chunkSize?: number;
}

/** Result of `healthCheck`. */
export interface HealthReport {
  /**
   * `healthy`: all `size` workers are up and no restart limit was hit.
   * `degraded`: fewer workers than `size` (restarts in progress) or callers queued.
   * `unhealthy`: the pool is closed or stopped replacing workers.
   */
  status: 'healthy' | 'degraded' | 'unhealthy';
  workers: PoolStats['workers'];
  size: number;
  queueLength: number;
  restartsInWindow: number;
  /** Why the status is not `healthy`. */
  reasons: string[];
}

/** Pool statistics plus the supervisor's view. */
export interface PythonPoolStats extends PoolStats {
  restartsInWindow: number;
}

const MAX_CHUNK_SIZE = 1_000;

/**
 * The entry point of pyroost: a supervised pool of Python workers that runs
 * named Python programs. It combines `Pool` with `PoolSupervisor` (restart
 * back-off and intensity limit) and `PoolMonitor` (health checks, session
 * expiry), and traces each call as `pyroost.execute <program>`.
 *
 * ```ts
 * await using pool = await PythonPool.start({ programs: ['./programs.py'] });
 * const stats = await pool.executeProgram('word_stats', { text: 'a b a' });
 * ```
 */
export class PythonPool implements AsyncDisposable {
  private constructor(
    private readonly pool: Pool,
    private readonly supervisor: PoolSupervisor,
    private readonly monitor: PoolMonitor,
    private readonly options: PythonPoolOptions,
  ) {}

  /**
   * Starts the workers in parallel and resolves once each has answered a
   * ping. Rejects with the first worker's start error (`spawn_failed`,
   * `start_timeout`, `program_error`, `program_not_found`), after killing the
   * others.
   */
  static async start(options: PythonPoolOptions): Promise<PythonPool> {
    if (typeof options !== 'object' || options === null) {
      throw new PyroostError({
        type: 'invalid_input',
        message: `PythonPool.start needs an options object with programs, got ${describeValue(options)}.`,
      });
    }
    const supervisor = new PoolSupervisor({
      ...options,
      logger: options.logger,
    });
    const pool = await Pool.start({ ...options, restartPolicy: supervisor });
    const monitor = new PoolMonitor(pool, {
      ...options,
      logger: options.logger,
    }).start();
    return new PythonPool(pool, supervisor, monitor, options);
  }

  /** Names of the registered programs. */
  get programs(): readonly string[] {
    return this.pool.programs;
  }

  /** The underlying pool, for advanced use (events, workers list). */
  get rawPool(): Pool {
    return this.pool;
  }

  /**
   * Runs a registered program with keyword arguments on any free worker and
   * resolves with its return value. Rejects with a `PyroostError`.
   */
  executeProgram(
    program: string,
    inputs: Record<string, unknown> = {},
    options: ExecuteProgramOptions = {},
  ): Promise<unknown> {
    // An explicit `undefined` is a caller bug; only an omitted argument means no inputs.
    const given =
      arguments.length > 1 && arguments[1] === undefined ? undefined : inputs;
    const { sessionId } = options;
    return this.traced(`pyroost.execute ${program}`, program, sessionId, () =>
      sessionId === undefined
        ? this.pool.executeAnonymous(
            program,
            given as Record<string, unknown>,
            options,
          )
        : this.pool.executeInSession(
            sessionId,
            program,
            given as Record<string, unknown>,
            options,
          ),
    );
  }

  /**
   * Runs a program once per inputs object and resolves with a result or an
   * error per item, in order. The list is sent in frames of `chunkSize`
   * inputs, spread over the workers; each frame runs its items in sequence
   * in one worker. A frame that fails as a whole (timeout, crash) gives its
   * error to each of its items.
   */
  async executeBatch(
    program: string,
    inputsList: Record<string, unknown>[],
    options: ExecuteBatchOptions = {},
  ): Promise<BatchResult[]> {
    if (!Array.isArray(inputsList)) {
      throw new PyroostError({
        type: 'invalid_input',
        message: `executeBatch needs an array of inputs objects, got ${describeValue(inputsList)}.`,
        context: { program, sessionId: options.sessionId },
      });
    }
    if (inputsList.length === 0) return [];
    const chunkSize =
      options.chunkSize ??
      Math.min(MAX_CHUNK_SIZE, Math.ceil(inputsList.length / this.pool.size));
    const chunks: Record<string, unknown>[][] = [];
    for (let start = 0; start < inputsList.length; start += chunkSize) {
      chunks.push(inputsList.slice(start, start + chunkSize));
    }

    return this.traced(
      `pyroost.executeBatch ${program}`,
      program,
      options.sessionId,
      async (span) => {
        span.setAttribute('pyroost.batch.size', inputsList.length);
        const settled = await Promise.all(
          chunks.map((chunk) =>
            this.pool.executeBatch(program, chunk, options).then(
              (results) => results,
              (error: PyroostError) =>
                chunk.map((): BatchResult => ({ ok: false, error })),
            ),
          ),
        );
        const results = settled.flat();
        span.setAttribute(
          'pyroost.batch.failed',
          results.filter((item) => !item.ok).length,
        );
        return results;
      },
    );
  }

  /** Reports `healthy`, `degraded` or `unhealthy` with the reasons. */
  async healthCheck(): Promise<HealthReport> {
    const stats = this.pool.stats();
    const reasons: string[] = [];
    let status: HealthReport['status'] = 'healthy';
    const alive = stats.workers.idle + stats.workers.busy;
    if (stats.closed) reasons.push('the pool is closed');
    if (this.supervisor.exhausted || stats.replacementStopped) {
      const last = this.supervisor.lastFailure;
      const error = last?.startError ?? last?.reason;
      reasons.push(
        `restart intensity exceeded (${this.supervisor.maxRestarts} in ${this.supervisor.restartWindowMs} ms)` +
          (error ? `; last error: ${error.message}` : ''),
      );
    }
    if (reasons.length > 0) status = 'unhealthy';
    else {
      const core = Math.min(alive, stats.size);
      if (core < stats.size)
        reasons.push(`${core} of ${stats.size} workers are up`);
      if (stats.queueLength > 0)
        reasons.push(`${stats.queueLength} callers are waiting for a worker`);
      if (reasons.length > 0) status = 'degraded';
    }
    return {
      status,
      workers: stats.workers,
      size: stats.size,
      queueLength: stats.queueLength,
      restartsInWindow: this.supervisor.restartsInWindow(),
      reasons,
    };
  }

  /** Worker counts by state, queue length, totals, errors by type, latency percentiles. */
  getStats(): PythonPoolStats {
    return {
      ...this.pool.stats(),
      restartsInWindow: this.supervisor.restartsInWindow(),
    };
  }

  /** Sessions seen so far, for observability. */
  sessions(): SessionInfo[] {
    return this.pool.sessions();
  }

  /** Live workers with ids and pids. */
  workers(): ReturnType<Pool['workers']> {
    return this.pool.workers();
  }

  /**
   * Closes the pool. Graceful (default) lets calls in flight finish; forced
   * kills the workers at once. Queued callers reject with `pool_closed`.
   * Resolves once no Python process of the pool is left.
   */
  async close(
    options: { graceful?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    this.monitor.stop();
    await this.pool.close(options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async traced<T>(
    name: string,
    program: string,
    sessionId: string | undefined,
    run: (span: Span) => Promise<T>,
  ): Promise<T> {
    const tracer = getTracer(this.options.tracerProvider);
    const span = tracer.startSpan(name, {
      kind: SpanKind.INTERNAL,
      attributes: {
        'pyroost.program': program,
        ...(sessionId === undefined ? {} : { [ATTR_SESSION_ID]: sessionId }),
      },
    });
    try {
      return await context.with(trace.setSpan(context.active(), span), () =>
        run(span),
      );
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  }
}
