import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import {
  SpanKind,
  context,
  trace,
  type MeterProvider,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import {
  PyroostError,
  describeValue,
  isPyroostError,
  type ErrorType,
} from '@pyroost/protocol';
import {
  ATTR_SESSION_ID,
  EncodedInputs,
  PythonWorker,
  recordFailure,
  checkDurationMs,
  checkInteger,
  checkSignal,
  checkProvider,
  toSafeLogger,
  type BatchResult,
  type Logger,
  type PythonWorkerOptions,
  type WorkerExit,
} from '@pyroost/worker';
import { LatencyWindow, type LatencySummary } from './latencyWindow.js';
import { PoolMetrics } from './poolMetrics.js';
import { SessionRegistry, type SessionInfo } from './sessionRegistry.js';
import { getTracer } from './tracing.js';
import {
  QueuedCaller,
  type QueueHost,
  type Waiter as QueueWaiter,
} from './queuedCaller.js';
import { WaitQueue } from './waitQueue.js';

/** Options of `Pool.start`. Worker options are passed to every worker. */
export interface PoolOptions extends Omit<
  PythonWorkerOptions,
  'id' | 'logger' | 'tracerProvider'
> {
  /** Workers kept running. Default: `os.availableParallelism()`. */
  size?: number;
  /** Extra temporary workers started under load, stopped after `idleTimeoutMs`. Default 2. */
  overflow?: number;
  /** Idle time after which an overflow worker stops, in ms. Default 30,000. */
  idleTimeoutMs?: number;
  /** Callers allowed to wait for a worker; past it calls reject with `queue_full`. Default 1,000. */
  maxQueue?: number;
  /** Maximum wait for a free worker, in ms. Default 5,000. */
  checkoutTimeoutMs?: number;
  /** Default execution timeout, in ms. Default 30,000. */
  timeoutMs?: number;
  /** Requests after which a worker is replaced (with up to 10% jitter). Default: never. */
  maxTasksPerWorker?: number;
  /** Resident memory after which a worker is replaced at checkin, in MB. Default: no limit. */
  maxMemoryMb?: number;
  /** Decides when a lost worker is replaced. Default: after 100 ms, always. */
  restartPolicy?: RestartPolicy;
  /** pino-compatible logger. Default: silent. */
  logger?: Logger;
  /** Default: the global tracer provider. */
  tracerProvider?: TracerProvider;
  /** Default: the global meter provider. */
  meterProvider?: MeterProvider;
}

/** Per-call options. */
export interface ExecuteOptions {
  /** Execution timeout in ms; overrides the pool's `timeoutMs`. */
  timeoutMs?: number;
  /** Aborts the call while it waits in the queue or runs. */
  signal?: AbortSignal;
  /** Maximum wait for a free worker in ms. Overrides the pool's `checkoutTimeoutMs`. */
  checkoutTimeoutMs?: number;
}

/** Reason a worker left the pool. */
export interface WorkerLoss {
  workerId: string;
  pid: number | undefined;
  /** The failure that ended it; undefined for a worker that could not start. */
  reason: PyroostError | undefined;
  /** Set when a replacement failed to start. */
  startError?: PyroostError;
}

/**
 * Decides whether and when the pool replaces a core worker that exited
 * unexpectedly or failed to start. `PoolSupervisor` implements it with
 * exponential back-off and a restart intensity limit.
 */
export interface RestartPolicy {
  /** Returns the delay in ms before starting a replacement, or null to stop replacing. */
  onWorkerLost(loss: WorkerLoss): number | null;
  /** Called when a replacement worker has started. */
  onWorkerStarted?(): void;
  /**
   * After `onWorkerLost` returned null: the delay in ms before the pool
   * tries one replacement again, or undefined to never try again.
   */
  resumeAfterMs?(): number | undefined;
}

/** Worker counts by state, queue length, totals and latency. */
export interface PoolStats {
  size: number;
  overflow: number;
  workers: {
    starting: number;
    idle: number;
    busy: number;
    stopping: number;
    total: number;
  };
  queueLength: number;
  maxQueue: number;
  sessions: number;
  totals: {
    executions: number;
    succeeded: number;
    failed: number;
    restarts: number;
    recycled: number;
    overflowStarted: number;
  };
  errorsByType: Partial<Record<ErrorType, number>>;
  latencyMs: LatencySummary;
  checkoutWaitMs: LatencySummary;
  /** True once the restart policy has given up on replacing workers. */
  replacementStopped: boolean;
  closed: boolean;
}

interface Member {
  worker: PythonWorker;
  kind: 'core' | 'overflow';
  tasks: number;
  maxTasks: number;
  checkedOut: boolean;
  retiring: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

type Waiter = QueueWaiter<Member>;

const DEFAULT_RESTART_DELAY_MS = 100;
const MAX_TASKS_JITTER = 0.1;

const defaultRestartPolicy: RestartPolicy = {
  onWorkerLost: () => DEFAULT_RESTART_DELAY_MS,
};

function checkMemoryMb(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new PyroostError({
      type: 'invalid_input',
      message: `Option maxMemoryMb must be a number of megabytes > 0, got ${describeValue(value)}.`,
      context: { option: 'maxMemoryMb' },
    });
  }
  return value;
}

/** Checks the per-call options before the call queues or reaches Python. */
/**
 * Maximum number of workers in one pool, core and overflow together. Each is
 * a Python process of at least a dozen MB, so the bound turns a mistyped size
 * such as 1e6 into an error instead of spawning until memory runs out.
 */
const MAX_WORKERS = 1_024;

function checkCallOptions(options: ExecuteOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new PyroostError({
      type: 'invalid_input',
      message: `Call options must be an object, got ${describeValue(options)}.`,
    });
  }
  checkSignal(options.signal);
  checkDurationMs('timeoutMs', options.timeoutMs, undefined, {
    allowInfinity: true,
  });
  checkDurationMs('checkoutTimeoutMs', options.checkoutTimeoutMs, undefined);
}

/**
 * A pool of Python workers. Callers check out any free worker (sessions never
 * pin one), wait in a bounded FIFO queue when none is free, and the worker is
 * checked back in or replaced after the call. A worker that timed out,
 * crashed or broke the protocol is never reused.
 *
 * Events: `workerStarted` (worker), `workerExited` (worker, WorkerExit),
 * `replacementStopped` (WorkerLoss).
 */
export class Pool extends EventEmitter {
  readonly size: number;
  readonly overflow: number;
  readonly maxQueue: number;
  readonly checkoutTimeoutMs: number;
  readonly timeoutMs: number | undefined;
  readonly idleTimeoutMs: number;

  private readonly workerOptions: Omit<PythonWorkerOptions, 'id'>;
  private readonly maxTasksPerWorker: number | undefined;
  private readonly maxMemoryBytes: number | undefined;
  private readonly restartPolicy: RestartPolicy;
  private readonly logger: Logger;
  private readonly tracerProvider: TracerProvider | undefined;
  /** The provider that `tracer` came from (see `currentTracer`). */
  private tracerSource: TracerProvider | undefined;
  private tracer: Tracer | undefined;
  private readonly members = new Set<Member>();
  private readonly idle: Member[] = [];
  private readonly waiters = new WaitQueue<Waiter>();
  /** Callbacks of the queued callers, shared by all of them. */
  private readonly queueHost: QueueHost<Member> = {
    leave: (waiter) =>
      waiter.node !== undefined && this.waiters.remove(waiter.node),
    recordWait: (waitedMs) => {
      this.checkoutWait.record(waitedMs);
      this.metrics.recordCheckoutWait(waitedMs / 1000);
    },
    workerId: (member) => member.worker.id,
    timeoutError: (checkoutTimeoutMs, sessionId) =>
      new PyroostError({
        type: 'checkout_timeout',
        message:
          `No worker became free within ${checkoutTimeoutMs} ms (pool size ${this.size}, ` +
          `overflow ${this.overflow}, ${this.waiters.length - 1} other callers queued). ` +
          'Raise checkoutTimeoutMs or size, or send fewer concurrent calls.',
        context: {
          checkoutTimeoutMs,
          size: this.size,
          overflow: this.overflow,
          queueLength: this.waiters.length,
          sessionId,
        },
      }),
    abortError: (sessionId, signal) =>
      this.abortedWhileQueued(sessionId, signal),
  };
  private readonly sessionRegistry = new SessionRegistry();
  private readonly latency = new LatencyWindow();
  private readonly checkoutWait = new LatencyWindow();
  private readonly metrics: PoolMetrics;
  private readonly pendingRestarts = new Set<NodeJS.Timeout>();
  private probeTimer: NodeJS.Timeout | undefined;
  private startingCore = 0;
  private startingOverflow = 0;
  private programNames: readonly string[] = [];
  private closed = false;
  private replacementStopped = false;
  private lastLoss: WorkerLoss | undefined;
  private readonly totals = {
    executions: 0,
    succeeded: 0,
    failed: 0,
    restarts: 0,
    recycled: 0,
    overflowStarted: 0,
  };
  private readonly errorsByType: Partial<Record<ErrorType, number>> = {};

  private constructor(options: PoolOptions) {
    super();
    this.size = checkInteger(
      'size',
      options.size,
      availableParallelism(),
      1,
      MAX_WORKERS,
    );
    this.overflow = checkInteger(
      'overflow',
      options.overflow,
      2,
      0,
      MAX_WORKERS - this.size,
    );
    checkProvider('tracerProvider', options.tracerProvider, 'getTracer');
    checkProvider('meterProvider', options.meterProvider, 'getMeter');
    this.maxQueue = checkInteger('maxQueue', options.maxQueue, 1_000, 0);
    this.checkoutTimeoutMs = checkDurationMs(
      'checkoutTimeoutMs',
      options.checkoutTimeoutMs,
      5_000,
    );
    this.timeoutMs = checkDurationMs('timeoutMs', options.timeoutMs, 30_000, {
      allowInfinity: true,
    });
    this.idleTimeoutMs = checkDurationMs(
      'idleTimeoutMs',
      options.idleTimeoutMs,
      30_000,
    );
    this.maxTasksPerWorker = checkInteger(
      'maxTasksPerWorker',
      options.maxTasksPerWorker,
      undefined,
      1,
    );
    this.maxMemoryBytes =
      options.maxMemoryMb === undefined
        ? undefined
        : (checkMemoryMb(options.maxMemoryMb) as number) * 1024 * 1024;
    this.restartPolicy = options.restartPolicy ?? defaultRestartPolicy;
    this.logger = toSafeLogger(options.logger);
    this.tracerProvider = options.tracerProvider;
    this.workerOptions = {
      programs: options.programs,
      python: options.python,
      env: options.env,
      cwd: options.cwd,
      startTimeoutMs: options.startTimeoutMs,
      killGraceMs: options.killGraceMs,
      maxFrameBytes: options.maxFrameBytes,
      stderrBufferBytes: options.stderrBufferBytes,
      logger: this.logger,
      tracerProvider: options.tracerProvider,
    };
    this.metrics = new PoolMetrics(options.meterProvider, () => this.stats());
  }

  /**
   * Starts a pool: all `size` workers spawn in parallel and must respond to a ping
   * before it resolves. If any fails, the others are killed and the promise
   * rejects with that worker's error; nothing keeps retrying in the background.
   */
  static async start(options: PoolOptions): Promise<Pool> {
    const pool = new Pool(options);
    const results = await Promise.allSettled(
      Array.from({ length: pool.size }, () => pool.startWorker('core')),
    );
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) {
      await pool.close({ graceful: false });
      throw (failure as PromiseRejectedResult).reason;
    }
    for (const result of results) {
      if (result.status === 'fulfilled') pool.release(result.value);
    }
    pool.logger.info(
      { size: pool.size, overflow: pool.overflow },
      'pool started',
    );
    return pool;
  }

  /** Names of the registered programs, as reported by the workers. */
  get programs(): readonly string[] {
    return this.programNames;
  }

  /** Whether `close` has been called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs a program on any free worker, on behalf of a session. */
  executeInSession(
    sessionId: string,
    program: string,
    inputs: Record<string, unknown> = {},
    options: ExecuteOptions = {},
  ): Promise<unknown> {
    // An explicit `undefined` is a caller bug; only an omitted argument means
    // no inputs. EncodedInputs rejects it with invalid_input.
    const passedInputs =
      arguments.length > 2 && arguments[2] === undefined ? undefined : inputs;
    if (typeof sessionId !== 'string' || sessionId === '') {
      return Promise.reject(
        new PyroostError({
          type: 'invalid_input',
          message: `sessionId must be a non-empty string, got ${describeValue(sessionId)}.`,
        }),
      );
    }
    return this.run(
      sessionId,
      program,
      () => EncodedInputs.forExecute(program, passedInputs, { sessionId }),
      (member, timeoutMs, encoded) =>
        member.worker.execute(program, encoded, {
          timeoutMs,
          signal: options.signal,
          sessionId,
        }),
      options,
    );
  }

  /** Runs a program on any free worker, outside any session. */
  executeAnonymous(
    program: string,
    inputs: Record<string, unknown> = {},
    options: ExecuteOptions = {},
  ): Promise<unknown> {
    // An explicit `undefined` is a caller bug; only an omitted argument means
    // no inputs. EncodedInputs rejects it with invalid_input.
    const passedInputs =
      arguments.length > 1 && arguments[1] === undefined ? undefined : inputs;
    return this.run(
      undefined,
      program,
      () => EncodedInputs.forExecute(program, passedInputs),
      (member, timeoutMs, encoded) =>
        member.worker.execute(program, encoded, {
          timeoutMs,
          signal: options.signal,
        }),
      options,
    );
  }

  /**
   * Runs a program once per inputs object, in one frame on one worker, and
   * resolves with a result or an error per item. `options.timeoutMs` bounds
   * the whole batch.
   */
  executeBatch(
    program: string,
    inputsList: Record<string, unknown>[],
    options: ExecuteOptions & { sessionId?: string } = {},
  ): Promise<BatchResult[]> {
    const { sessionId, signal } = options;
    return this.run(
      sessionId,
      program,
      () => EncodedInputs.forBatch(program, inputsList, { sessionId }),
      (member, timeoutMs, encoded) =>
        member.worker.executeBatch(program, encoded, {
          timeoutMs,
          signal,
          sessionId,
        }),
      options,
    ) as Promise<BatchResult[]>;
  }

  /** Worker counts by state, queue length, totals, errors by type and latency percentiles. */
  stats(): PoolStats {
    const workers = {
      starting: this.startingCore + this.startingOverflow,
      idle: 0,
      busy: 0,
      stopping: 0,
      total: 0,
    };
    for (const member of this.members) {
      const state = member.worker.state;
      if (state === 'idle' && !member.checkedOut) workers.idle += 1;
      else if (state === 'idle' || state === 'busy') workers.busy += 1;
      else if (state === 'stopping') workers.stopping += 1;
    }
    workers.total =
      workers.starting + workers.idle + workers.busy + workers.stopping;
    return {
      size: this.size,
      overflow: this.overflow,
      workers,
      queueLength: this.waiters.length,
      maxQueue: this.maxQueue,
      sessions: this.sessionRegistry.count,
      totals: { ...this.totals },
      errorsByType: { ...this.errorsByType },
      latencyMs: this.latency.summary(),
      checkoutWaitMs: this.checkoutWait.summary(),
      replacementStopped: this.replacementStopped,
      closed: this.closed,
    };
  }

  /** Sessions seen so far, for observability. */
  sessions(): SessionInfo[] {
    return this.sessionRegistry.list();
  }

  /** Removes sessions idle for longer than `idleMs`; returns how many were removed. */
  expireSessions(idleMs: number): number {
    return this.sessionRegistry.expire(idleMs);
  }

  /** Live workers with their ids and pids, for health checks and tests. */
  workers(): {
    id: string;
    pid: number | undefined;
    state: string;
    kind: 'core' | 'overflow';
    tasks: number;
  }[] {
    return [...this.members].map((member) => ({
      id: member.worker.id,
      pid: member.worker.pid,
      state:
        member.checkedOut && member.worker.state === 'idle'
          ? 'busy'
          : member.worker.state,
      kind: member.kind,
      tasks: member.tasks,
    }));
  }

  /**
   * Pings every idle worker (never a busy one, so a long CPU-bound program is
   * not mistaken for a hang). A worker that does not respond within
   * `timeoutMs` is killed and replaced. Returns the ids that failed.
   */
  async pingIdleWorkers(timeoutMs: number): Promise<string[]> {
    const checked = this.idle.splice(0);
    for (const member of checked) {
      member.checkedOut = true;
      this.clearIdleTimer(member);
    }
    const failed: string[] = [];
    await Promise.all(
      checked.map(async (member) => {
        try {
          await member.worker.ping(timeoutMs);
        } catch (error) {
          failed.push(member.worker.id);
          this.logger.warn(
            {
              workerId: member.worker.id,
              pid: member.worker.pid,
              errorType: isPyroostError(error) ? error.type : undefined,
            },
            'worker failed its health check and is replaced',
          );
        }
        this.checkin(member);
      }),
    );
    return failed;
  }

  /**
   * Closes the pool. Queued callers reject with `pool_closed` at once.
   * Graceful (default) lets calls in flight finish, then stops each worker;
   * forced kills every worker at once and their callers reject with
   * `pool_closed`. Resolves when no Python process of the pool is left.
   */
  async close(
    options: { graceful?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    const graceful = options.graceful ?? true;
    const wasClosed = this.closed;
    this.closed = true;
    for (const timer of this.pendingRestarts) clearTimeout(timer);
    this.pendingRestarts.clear();
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    for (const waiter of this.waiters.drain()) {
      waiter.reject(this.closedError());
    }
    if (!wasClosed) this.logger.info({ graceful }, 'pool closing');

    const members = [...this.members];
    for (const member of members) this.clearIdleTimer(member);
    await Promise.all(
      members.map((member) =>
        graceful
          ? member.worker.stop({ timeoutMs: options.timeoutMs ?? 10_000 })
          : member.worker.kill(),
      ),
    );
    await this.waitForStartingWorkers();
    this.metrics.shutdown();
    if (!wasClosed) this.logger.info({}, 'pool closed');
  }

  private async waitForStartingWorkers(): Promise<void> {
    while (this.startingCore + this.startingOverflow > 0) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Runs one call: encodes its inputs before checkout, so inputs that JSON
   * cannot carry reject at once and never wait for a worker, then checks out
   * a worker, calls it and checks it back in. A worker's task count grows
   * only by the requests Python answered, so calls rejected before sending
   * do not bring its recycling closer.
   */
  private run<T>(
    sessionId: string | undefined,
    program: string,
    encode: () => EncodedInputs,
    call: (
      member: Member,
      timeoutMs: number | undefined,
      encoded: EncodedInputs,
    ) => Promise<T>,
    options: ExecuteOptions,
  ): Promise<T> {
    const startedAt = performance.now();
    this.sessionRegistry.touch(sessionId);
    this.totals.executions += 1;

    let encoded: EncodedInputs;
    try {
      // Rejected calls (closed pool, unknown program, bad inputs) count in
      // stats too, so a client that keeps sending them shows up there.
      this.checkProgram(program, sessionId);
      checkCallOptions(options);
      encoded = encode();
    } catch (error) {
      const failure = this.recordFailure(error, sessionId, program);
      this.recordOutcome(program, startedAt, failure);
      return Promise.reject(failure);
    }
    const checkedOut = this.checkout(sessionId, options);
    if (!(checkedOut instanceof Promise)) {
      // A free worker runs the call at once, without a turn of the microtask queue.
      return this.runOn(
        checkedOut,
        sessionId,
        program,
        call,
        encoded,
        options,
        startedAt,
      );
    }
    // The wait for a worker is a promise chain and not an await in an async
    // function, whose suspended frame would add about 400 bytes to every
    // queued caller.
    return checkedOut.then(
      (member) =>
        this.runOn(
          member,
          sessionId,
          program,
          call,
          encoded,
          options,
          startedAt,
        ),
      (error: unknown) => {
        const failure = this.recordFailure(error, sessionId, program);
        this.recordOutcome(program, startedAt, failure);
        throw failure;
      },
    );
  }

  /** Runs a call on a checked-out worker, records it and checks the worker in. */
  private async runOn<T>(
    member: Member,
    sessionId: string | undefined,
    program: string,
    call: (
      member: Member,
      timeoutMs: number | undefined,
      encoded: EncodedInputs,
    ) => Promise<T>,
    encoded: EncodedInputs,
    options: ExecuteOptions,
    startedAt: number,
  ): Promise<T> {
    const servedBefore = member.worker.requestsServed;
    let failure: PyroostError | undefined;
    try {
      const timeoutMs = options.timeoutMs ?? this.timeoutMs;
      const result = await call(member, timeoutMs, encoded);
      this.totals.succeeded += 1;
      return result;
    } catch (error) {
      failure = this.recordFailure(error, sessionId, program);
      const killedForCaller =
        failure.type === 'execution_timeout' || failure.type === 'aborted';
      // A call aborted before it was sent leaves the worker idle and alive.
      if (killedForCaller && member.worker.state !== 'idle') {
        // The worker was killed on the caller's behalf, not because it
        // failed, so its replacement does not count toward the restart limit.
        member.retiring = true;
      }
      throw failure;
    } finally {
      this.recordOutcome(program, startedAt, failure);
      member.tasks += member.worker.requestsServed - servedBefore;
      this.checkin(member);
    }
  }

  /** Counts a failed call in the totals and metrics; returns the error to reject with. */
  private recordFailure(
    error: unknown,
    sessionId: string | undefined,
    program: string,
  ): PyroostError {
    const failure = this.translateError(error, sessionId);
    this.totals.failed += 1;
    this.errorsByType[failure.type] =
      (this.errorsByType[failure.type] ?? 0) + 1;
    this.sessionRegistry.recordError(sessionId);
    this.metrics.recordError(failure.type, program);
    return failure;
  }

  /** Records the latency of a finished call, from its start to now, queue wait included. */
  private recordOutcome(
    program: string,
    startedAt: number,
    failure: PyroostError | undefined,
  ): void {
    const elapsedMs = performance.now() - startedAt;
    this.latency.record(elapsedMs);
    this.metrics.recordExecution(program, elapsedMs / 1000, failure?.type);
  }

  private checkProgram(program: string, sessionId: string | undefined): void {
    if (this.closed) throw this.closedError();
    if (typeof program !== 'string' || program === '') {
      throw new PyroostError({
        type: 'invalid_input',
        message: `Program name must be a non-empty string, got ${describeValue(program)}.`,
        context: { sessionId },
      });
    }
    if (this.programNames.length > 0 && !this.programNames.includes(program)) {
      throw new PyroostError({
        type: 'program_not_found',
        message:
          `Program "${program}" is not registered; registered programs: ${this.programNames.join(', ')}. ` +
          `Decorate it with @program in one of: ${this.workerOptions.programs.join(', ')}.`,
        context: { program, sessionId },
      });
    }
  }

  private translateError(
    error: unknown,
    sessionId: string | undefined,
  ): PyroostError {
    const failure = isPyroostError(error)
      ? error
      : new PyroostError({
          type: 'worker_crashed',
          message: String(error),
          cause: error,
        });
    if (sessionId !== undefined) failure.context.sessionId ??= sessionId;
    if (this.closed && failure.type === 'worker_crashed') {
      return new PyroostError({
        type: 'pool_closed',
        message:
          'The pool was closed while the call was running; the worker was stopped.',
        context: failure.context,
        cause: failure,
      });
    }
    return failure;
  }

  private closedError(): PyroostError {
    return new PyroostError({
      type: 'pool_closed',
      message: 'The pool is closed; start a new pool to run more programs.',
    });
  }

  private unhealthyError(): PyroostError {
    const reason = this.lastLoss?.startError ?? this.lastLoss?.reason;
    return new PyroostError({
      type: 'pool_unhealthy',
      message:
        'The pool has no workers and stopped replacing them after repeated failures' +
        (reason ? ` (last: ${reason.message})` : '') +
        '. Fix the cause; ' +
        (this.restartPolicy.resumeAfterMs?.() === undefined
          ? 'then start a new pool.'
          : `the pool tries one replacement again every ${this.restartPolicy.resumeAfterMs?.()} ms.`),
      context: { lastError: reason?.toJSON() },
      cause: reason,
    });
  }

  /**
   * Returns the tracer of the configured provider, or of the global one. It
   * is kept while the provider stays the same, so a call does not ask the
   * provider again.
   */
  private currentTracer(): Tracer {
    const source = this.tracerProvider ?? trace.getTracerProvider();
    if (this.tracer === undefined || source !== this.tracerSource) {
      this.tracer = getTracer(source);
      this.tracerSource = source;
    }
    return this.tracer;
  }

  /**
   * Takes a free worker, or returns a promise of one from the wait queue.
   * Every checkout, instant or queued, is traced as a `pyroost.checkout`
   * span, so each execution has the same span tree.
   */
  private checkout(
    sessionId: string | undefined,
    options: ExecuteOptions,
  ): Member | Promise<Member> {
    const span = this.currentTracer().startSpan(
      'pyroost.checkout',
      {
        kind: SpanKind.INTERNAL,
        attributes:
          sessionId === undefined ? {} : { [ATTR_SESSION_ID]: sessionId },
      },
      context.active(),
    );
    const member = this.takeIdleMember();
    if (member) {
      this.clearIdleTimer(member);
      member.checkedOut = true;
      this.checkoutWait.record(0);
      this.metrics.recordCheckoutWait(0);
      if (span.isRecording()) {
        span.setAttributes({
          'pyroost.checkout.queued': false,
          'pyroost.worker.id': member.worker.id,
        });
      }
      span.end();
      return member;
    }
    const failure = this.checkoutRejection(sessionId, options);
    if (failure) {
      span.setAttribute('pyroost.checkout.queued', false);
      recordFailure(span, failure);
      span.end();
      return Promise.reject(failure);
    }
    span.setAttribute('pyroost.checkout.queued', true);
    return this.enqueue(sessionId, options, span);
  }

  /**
   * Takes the most recently freed worker that can still take a request. A
   * worker that exited while idle stays on the idle list until the pool's
   * exit handler runs. Code that the exit calls first, such as a logger, can
   * start a call before that, so such a worker is dropped here.
   */
  private takeIdleMember(): Member | undefined {
    let member = this.idle.pop();
    while (member && member.worker.state !== 'idle') member = this.idle.pop();
    return member;
  }

  /** Returns why a caller that finds no free worker cannot queue, or undefined if it can. */
  private checkoutRejection(
    sessionId: string | undefined,
    options: ExecuteOptions,
  ): PyroostError | undefined {
    if (
      this.replacementStopped &&
      this.members.size === 0 &&
      this.startingCore === 0
    ) {
      return this.unhealthyError();
    }
    if (options.signal?.aborted) {
      return this.abortedWhileQueued(sessionId, options.signal);
    }
    if (this.waiters.length >= this.maxQueue) {
      return new PyroostError({
        type: 'queue_full',
        message:
          `The wait queue is full (${this.waiters.length} callers waiting, maxQueue ${this.maxQueue}, ` +
          `pool size ${this.size} + overflow ${this.overflow}); retry later, raise maxQueue, ` +
          'or add workers.',
        context: {
          queueLength: this.waiters.length,
          maxQueue: this.maxQueue,
          size: this.size,
          sessionId,
        },
      });
    }
    return undefined;
  }

  private enqueue(
    sessionId: string | undefined,
    options: ExecuteOptions,
    span: Span,
  ): Promise<Member> {
    const checkoutTimeoutMs =
      options.checkoutTimeoutMs ?? this.checkoutTimeoutMs;
    return new Promise<Member>((resolve, reject) => {
      const waiter = new QueuedCaller(
        this.queueHost,
        span,
        sessionId,
        options.signal,
        checkoutTimeoutMs,
        resolve,
        reject,
      );
      waiter.node = this.waiters.push(waiter);
      this.maybeStartOverflow();
    });
  }

  private abortedWhileQueued(
    sessionId: string | undefined,
    signal: AbortSignal,
  ): PyroostError {
    return new PyroostError({
      type: 'aborted',
      message:
        'The call was aborted while waiting for a free worker; nothing reached Python.',
      context: { sessionId, queueLength: this.waiters.length },
      cause: signal.reason,
    });
  }

  private maybeStartOverflow(): void {
    if (this.closed || this.overflow === 0) return;
    const overflowRunning =
      [...this.members].filter((member) => member.kind === 'overflow').length +
      this.startingOverflow;
    const startingAll = this.startingCore + this.startingOverflow;
    if (overflowRunning >= this.overflow || this.waiters.length <= startingAll)
      return;
    this.totals.overflowStarted += 1;
    this.startWorker('overflow').then(
      (member) => this.release(member),
      (error: PyroostError) => {
        if (this.closed) return;
        this.logger.warn(
          { errorType: error.type },
          `overflow worker failed to start: ${error.message}`,
        );
      },
    );
  }

  /** Hands a free worker to the next waiter, or puts it on the idle list. */
  private release(member: Member): void {
    if (this.closed) {
      void member.worker.stop();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      member.checkedOut = true;
      waiter.resolve(member);
      return;
    }
    member.checkedOut = false;
    this.idle.push(member);
    if (member.kind === 'overflow') {
      member.idleTimer = setTimeout(
        () => this.retireIdleOverflow(member),
        this.idleTimeoutMs,
      );
      member.idleTimer.unref();
    }
  }

  private retireIdleOverflow(member: Member): void {
    const index = this.idle.indexOf(member);
    if (index === -1) return;
    this.idle.splice(index, 1);
    member.retiring = true;
    this.logger.info(
      { workerId: member.worker.id, pid: member.worker.pid },
      'idle overflow worker stopped',
    );
    void member.worker.stop();
  }

  private clearIdleTimer(member: Member): void {
    if (member.idleTimer) clearTimeout(member.idleTimer);
    member.idleTimer = undefined;
  }

  private checkin(member: Member): void {
    if (member.worker.state !== 'idle') {
      // Timed out, aborted, crashed or broke the protocol: it is being killed,
      // and its exit handler starts a replacement.
      member.checkedOut = false;
      return;
    }
    if (this.closed) {
      void member.worker.stop();
      return;
    }
    if (member.tasks >= member.maxTasks) {
      this.retire(
        member,
        `served ${member.tasks} requests (maxTasksPerWorker ${this.maxTasksPerWorker})`,
      );
      return;
    }
    if (this.maxMemoryBytes === undefined) {
      this.release(member);
      return;
    }
    void member.worker.rssBytes().then((rss) => {
      if (rss !== undefined && rss > (this.maxMemoryBytes as number)) {
        this.retire(
          member,
          `uses ${Math.round(rss / 1048576)} MB (maxMemoryMb ${this.maxMemoryBytes! / 1048576})`,
        );
      } else {
        this.release(member);
      }
    });
  }

  private retire(member: Member, why: string): void {
    member.retiring = true;
    member.checkedOut = false;
    this.totals.recycled += 1;
    this.logger.info(
      { workerId: member.worker.id, pid: member.worker.pid },
      `worker recycled: ${why}`,
    );
    void member.worker.stop();
  }

  private async startWorker(kind: Member['kind']): Promise<Member> {
    if (kind === 'core') this.startingCore += 1;
    else this.startingOverflow += 1;
    try {
      const worker = await PythonWorker.start(this.workerOptions);
      const jitter = Math.floor(
        Math.random() *
          Math.floor((this.maxTasksPerWorker ?? 0) * MAX_TASKS_JITTER + 1),
      );
      const member: Member = {
        worker,
        kind,
        tasks: 0,
        maxTasks:
          this.maxTasksPerWorker === undefined
            ? Number.POSITIVE_INFINITY
            : this.maxTasksPerWorker + jitter,
        checkedOut: true,
        retiring: false,
        idleTimer: undefined,
      };
      this.programNames = worker.programNames;
      this.members.add(member);
      worker.once('exit', (exit: WorkerExit) => this.handleExit(member, exit));
      if (this.closed) {
        this.members.delete(member);
        await worker.kill();
        throw this.closedError();
      }
      this.emit('workerStarted', worker);
      return member;
    } finally {
      if (kind === 'core') this.startingCore -= 1;
      else this.startingOverflow -= 1;
    }
  }

  private handleExit(member: Member, exit: WorkerExit): void {
    this.members.delete(member);
    this.clearIdleTimer(member);
    const index = this.idle.indexOf(member);
    if (index !== -1) this.idle.splice(index, 1);
    this.emit('workerExited', member.worker, exit);
    if (this.closed || member.kind === 'overflow') return;

    if (member.retiring) {
      this.replaceCore(0);
      return;
    }
    this.logger.warn(
      {
        workerId: member.worker.id,
        pid: member.worker.pid,
        exitCode: exit.exitCode,
        signal: exit.signal,
        errorType: exit.reason?.type,
      },
      'worker lost; starting a replacement',
    );
    this.handleLoss({
      workerId: member.worker.id,
      pid: member.worker.pid,
      reason: exit.reason,
    });
  }

  private handleLoss(loss: WorkerLoss): void {
    this.lastLoss = loss;
    const delayMs = this.restartPolicy.onWorkerLost(loss);
    if (delayMs === null) {
      this.stopReplacing(loss);
      return;
    }
    this.totals.restarts += 1;
    this.metrics.recordRestart();
    this.replaceCore(delayMs);
  }

  private stopReplacing(loss: WorkerLoss): void {
    if (!this.replacementStopped) {
      this.replacementStopped = true;
      this.logger.error(
        {
          workerId: loss.workerId,
          errorType: (loss.startError ?? loss.reason)?.type,
        },
        'restart limit reached: the pool stops replacing workers',
      );
      this.emit('replacementStopped', loss);
    }
    // Replacements scheduled before the limit was hit would otherwise still
    // spawn processes after the pool reported that it stopped.
    for (const timer of this.pendingRestarts) clearTimeout(timer);
    this.pendingRestarts.clear();
    if (this.members.size === 0 && this.startingCore === 0) {
      for (const waiter of this.waiters.drain())
        waiter.reject(this.unhealthyError());
    }
    this.scheduleProbe();
  }

  /**
   * After the restart policy gave up, tries one replacement again once the
   * policy's `resumeAfterMs` has passed, so a pool whose cause went away
   * (a full disk, a file being deployed) recovers without a restart of the
   * application. A failed probe schedules the next one.
   */
  private scheduleProbe(): void {
    const delayMs = this.restartPolicy.resumeAfterMs?.();
    if (this.closed || this.probeTimer || delayMs === undefined) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.closed) return;
      this.startWorker('core').then(
        (member) => {
          this.replacementStopped = false;
          this.restartPolicy.onWorkerStarted?.();
          this.logger.info(
            { workerId: member.worker.id, pid: member.worker.pid },
            'probe worker started: the pool replaces workers again',
          );
          this.release(member);
          this.topUpCore();
        },
        (error: PyroostError) => {
          if (this.closed) return;
          this.lastLoss = {
            workerId: '(probe)',
            pid: undefined,
            reason: undefined,
            startError: error,
          };
          this.logger.warn(
            { errorType: error.type },
            `probe worker failed to start: ${error.message}`,
          );
          this.scheduleProbe();
        },
      );
    }, delayMs);
    this.probeTimer.unref();
  }

  /** Starts core workers until the pool is back to `size`. */
  private topUpCore(): void {
    const core = [...this.members].filter(
      (member) => member.kind === 'core',
    ).length;
    for (
      let missing = this.size - core - this.startingCore;
      missing > 0;
      missing -= 1
    ) {
      this.replaceCore(0);
    }
  }

  private replaceCore(delayMs: number): void {
    const spawn = (): void => {
      if (this.closed) return;
      this.startWorker('core').then(
        (member) => {
          this.restartPolicy.onWorkerStarted?.();
          this.release(member);
        },
        (error: PyroostError) => {
          if (this.closed) return;
          this.logger.error(
            { errorType: error.type },
            `replacement worker failed to start: ${error.message}`,
          );
          this.handleLoss({
            workerId: '(replacement)',
            pid: undefined,
            reason: undefined,
            startError: error,
          });
        },
      );
    };
    if (delayMs <= 0) {
      spawn();
      return;
    }
    const timer = setTimeout(() => {
      this.pendingRestarts.delete(timer);
      spawn();
    }, delayMs);
    this.pendingRestarts.add(timer);
  }
}
