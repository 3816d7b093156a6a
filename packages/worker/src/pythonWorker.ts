import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { delimiter } from 'node:path';
import {
  context,
  trace,
  SpanKind,
  type Span,
  type TracerProvider,
} from '@opentelemetry/api';
import { execa, type ResultPromise } from 'execa';
import {
  DEFAULT_MAX_FRAME_BYTES,
  FrameDecoder,
  PyroostError,
  describeValue,
  encodeFrame,
  parseBatchItems,
  parseWorkerMessage,
  type BatchItem,
  type Command,
  type ErrorContext,
  type ReadyMessage,
  type ResponseMessage,
  type Timing,
} from '@pyroost/protocol';
import { unwatchAbort, watchAbort } from './abortWatch.js';
import { findBridgeDirectory } from './bridgePath.js';
import { EncodedInputs } from './encodedInputs.js';
import { toSafeLogger, type Logger } from './logger.js';
import { checkDurationMs, checkSignal } from './optionChecks.js';
import { checkWorkerOptions, describeSpawnError } from './workerOptions.js';
import { releaseGroup, trackGroup } from './processGroups.js';
import { StderrBuffer } from './stderrBuffer.js';
import {
  ATTR_SESSION_ID,
  getTracer,
  nanosToHrTime,
  recordFailure,
  toTraceparent,
} from './tracing.js';

/** Options of `PythonWorker.start`. */
export interface PythonWorkerOptions {
  /** Python files or module names whose `@program` functions the worker serves. */
  programs: string[];
  /**
   * Interpreter to run, e.g. a virtualenv's `bin/python`. Default `python3`.
   * A version manager's shim, such as pyenv's, runs a shell script before
   * the interpreter on every worker start. The interpreter's own path, the
   * value of `sys.executable` in it, skips that script.
   */
  python?: string;
  /** Extra environment variables for the process, on top of `process.env`. */
  env?: Record<string, string | undefined>;
  /** Working directory of the process; relative program paths resolve against it. */
  cwd?: string;
  /** Time allowed to start the interpreter, import the programs and respond to a ping, in ms. Default 20,000. */
  startTimeoutMs?: number;
  /** Time between SIGTERM and SIGKILL when the worker is killed, in ms. Default 2,000. */
  killGraceMs?: number;
  /** Bound on one frame's body in either direction, in bytes. Default 64 MiB. */
  maxFrameBytes?: number;
  /** How much of the end of stderr to keep for error reports, in bytes. Default 64 KiB. */
  stderrBufferBytes?: number;
  /** Identifier used in logs, spans and errors. Default `worker-<n>`. */
  id?: string;
  /** pino-compatible logger. Default: silent. */
  logger?: Logger;
  /** Default: the global tracer provider. */
  tracerProvider?: TracerProvider;
}

/** Options of one execution. */
export interface ExecuteOptions {
  /** Time allowed for the program, in ms; on expiry the process is killed. Default: no limit. */
  timeoutMs?: number;
  /** Aborting kills the process and rejects with `aborted`. */
  signal?: AbortSignal;
  /** Session id, sent to Python and added to spans, logs and errors. */
  sessionId?: string;
}

/** Result of one item of `executeBatch`. */
export type BatchResult =
  { ok: true; result: unknown } | { ok: false; error: PyroostError };

/** Life-cycle states of a worker. */
export type WorkerState = 'starting' | 'idle' | 'busy' | 'stopping' | 'exited';

/** Exit status of the process, and the error that ended it. */
export interface WorkerExit {
  exitCode: number | null;
  signal: string | null;
  /** The error that made the worker end, when it did not end on request. */
  reason?: PyroostError;
}

interface InFlight {
  id: number;
  command: Command;
  program: string | undefined;
  sessionId: string | undefined;
  /** The request's timeout in ms; undefined or Infinity for none. */
  timeoutMs: number | undefined;
  /** `performance.now()` by which the response must arrive; Infinity for none. */
  deadline: number;
  resolve: (result: unknown, timing: Timing | undefined) => void;
  /** `timing` is set when Python ran the request and responded with an error. */
  reject: (error: PyroostError, timing?: Timing) => void;
  /** Removes the request's abort listener once a response has arrived. */
  stopWatching: () => void;
}

const DEFAULT_START_TIMEOUT_MS = 20_000;
const DEFAULT_KILL_GRACE_MS = 2_000;
const DEFAULT_STDERR_BUFFER_BYTES = 64 * 1024;
/**
 * Maximum wait for the last stdout bytes after the process has exited, and
 * for the exit event after stdout has ended.
 */
const STDOUT_DRAIN_MS = 200;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

let workerCount = 0;

/**
 * One Python process running the pyroost bridge, and its pipes. It runs one
 * request at a time. A timeout, an abort or a protocol error kills the
 * process; the owner (usually a pool) starts a new worker in its place.
 *
 * Events: `exit` (`WorkerExit`) once the process has ended.
 */
export class PythonWorker extends EventEmitter {
  readonly id: string;
  readonly python: string;
  readonly programs: readonly string[];

  private state_: WorkerState = 'starting';
  private readonly subprocess: ResultPromise;
  private readonly decoder: FrameDecoder;
  private readonly stderr: StderrBuffer;
  private readonly logger: Logger;
  private readonly tracerProvider: TracerProvider | undefined;
  private readonly maxFrameBytes: number;
  private readonly killGraceMs: number;
  private nextRequestId = 1;
  private inFlight: InFlight | undefined;
  /**
   * One timer for request timeouts, kept across requests so that a request
   * does not create and clear a timer of its own. It may fire before the
   * deadline of the request in flight, which then sets it again for the rest
   * (see `onTimeoutTimer`).
   */
  private timeoutTimer: NodeJS.Timeout | undefined;
  /** `performance.now()` at which `timeoutTimer` fires. */
  private timeoutTimerDueAt = Infinity;
  /** Session of a request whose response arrived in the current I/O turn. */
  private settlingSessionId: string | undefined;
  private ready: ReadyMessage | undefined;
  private onStartMessage:
    ((message: ReadyMessage | PyroostError) => void) | undefined;
  private requestsServed_ = 0;
  private processExited = false;
  private exitInfo: WorkerExit | undefined;
  private failure: PyroostError | undefined;
  private readonly exited_: Promise<WorkerExit>;
  private resolveExit: (
    exitCode: number | null,
    signal: string | null,
  ) => void = () => undefined;

  private constructor(options: PythonWorkerOptions) {
    super();
    workerCount += 1;
    this.id = options.id ?? `worker-${workerCount}`;
    this.python = options.python ?? 'python3';
    this.programs = [...options.programs];
    this.logger = toSafeLogger(options.logger);
    this.tracerProvider = options.tracerProvider;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.decoder = new FrameDecoder({ maxFrameBytes: this.maxFrameBytes });
    this.stderr = new StderrBuffer(
      options.stderrBufferBytes ?? DEFAULT_STDERR_BUFFER_BYTES,
      (line) =>
        this.logger.info(
          this.logFields({
            stream: 'stderr',
            sessionId: this.inFlight?.sessionId ?? this.settlingSessionId,
          }),
          line,
        ),
    );

    const bridge = findBridgeDirectory();
    const inheritedPath = options.env?.PYTHONPATH ?? process.env.PYTHONPATH;
    const args = [
      '-m',
      'pyroost',
      '--max-frame-bytes',
      String(this.maxFrameBytes),
      '--programs',
      ...this.programs,
    ];
    this.subprocess = execa(this.python, args, {
      cwd: options.cwd,
      env: {
        ...options.env,
        PYTHONPATH: inheritedPath
          ? `${bridge}${delimiter}${inheritedPath}`
          : bridge,
        PYTHONUNBUFFERED: '1',
      },
      extendEnv: true,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      encoding: 'buffer',
      reject: false,
      // A process group of its own lets close() also end the processes a
      // program started. Parent death is covered by PR_SET_PDEATHSIG in the
      // bridge, because execa's cleanup skips detached processes.
      detached: true,
      cleanup: true,
      forceKillAfterDelay: this.killGraceMs,
    });

    if (this.subprocess.pid !== undefined) trackGroup(this.subprocess.pid);

    const stdoutEnded = new Promise<void>((resolve) => {
      this.subprocess.stdout?.once('end', resolve);
      this.subprocess.stdout?.once('close', resolve);
    });
    void stdoutEnded.then(() => this.handleStdoutEnd());
    this.exited_ = new Promise<WorkerExit>((resolve) => {
      this.resolveExit = (exitCode, signal) => {
        if (!this.exitInfo) resolve(this.handleExit(exitCode, signal));
      };
      this.subprocess.on('exit', (exitCode, signal) => {
        this.processExited = true;
        // A response written just before exit may still be in the pipe: read
        // stdout to its end, but do not wait on a grandchild that keeps it open.
        const grace = delay(STDOUT_DRAIN_MS);
        void Promise.race([stdoutEnded, grace]).then(() =>
          this.resolveExit(exitCode, signal),
        );
      });
    });
    this.subprocess.on('error', (error: NodeJS.ErrnoException) =>
      this.handleSpawnError(error),
    );
    // The execa promise settles when the process ends; its outcome is handled through events.
    this.subprocess.then(
      () => undefined,
      () => undefined,
    );
    this.subprocess.stdout?.on('data', (chunk: Buffer) =>
      this.handleStdout(chunk),
    );
    this.subprocess.stderr?.on('data', (chunk: Buffer) =>
      this.stderr.push(chunk),
    );
    this.subprocess.stdin?.on('error', (error: NodeJS.ErrnoException) => {
      // EPIPE: the process closed stdin or died; the exit handler reports it.
      this.logger.debug(
        this.logFields({ code: error.code }),
        'worker stdin closed',
      );
    });
  }

  /**
   * Spawns a worker and resolves once it has imported its programs and
   * responded to a ping. Rejects with `spawn_failed`, `start_timeout`,
   * `program_error` or `program_not_found`, naming the interpreter and paths.
   */
  static async start(options: PythonWorkerOptions): Promise<PythonWorker> {
    if (!Array.isArray(options.programs) || options.programs.length === 0) {
      throw new PyroostError({
        type: 'invalid_input',
        message:
          `The programs option must list at least one Python file or module, got ` +
          `${describeValue(options.programs)}.`,
      });
    }
    checkWorkerOptions(options);
    const worker = new PythonWorker(options);
    const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    try {
      await worker.waitForReady(startTimeoutMs);
    } catch (error) {
      await worker.kill();
      throw error;
    }
    return worker;
  }

  /** Current life-cycle state. */
  get state(): WorkerState {
    return this.state_;
  }

  /** Process id of the interpreter. */
  get pid(): number | undefined {
    return this.subprocess.pid;
  }

  /** Names of the programs the worker serves, as reported by Python at start. */
  get programNames(): readonly string[] {
    return this.ready?.programs ?? [];
  }

  /** Python version reported at start. */
  get pythonVersion(): string | undefined {
    return this.ready?.python;
  }

  /** Requests answered since start, including failed ones. */
  get requestsServed(): number {
    return this.requestsServed_;
  }

  /** Settles once the process has ended. */
  get exited(): Promise<WorkerExit> {
    return this.exited_;
  }

  /** Returns the last part of the process's stderr. */
  stderrTail(): string {
    return this.stderr.tail();
  }

  /** Resident set size of the process in bytes, read from /proc; undefined elsewhere or after exit. */
  async rssBytes(): Promise<number | undefined> {
    if (this.pid === undefined || this.exitInfo) return undefined;
    try {
      const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      return match ? Number(match[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Runs a registered program with keyword arguments and resolves with its
   * return value. `inputs` may be encoded ahead with
   * `EncodedInputs.forExecute`. Rejects with a `PyroostError`; after
   * `execution_timeout`, `aborted`, `protocol_error` or `worker_crashed` the
   * worker is dead.
   */
  execute(
    program: string,
    inputs: Record<string, unknown> | EncodedInputs = {},
    options: ExecuteOptions = {},
  ): Promise<unknown> {
    // An explicit `undefined` is a caller bug; only an omitted argument means no inputs.
    const passedInputs =
      arguments.length > 1 && arguments[1] === undefined ? undefined : inputs;
    let encoded: EncodedInputs;
    try {
      this.checkProgram(program);
      encoded = this.encodedFor(
        'inputs',
        program,
        passedInputs,
        options.sessionId,
      );
    } catch (error) {
      return Promise.reject(error);
    }
    // This method is not async, so the request's promise is returned as it
    // is, without one more promise and microtask turn per call.
    return this.request('execute', program, options, encoded);
  }

  /**
   * Runs a program once per inputs object, in order, in one round trip.
   * `inputsList` may be encoded ahead with `EncodedInputs.forBatch`.
   * Resolves with one result or error per item; rejects only when the whole
   * request fails (timeout, crash, frame too large).
   */
  async executeBatch(
    program: string,
    inputsList: Record<string, unknown>[] | EncodedInputs,
    options: ExecuteOptions = {},
  ): Promise<BatchResult[]> {
    this.checkProgram(program);
    const encoded = this.encodedFor(
      'inputs_list',
      program,
      inputsList,
      options.sessionId,
    );
    const result = await this.request(
      'execute_batch',
      program,
      options,
      encoded,
    );
    const items: BatchItem[] = parseBatchItems(result, encoded.count);
    return items.map((item) =>
      item.ok
        ? { ok: true, result: item.result }
        : {
            ok: false,
            error: PyroostError.fromJSON(
              item.error,
              this.errorContext({ program, sessionId: options.sessionId }),
            ),
          },
    );
  }

  /** Sends a ping and resolves when the worker responds. Rejects and kills it on timeout. */
  async ping(timeoutMs = 5_000): Promise<void> {
    await this.request('ping', undefined, { timeoutMs });
  }

  /** Returns the worker's own statistics from Python: pid, requests, rss_bytes, max_rss_bytes. */
  async pythonStats(timeoutMs = 5_000): Promise<Record<string, unknown>> {
    const result = await this.request('stats', undefined, { timeoutMs });
    return result as Record<string, unknown>;
  }

  /** Returns the registered programs with their docstrings and parameter names. */
  async describe(timeoutMs = 5_000): Promise<unknown> {
    return this.request('describe', undefined, { timeoutMs });
  }

  /**
   * Stops the worker. Closing stdin lets Python finish the request in flight
   * and exit. Past `timeoutMs` (default 5,000) the process gets SIGTERM, then
   * SIGKILL after the kill grace period.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<WorkerExit> {
    if (this.exitInfo) return this.exitInfo;
    if (this.state_ !== 'stopping') this.setState('stopping');
    this.subprocess.stdin?.end();

    const timeoutMs = options.timeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
      timer.unref();
    });
    const outcome = await Promise.race([this.exited_, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.subprocess.kill('SIGTERM');
    return this.exited_;
  }

  /** Kills the process at once with SIGKILL and resolves when it has exited. */
  async kill(): Promise<WorkerExit> {
    if (!this.exitInfo) {
      if (this.state_ !== 'stopping') this.setState('stopping');
      this.subprocess.kill('SIGKILL');
    }
    return this.exited_;
  }

  private checkProgram(program: string): void {
    if (typeof program !== 'string' || program === '') {
      throw new PyroostError({
        type: 'invalid_input',
        message: `Program name must be a non-empty string, got ${describeValue(program)}.`,
        context: this.errorContext({}),
      });
    }
    if (this.ready && !this.ready.programs.includes(program)) {
      throw new PyroostError({
        type: 'program_not_found',
        message:
          `Program "${program}" is not registered; registered programs: ` +
          `${this.ready.programs.join(', ') || '(none)'}. Decorate it with @program in one of: ` +
          `${this.programs.join(', ')}.`,
        context: this.errorContext({ program }),
      });
    }
  }

  /**
   * Returns inputs encoded for `field`: encodes plain inputs, and checks that
   * inputs encoded ahead were encoded for this field. Throws `invalid_input`.
   */
  private encodedFor(
    field: EncodedInputs['field'],
    program: string,
    inputs: unknown,
    sessionId: string | undefined,
  ): EncodedInputs {
    if (inputs instanceof EncodedInputs && inputs.field === field)
      return inputs;
    const context = this.errorContext({ program, sessionId });
    if (!(inputs instanceof EncodedInputs)) {
      return field === 'inputs'
        ? EncodedInputs.forExecute(program, inputs, context)
        : EncodedInputs.forBatch(program, inputs, context);
    }
    const builder = field === 'inputs' ? 'forExecute' : 'forBatch';
    throw new PyroostError({
      type: 'invalid_input',
      message:
        `Inputs of program "${program}" were encoded for ${inputs.field}, not ${field}; ` +
        `encode them with EncodedInputs.${builder}.`,
      context,
    });
  }

  private unavailableError(
    program: string | undefined,
    sessionId: string | undefined,
  ): PyroostError {
    if (this.state_ === 'busy') {
      return new PyroostError({
        type: 'worker_busy',
        message:
          `Worker ${this.id} is already running a request; a worker runs one at a time. ` +
          'Use a pool for concurrent calls.',
        context: this.errorContext({ program, sessionId }),
      });
    }
    // The failure that ended the worker belongs to another call and names its
    // program, so this call gets an error of its own with that failure as cause.
    const failure = this.failure;
    return new PyroostError({
      type: 'worker_crashed',
      message:
        `Worker ${this.id} is ${this.state_} and cannot take requests` +
        (failure ? ` (it stopped after: ${failure.message})` : '') +
        '. Use a pool, which replaces dead workers, or start a new worker.',
      context: this.errorContext({ program, sessionId }),
      ...(failure ? { cause: failure } : {}),
    });
  }

  /**
   * Sends one request and settles with its response. `encoded` inputs are
   * spliced into the request's JSON text under their field, unchanged.
   */
  private request(
    command: Command,
    program: string | undefined,
    options: ExecuteOptions,
    encoded?: EncodedInputs,
  ): Promise<unknown> {
    const { sessionId } = options;
    let signal: AbortSignal | undefined;
    let timeoutMs: number | undefined;
    try {
      signal = checkSignal(options.signal);
      timeoutMs = checkDurationMs('timeoutMs', options.timeoutMs, undefined, {
        allowInfinity: true,
      });
      if (sessionId != null && typeof sessionId !== 'string') {
        throw new PyroostError({
          type: 'invalid_input',
          message: `sessionId must be a string, got ${describeValue(sessionId)}.`,
          context: this.errorContext({ program }),
        });
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.state_ !== 'idle')
      return Promise.reject(this.unavailableError(program, sessionId));
    if (signal?.aborted)
      return Promise.reject(
        this.abortError(program, sessionId, signal, 'before it was sent'),
      );

    const tracer = getTracer(this.tracerProvider);
    const span =
      command === 'execute' || command === 'execute_batch'
        ? tracer.startSpan(
            'pyroost.worker.request',
            {
              kind: SpanKind.CLIENT,
              attributes: {
                'pyroost.worker.id': this.id,
                'process.pid': this.pid ?? -1,
                'pyroost.program': program ?? '',
                'pyroost.command': command,
                ...(sessionId == null ? {} : { [ATTR_SESSION_ID]: sessionId }),
              },
            },
            context.active(),
          )
        : undefined;

    const id = this.nextRequestId++;
    let frame: Buffer;
    try {
      const envelope = encodeRequestEnvelope(
        id,
        command,
        program,
        sessionId,
        span ? toTraceparent(span) : undefined,
      );
      // The inputs go into the frame as a part of their own, so that large
      // inputs are not copied into a joined string first.
      frame = encodeFrame(
        encoded
          ? [envelope, `,"${encoded.field}":`, encoded.json, '}']
          : [envelope, '}'],
        this.maxFrameBytes,
      );
    } catch (error) {
      const failure = this.withContext(
        error as PyroostError,
        program,
        sessionId,
      );
      if (span) {
        recordFailure(span, failure);
        span.end();
      }
      return Promise.reject(failure);
    }

    this.setState('busy');
    const deadline =
      timeoutMs !== undefined && Number.isFinite(timeoutMs)
        ? performance.now() + timeoutMs
        : Infinity;
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        // An idle worker's timer must not keep the process alive.
        this.timeoutTimer?.unref();
        if (signal) unwatchAbort(signal, onAbort);
      };
      const onAbort = (): void => {
        this.failRequest(
          this.abortError(program, sessionId, signal as AbortSignal),
        );
      };

      this.inFlight = {
        id,
        command,
        program,
        sessionId,
        timeoutMs,
        deadline,
        stopWatching: cleanup,
        resolve: (result, timing) => {
          cleanup();
          if (span) {
            this.recordPythonSpan(span, timing, program, sessionId);
            span.end();
          }
          resolve(result);
        },
        reject: (error, timing) => {
          cleanup();
          if (span) {
            this.recordPythonSpan(span, timing, program, sessionId, error);
            recordFailure(span, error);
            span.end();
          }
          reject(error);
        },
      };

      if (deadline !== Infinity) this.armTimeoutTimer(deadline);
      if (signal) watchAbort(signal, onAbort);
      this.subprocess.stdin?.write(frame);
    });
  }

  /** Makes `timeoutTimer` fire no later than `deadline` and keep the process alive. */
  private armTimeoutTimer(deadline: number): void {
    if (this.timeoutTimer && this.timeoutTimerDueAt <= deadline) {
      this.timeoutTimer.ref();
      return;
    }
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timeoutTimerDueAt = deadline;
    this.timeoutTimer = setTimeout(
      this.onTimeoutTimer,
      Math.max(0, deadline - performance.now()),
    );
  }

  private clearTimeoutTimer(): void {
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    this.timeoutTimerDueAt = Infinity;
  }

  /**
   * Fails the request in flight if its deadline has passed. A timer set for
   * an earlier request fires before the deadline of the current one, and is
   * set again for the time that is left.
   */
  private readonly onTimeoutTimer = (): void => {
    this.timeoutTimer = undefined;
    this.timeoutTimerDueAt = Infinity;
    const inFlight = this.inFlight;
    if (!inFlight || inFlight.deadline === Infinity) return;
    if (performance.now() < inFlight.deadline) {
      this.armTimeoutTimer(inFlight.deadline);
      return;
    }
    const { program, command, sessionId, timeoutMs } = inFlight;
    this.failRequest(
      new PyroostError({
        type: 'execution_timeout',
        message:
          `${program ? `Program "${program}"` : `Command ${command}`} did not finish ` +
          `within ${timeoutMs} ms on ${this.id} (pid ${this.pid}); the worker was killed. ` +
          'Raise timeoutMs if the program needs longer.',
        context: this.errorContext({ program, sessionId, timeoutMs }),
      }),
    );
  };

  /** Rejects the request in flight and kills the process, which cannot be trusted any more. */
  private failRequest(error: PyroostError): void {
    this.failure ??= error;
    const inFlight = this.inFlight;
    this.inFlight = undefined;
    this.logger.warn(
      this.logFields({ sessionId: inFlight?.sessionId, errorType: error.type }),
      error.message,
    );
    void this.kill();
    inFlight?.reject(error);
  }

  private abortError(
    program: string | undefined,
    sessionId: string | undefined,
    signal: AbortSignal,
    when?: 'before it was sent',
  ): PyroostError {
    const subject = program ? `Program "${program}"` : 'Request';
    return new PyroostError({
      type: 'aborted',
      message: when
        ? `${subject} was aborted ${when}; nothing reached Python and ${this.id} stays in use.`
        : `${subject} was aborted on ${this.id}; the worker was killed.`,
      context: this.errorContext({ program, sessionId }),
      cause: signal.reason,
    });
  }

  /**
   * Records the time Python spent on a request, taken from the response's
   * `timing`, as a child span of the request span. Python's clock is the
   * same wall clock as Node's on one machine, so the child sits inside its
   * parent up to clock resolution.
   */
  private recordPythonSpan(
    parent: Span,
    timing: Timing | undefined,
    program: string | undefined,
    sessionId: string | undefined,
    error?: PyroostError,
  ): void {
    if (!timing || !parent.isRecording()) return;
    const tracer = getTracer(this.tracerProvider);
    const parentContext = trace.setSpan(context.active(), parent);
    const span = tracer.startSpan(
      'pyroost.python',
      {
        startTime: nanosToHrTime(timing.start_ns),
        attributes: {
          'pyroost.worker.id': this.id,
          'process.pid': this.pid ?? -1,
          'pyroost.program': program ?? '',
          ...(sessionId == null ? {} : { [ATTR_SESSION_ID]: sessionId }),
        },
      },
      parentContext,
    );
    if (error) recordFailure(span, error);
    span.end(nanosToHrTime(timing.end_ns));
  }

  private async waitForReady(startTimeoutMs: number): Promise<void> {
    const deadline = Date.now() + startTimeoutMs;
    const readyOrError = new Promise<ReadyMessage | PyroostError>((resolve) => {
      this.onStartMessage = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<PyroostError>((resolve) => {
      timer = setTimeout(
        () =>
          resolve(
            new PyroostError({
              type: 'start_timeout',
              message:
                `Python worker ${this.id} (${this.python}, programs ${this.programs.join(', ')}) ` +
                `did not become ready within ${startTimeoutMs} ms. Slow imports need a larger ` +
                'startTimeoutMs; the end of its stderr is in context.stderr.',
              context: this.errorContext({ startTimeoutMs }),
            }),
          ),
        startTimeoutMs,
      );
    });
    const outcome = await Promise.race([readyOrError, timeout]);
    clearTimeout(timer);
    this.onStartMessage = undefined;
    if (outcome instanceof PyroostError) {
      outcome.context.stderr ??= this.stderrTail();
      throw outcome;
    }

    this.ready = outcome;
    this.setState('idle');
    await this.ping(Math.max(1, deadline - Date.now()));
    this.logger.info(
      this.logFields({ python: outcome.python, programs: outcome.programs }),
      'worker started',
    );
  }

  private handleStdout(chunk: Buffer): void {
    if (this.exitInfo || (this.state_ === 'stopping' && !this.inFlight)) return;
    try {
      this.decoder.push(chunk, (raw) =>
        this.handleMessage(parseWorkerMessage(raw)),
      );
    } catch (error) {
      const failure = this.withContext(
        error as PyroostError,
        this.inFlight?.program,
        this.inFlight?.sessionId,
      );
      this.logger.error(
        this.logFields({ errorType: failure.type }),
        `protocol failure: ${failure.message}`,
      );
      if (this.onStartMessage) {
        this.onStartMessage(failure);
        return;
      }
      this.failure ??= failure;
      if (this.inFlight) this.failRequest(failure);
      else void this.kill();
    }
  }

  /**
   * Kills a worker whose stdout ended while the process lives on: a program
   * closed the protocol channel, so no response can arrive and the caller
   * would otherwise wait for its timeout. An exiting process also ends its
   * stdout, so the check waits `STDOUT_DRAIN_MS` for the exit event first.
   */
  private handleStdoutEnd(): void {
    const check = (): void => {
      if (this.processExited || this.exitInfo || this.state_ === 'stopping')
        return;
      const running = this.inFlight
        ? `while running ${this.inFlight.program ?? this.inFlight.command}`
        : 'while idle';
      const failure = new PyroostError({
        type: 'protocol_error',
        message:
          `Worker ${this.id} (pid ${this.pid}) closed its protocol channel (stdout) ${running}, ` +
          'so it cannot answer any more; the worker was killed. Programs must not close ' +
          'file descriptors they did not open.',
        context: this.errorContext({
          program: this.inFlight?.program,
          sessionId: this.inFlight?.sessionId,
        }),
      });
      this.logger.error(
        this.logFields({ errorType: failure.type }),
        failure.message,
      );
      if (this.onStartMessage) {
        this.onStartMessage(failure);
        return;
      }
      this.failure ??= failure;
      if (this.inFlight) this.failRequest(failure);
      else void this.kill();
    };
    // setImmediate runs after the poll phase, where a pending exit event of
    // a process that just ended is delivered, even if the loop was blocked.
    setTimeout(() => setImmediate(check).unref(), STDOUT_DRAIN_MS).unref();
  }

  private handleMessage(message: ReturnType<typeof parseWorkerMessage>): void {
    if (message.type === 'ready') {
      if (!this.onStartMessage) throw this.unexpected('a second ready message');
      this.onStartMessage(message);
      return;
    }
    if (message.type === 'startup_error') {
      const error = PyroostError.fromJSON(message.error, this.errorContext({}));
      if (this.onStartMessage) this.onStartMessage(error);
      return;
    }
    this.handleResponse(message);
  }

  private handleResponse(message: ResponseMessage): void {
    const inFlight = this.inFlight;
    if (!inFlight)
      throw this.unexpected(
        `a response (id ${message.id}) with no request in flight`,
      );
    if (message.id !== inFlight.id) {
      throw this.unexpected(
        `a response for request ${message.id} while request ${inFlight.id} is in flight`,
      );
    }

    this.inFlight = undefined;
    inFlight.stopWatching();
    this.requestsServed_ += 1;
    if (message.closing === true) {
      // The worker exits after this response; stopping it keeps it from
      // being handed to the next caller, and kills it if it does not exit.
      void this.stop({ timeoutMs: this.killGraceMs });
    } else if (this.state_ === 'busy') {
      this.setState('idle');
    }
    const settle = message.ok
      ? () => inFlight.resolve(message.result, message.timing)
      : () =>
          inFlight.reject(
            PyroostError.fromJSON(
              message.error,
              this.errorContext({
                program: inFlight.program,
                sessionId: inFlight.sessionId,
              }),
            ),
            message.timing,
          );
    // Python writes a program's stderr before its response, but Node may read
    // the stdout pipe first. Settling after this I/O turn lets stderr that
    // came in the same turn reach the logger with this request's session,
    // before the caller can send the next request. Settling at once would
    // save a few microseconds per call, but Python handles the next request
    // so fast that its stderr can arrive in the same read as this one's.
    // NOTE: stderr that is still in Python's buffers (a line without a
    // newline) or that arrives in a later turn is logged without a session.
    this.settlingSessionId = inFlight.sessionId;
    setImmediate(() => {
      this.settlingSessionId = undefined;
      settle();
    });
  }

  private unexpected(what: string): PyroostError {
    return new PyroostError({
      type: 'protocol_error',
      message: `Worker ${this.id} (pid ${this.pid}) sent ${what}; the worker is replaced so no late reply reaches another caller.`,
      context: this.errorContext({}),
    });
  }

  private handleSpawnError(error: NodeJS.ErrnoException): void {
    const failure = new PyroostError({
      type: 'spawn_failed',
      message: describeSpawnError(this.python, error),
      context: this.errorContext({ code: error.code }),
      cause: error,
    });
    this.failure ??= failure;
    this.onStartMessage?.(failure);
    // A process that never started emits no exit event.
    if (this.subprocess.pid === undefined) this.resolveExit(null, null);
  }

  private handleExit(
    exitCode: number | null,
    signal: string | null,
  ): WorkerExit {
    this.stderr.flush();
    const expected = this.state_ === 'stopping';
    const crash = new PyroostError({
      type: this.onStartMessage ? 'spawn_failed' : 'worker_crashed',
      message: this.onStartMessage
        ? `Python worker ${this.id} (${this.python}, programs ${this.programs.join(', ')}) exited ` +
          `during start-up with ${signal ? `signal ${signal}` : `exit code ${exitCode}`}; ` +
          'the end of its stderr is in context.stderr.'
        : `Python worker ${this.id} (pid ${this.pid}) exited with ` +
          `${signal ? `signal ${signal}` : `exit code ${exitCode}`} while ` +
          `${this.inFlight ? `running ${this.inFlight.program ?? this.inFlight.command}` : 'idle'}.`,
      context: this.errorContext({
        program: this.inFlight?.program,
        sessionId: this.inFlight?.sessionId,
        exitCode,
        signal,
        stderr: this.stderrTail(),
      }),
    });
    const reason = this.failure ?? (expected ? undefined : crash);
    this.clearTimeoutTimer();
    this.exitInfo = { exitCode, signal, ...(reason ? { reason } : {}) };
    this.killProcessGroup();
    this.setState('exited');

    this.onStartMessage?.(this.failure ?? crash);
    // Read the fields while the request is still in flight, so that the line
    // names its session.
    const fields = this.logFields({ exitCode, signal });
    if (this.inFlight) {
      const inFlight = this.inFlight;
      this.inFlight = undefined;
      inFlight.reject(crash);
    }
    if (expected) this.logger.info(fields, 'worker exited');
    else if (this.subprocess.pid === undefined && this.failure)
      this.logger.warn(
        fields,
        `worker failed to start: ${this.failure.message}`,
      );
    else
      this.logger.warn(fields, `worker exited unexpectedly: ${crash.message}`);
    this.emit('exit', this.exitInfo);
    return this.exitInfo;
  }

  /**
   * Kills what is left of the worker's process group: processes that a
   * program started and did not wait for. A process that started a new
   * session of its own (setsid) is out of reach.
   */
  private killProcessGroup(): void {
    const pid = this.subprocess.pid;
    if (pid !== undefined) releaseGroup(pid);
  }

  private setState(state: WorkerState): void {
    this.state_ = state;
  }

  private withContext(
    error: PyroostError,
    program: string | undefined,
    sessionId: string | undefined,
  ): PyroostError {
    const own = { ...error.context };
    Object.assign(
      error.context,
      this.errorContext({ program, sessionId }),
      own,
    );
    return error;
  }

  private errorContext(
    extra: ErrorContext & { program?: string; sessionId?: string },
  ): ErrorContext {
    const context: ErrorContext = { workerId: this.id, pid: this.pid };
    for (const [key, value] of Object.entries(extra)) {
      if (value !== undefined) context[key] = value;
    }
    return context;
  }

  private logFields(extra: Record<string, unknown>): Record<string, unknown> {
    const fields: Record<string, unknown> = {
      workerId: this.id,
      pid: this.pid,
      sessionId: this.inFlight?.sessionId,
    };
    for (const [key, value] of Object.entries(extra)) {
      if (value !== undefined) fields[key] = value;
    }
    return fields;
  }
}

/**
 * Returns the JSON text of a request without its closing brace, so that the
 * inputs can follow as a part of their own. Every field is a number, a
 * command name or a string that the caller checked, so the text is written
 * directly. `JSON.stringify` escapes each string as the JSON policy does.
 */
function encodeRequestEnvelope(
  id: number,
  command: Command,
  program: string | undefined,
  sessionId: string | undefined,
  traceparent: string | undefined,
): string {
  let text = `{"type":"request","id":${id},"command":"${command}"`;
  if (program !== undefined) text += `,"program":${JSON.stringify(program)}`;
  text += `,"session_id":${sessionId == null ? 'null' : JSON.stringify(sessionId)}`;
  if (traceparent !== undefined) {
    text += `,"trace":{"traceparent":${JSON.stringify(traceparent)}}`;
  }
  return text;
}
