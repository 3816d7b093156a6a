import {
  SpanKind,
  context,
  trace,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import {
  Pool,
  type PoolOptions,
  type PoolStats,
  type SessionInfo,
} from '@pyroost/pool';
import { PyroostError, describeValue, encodeJson } from '@pyroost/protocol';
import {
  PoolMonitor,
  PoolSupervisor,
  type PoolMonitorOptions,
  type PoolSupervisorOptions,
} from '@pyroost/supervisor';
import {
  checkDurationMs,
  isPlainObject,
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
  /** Maximum wait for a free worker in ms. Default: the pool's `checkoutTimeoutMs` (5,000). */
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
  /** Reasons the status is not `healthy`. */
  reasons: string[];
}

/** Pool statistics plus the supervisor's view. */
export interface PythonPoolStats extends PoolStats {
  restartsInWindow: number;
}

const MAX_CHUNK_SIZE = 1_000;

/** Every option `PythonPool.start` reads; anything else is a typo. */
const OPTION_NAMES: ReadonlySet<string> = new Set([
  'programs',
  'python',
  'env',
  'cwd',
  'startTimeoutMs',
  'killGraceMs',
  'maxFrameBytes',
  'stderrBufferBytes',
  'size',
  'overflow',
  'idleTimeoutMs',
  'maxQueue',
  'checkoutTimeoutMs',
  'timeoutMs',
  'maxTasksPerWorker',
  'maxMemoryMb',
  'logger',
  'tracerProvider',
  'meterProvider',
  'maxRestarts',
  'restartWindowMs',
  'initialBackoffMs',
  'maxBackoffMs',
  'healthCheckIntervalMs',
  'healthCheckTimeoutMs',
  'sessionTtlMs',
]);

/** Every option of `executeProgram`. */
const CALL_OPTION_NAMES: ReadonlySet<string> = new Set([
  'sessionId',
  'timeoutMs',
  'checkoutTimeoutMs',
  'signal',
]);

/** Every option of `executeBatch`. */
const BATCH_OPTION_NAMES: ReadonlySet<string> = new Set([
  ...CALL_OPTION_NAMES,
  'chunkSize',
]);

/** Throws `invalid_input` naming each own key of `options` that is not in `names`. */
function checkOptionNames(
  options: object,
  names: ReadonlySet<string>,
  of: string,
): void {
  // Runs on every call, so the usual case of known keys allocates nothing.
  let allKnown = true;
  for (const name in options) {
    if (Object.hasOwn(options, name) && !names.has(name)) allKnown = false;
  }
  if (allKnown) return;
  const unknown = Object.keys(options).filter((name) => !names.has(name));
  throw new PyroostError({
    type: 'invalid_input',
    message:
      `Unknown ${of} option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; ` +
      `the options are ${[...names].join(', ')}.`,
    context: { unknown },
  });
}

function checkChunkSize(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new PyroostError({
      type: 'invalid_input',
      message: `Option chunkSize must be an integer >= 1, got ${describeValue(value)}.`,
      context: { option: 'chunkSize' },
    });
  }
  return value;
}

function notAnOptionsObject(options: unknown): PyroostError {
  return new PyroostError({
    type: 'invalid_input',
    message: `Options must be an object or omitted, got ${describeValue(options)}.`,
  });
}

/** Returns the span name for a call of `program`, whatever the caller passed as its name. */
function spanName(operation: string, program: unknown): string {
  return typeof program === 'string' ? `${operation} ${program}` : operation;
}

function notAnInputsObject(
  program: string,
  index: number,
  inputs: unknown,
): PyroostError {
  return new PyroostError({
    type: 'invalid_input',
    message:
      `Batch item ${index} of program "${program}" must be a plain object of keyword ` +
      `arguments, got ${describeValue(inputs)}.`,
    context: { program, index },
  });
}

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
  /** The provider that `tracer` came from (see `currentTracer`). */
  private tracerSource: TracerProvider | undefined;
  private tracer: Tracer | undefined;

  private constructor(
    private readonly pool: Pool,
    private readonly supervisor: PoolSupervisor,
    private readonly monitor: PoolMonitor,
    private readonly options: PythonPoolOptions,
  ) {}

  /**
   * Starts the workers in parallel and resolves once each has responded to a
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
    checkOptionNames(options, OPTION_NAMES, 'PythonPool');
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
    if (typeof options !== 'object' || options === null) {
      return Promise.reject(notAnOptionsObject(options));
    }
    let sessionId: string | undefined;
    try {
      checkOptionNames(options, CALL_OPTION_NAMES, 'executeProgram');
      // Reading an option may run a getter of the caller's, which may throw.
      sessionId = options.sessionId;
    } catch (error) {
      return Promise.reject(error);
    }
    // The pool rejects a program name that is not a string and counts the
    // call in its stats, so here only the span name must handle one.
    return this.traced(
      spanName('pyroost.execute', program),
      program,
      sessionId,
      () =>
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
    if (typeof options !== 'object' || options === null) {
      throw notAnOptionsObject(options);
    }
    checkOptionNames(options, BATCH_OPTION_NAMES, 'executeBatch');
    if (typeof program !== 'string' || program === '') {
      throw new PyroostError({
        type: 'invalid_input',
        message: `Program name must be a non-empty string, got ${describeValue(program)}.`,
        context: { sessionId: options.sessionId },
      });
    }
    if (!Array.isArray(inputsList)) {
      throw new PyroostError({
        type: 'invalid_input',
        message: `executeBatch needs an array of inputs objects, got ${describeValue(inputsList)}.`,
        context: { program, sessionId: options.sessionId },
      });
    }
    if (inputsList.length === 0) return [];
    const chunkSize =
      checkChunkSize(options.chunkSize) ??
      this.defaultChunkSize(inputsList.length);

    // Items that are not plain objects fail on their own, with their index,
    // and the rest of the list still runs.
    const results: (BatchResult | undefined)[] = new Array(inputsList.length);
    const runnable: number[] = [];
    // A plain loop, because forEach skips the holes of a sparse array, which
    // would leave holes in the results too.
    for (let index = 0; index < inputsList.length; index += 1) {
      const inputs: unknown = inputsList[index];
      if (isPlainObject(inputs)) runnable.push(index);
      else
        results[index] = {
          ok: false,
          error: notAnInputsObject(program, index, inputs),
        };
    }
    const chunks: number[][] = [];
    for (let start = 0; start < runnable.length; start += chunkSize) {
      chunks.push(runnable.slice(start, start + chunkSize));
    }

    return this.traced(
      `pyroost.executeBatch ${program}`,
      program,
      options.sessionId,
      async (span) => {
        span.setAttribute('pyroost.batch.size', inputsList.length);
        await this.runChunks(program, inputsList, chunks, results, options);
        const settled = results as BatchResult[];
        span.setAttribute(
          'pyroost.batch.failed',
          settled.filter((item) => !item.ok).length,
        );
        return settled;
      },
    );
  }

  /**
   * Sends the chunks over at most one lane per worker, so a long batch does
   * not fill the wait queue with its own frames and time them out there.
   */
  private async runChunks(
    program: string,
    inputsList: Record<string, unknown>[],
    chunks: number[][],
    results: (BatchResult | undefined)[],
    options: ExecuteBatchOptions,
  ): Promise<void> {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < chunks.length) {
        const indexes = chunks[next] as number[];
        next += 1;
        const items = indexes.map(
          (index) => inputsList[index] as Record<string, unknown>,
        );
        let chunkResults: BatchResult[];
        try {
          chunkResults = await this.pool.executeBatch(program, items, options);
        } catch (error) {
          chunkResults = await this.isolateChunkFailure(
            program,
            items,
            options,
            error,
          );
        }
        indexes.forEach((index, position) => {
          results[index] = chunkResults[position];
        });
      }
    };
    const lanes = Math.min(chunks.length, this.pool.size + this.pool.overflow);
    await Promise.all(Array.from({ length: lanes }, lane));
  }

  /**
   * Gives each item of a failed chunk its own outcome. When the chunk failed
   * on its inputs before anything was sent (an item JSON cannot carry), the
   * items are checked one by one: the bad ones fail alone with their index,
   * and the good ones are sent again together. Any other failure (timeout,
   * crash) applies to the whole chunk.
   */
  private async isolateChunkFailure(
    program: string,
    items: Record<string, unknown>[],
    options: ExecuteBatchOptions,
    error: unknown,
  ): Promise<BatchResult[]> {
    const failure = error as PyroostError;
    if (failure.type !== 'invalid_input' || items.length === 1) {
      return items.map(() => ({ ok: false, error: failure }));
    }
    const results: (BatchResult | undefined)[] = new Array(items.length);
    const good: number[] = [];
    items.forEach((item, position) => {
      try {
        encodeJson(item);
        good.push(position);
      } catch (itemError) {
        const itemFailure = itemError as PyroostError;
        itemFailure.context.index = position;
        results[position] = { ok: false, error: itemFailure };
      }
    });
    if (good.length > 0) {
      let rerun: BatchResult[];
      try {
        rerun = await this.pool.executeBatch(
          program,
          good.map((position) => items[position] as Record<string, unknown>),
          options,
        );
      } catch (rerunError) {
        rerun = good.map(() => ({
          ok: false,
          error: rerunError as PyroostError,
        }));
      }
      good.forEach((position, index) => {
        results[position] = rerun[index];
      });
    }
    return results as BatchResult[];
  }

  private defaultChunkSize(items: number): number {
    return Math.max(
      1,
      Math.min(MAX_CHUNK_SIZE, Math.ceil(items / this.pool.size)),
    );
  }

  /**
   * Reports `healthy`, `degraded` or `unhealthy` with the reasons. Unless
   * `ping` is false, it first pings every idle worker (busy ones are left
   * alone) and replaces those that do not respond within `pingTimeoutMs`
   * (default 2,000), which makes the status `degraded`.
   */
  async healthCheck(
    options: { ping?: boolean; pingTimeoutMs?: number } = {},
  ): Promise<HealthReport> {
    const reasons: string[] = [];
    if (options.ping ?? true) {
      const pingTimeoutMs = checkDurationMs(
        'pingTimeoutMs',
        options.pingTimeoutMs,
        2_000,
      );
      const failed = this.pool.isClosed
        ? []
        : await this.pool.pingIdleWorkers(pingTimeoutMs);
      for (const workerId of failed) {
        reasons.push(
          `${workerId} did not answer a ping within ${pingTimeoutMs} ms and is being replaced`,
        );
      }
    }
    const stats = this.pool.stats();
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
    if (stats.closed || this.supervisor.exhausted || stats.replacementStopped)
      status = 'unhealthy';
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
    if (typeof options !== 'object' || options === null) {
      throw notAnOptionsObject(options);
    }
    this.monitor.stop();
    await this.pool.close(options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Returns the tracer of the configured provider, or of the global one. It
   * is kept while the provider stays the same, so a call does not ask the
   * provider again.
   */
  private currentTracer(): Tracer {
    const source = this.options.tracerProvider ?? trace.getTracerProvider();
    if (this.tracer === undefined || source !== this.tracerSource) {
      this.tracer = getTracer(source);
      this.tracerSource = source;
    }
    return this.tracer;
  }

  private async traced<T>(
    name: string,
    program: string,
    sessionId: string | undefined,
    run: (span: Span) => Promise<T>,
  ): Promise<T> {
    const tracer = this.currentTracer();
    const span = tracer.startSpan(name, {
      kind: SpanKind.INTERNAL,
      attributes: {
        ...(typeof program === 'string' ? { 'pyroost.program': program } : {}),
        ...(typeof sessionId === 'string'
          ? { [ATTR_SESSION_ID]: sessionId }
          : {}),
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
