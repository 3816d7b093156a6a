// The systems under comparison. Each one starts `workers` Python processes
// and returns a handle with `call(program, inputs)`, `pids()` and `close()`.
// Every system runs the same three programs: noop, echo and cpu.

import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  BatchSpanProcessor,
  BasicTracerProvider,
} from '@opentelemetry/sdk-trace-base';
import { PythonPool } from '@pyroost/api';
import { PythonShell } from 'python-shell';

/**
 * The interpreter every system runs: PYROOST_BENCH_PYTHON, or the real
 * executable behind `python3`, so that a launcher such as a pyenv shim (a
 * shell script that takes longer to start than Python itself) is not timed.
 */
export const PYTHON =
  process.env.PYROOST_BENCH_PYTHON ??
  execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], {
    encoding: 'utf8',
  }).trim();

const pythonDirectory = fileURLToPath(new URL('../python/', import.meta.url));
export const RAW_PIPE_SCRIPT = `${pythonDirectory}raw_pipe.py`;
export const SHELL_SCRIPT = `${pythonDirectory}shell_loop.py`;
export const PROGRAMS_FILE = `${pythonDirectory}programs.py`;

/**
 * One Python process running the raw-pipe loop: a length-prefixed JSON
 * request goes in, a length-prefixed JSON reply comes out. Nothing else.
 */
class RawPipeProcess {
  constructor() {
    this.child = spawn(PYTHON, [RAW_PIPE_SCRIPT], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.chunks = [];
    this.buffered = 0;
    this.bodyBytes = -1;
    this.nextId = 1;
    this.pending = undefined;
    this.child.stdout.on('data', (chunk) => this.onData(chunk));
    this.child.on('exit', (code, signal) => {
      this.pending?.reject(
        new Error(`raw pipe process exited (${code ?? signal})`),
      );
      this.pending = undefined;
    });
  }

  get pid() {
    return this.child.pid;
  }

  call(program, inputs) {
    return new Promise((resolve, reject) => {
      const json = JSON.stringify({ id: this.nextId++, program, inputs });
      const length = Buffer.byteLength(json);
      const frame = Buffer.allocUnsafe(4 + length);
      frame.writeUInt32BE(length, 0);
      frame.write(json, 4);
      this.pending = { resolve, reject };
      this.child.stdin.write(frame);
    });
  }

  onData(chunk) {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.bodyBytes < 0) {
        if (this.buffered < 4) return;
        this.bodyBytes = this.take(4).readUInt32BE(0);
      }
      if (this.buffered < this.bodyBytes) return;
      const body = this.take(this.bodyBytes);
      this.bodyBytes = -1;
      const reply = JSON.parse(body.toString('utf8'));
      const pending = this.pending;
      this.pending = undefined;
      pending.resolve(reply.result);
    }
  }

  take(count) {
    const all =
      this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = all.length > count ? [all.subarray(count)] : [];
    this.buffered -= count;
    return all.subarray(0, count);
  }

  /** Resolves once the interpreter has answered one request. */
  ready() {
    return this.call('noop', {});
  }

  close() {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        resolve();
        return;
      }
      this.child.once('exit', () => resolve());
      this.child.stdin.end();
    });
  }
}

/**
 * The limit of the pipe: one raw-pipe process per worker, a free list and a
 * FIFO of waiting callers, so that each process runs one request at a time as
 * a pyroost worker does. No pool, no validation, no tracing.
 */
export async function startRawPipe(workers) {
  const processes = Array.from({ length: workers }, () => new RawPipeProcess());
  await Promise.all(processes.map((process) => process.ready()));
  const free = [...processes];
  const queue = [];
  let head = 0;

  const dispatch = (process, job) => {
    process.call(job.program, job.inputs).then(
      (result) => {
        job.resolve(result);
        release(process);
      },
      (error) => job.reject(error),
    );
  };
  const release = (process) => {
    if (head < queue.length) {
      const job = queue[head];
      queue[head] = undefined;
      head += 1;
      if (head === queue.length) {
        queue.length = 0;
        head = 0;
      }
      dispatch(process, job);
    } else {
      free.push(process);
    }
  };

  return {
    call(program, inputs) {
      return new Promise((resolve, reject) => {
        const job = { program, inputs, resolve, reject };
        const process = free.pop();
        if (process) dispatch(process, job);
        else queue.push(job);
      });
    },
    pids: () => processes.map((process) => process.pid),
    close: () => Promise.all(processes.map((process) => process.close())),
  };
}

/**
 * `workers` PythonShell instances in JSON mode, used round-robin: each call
 * goes to the next shell whether or not it is busy, and each shell answers
 * its lines in order.
 */
export async function startPythonShell(workers) {
  const shells = Array.from({ length: workers }, () => {
    const shell = new PythonShell(SHELL_SCRIPT, {
      mode: 'json',
      pythonPath: PYTHON,
    });
    const waiting = [];
    let head = 0;
    shell.on('message', (reply) => {
      const pending = waiting[head];
      waiting[head] = undefined;
      head += 1;
      if (head === waiting.length) {
        waiting.length = 0;
        head = 0;
      }
      pending.resolve(reply.result);
    });
    shell.on('error', (error) => {
      for (let index = head; index < waiting.length; index += 1) {
        waiting[index]?.reject(error);
      }
      waiting.length = 0;
      head = 0;
    });
    return { shell, waiting };
  });
  let next = 0;
  let nextId = 1;

  const handle = {
    call(program, inputs) {
      const target = shells[next];
      next = (next + 1) % shells.length;
      return new Promise((resolve, reject) => {
        target.waiting.push({ resolve, reject });
        target.shell.send({ id: nextId++, program, inputs });
      });
    },
    pids: () => shells.map(({ shell }) => shell.childProcess.pid),
    close: () =>
      Promise.all(
        shells.map(
          ({ shell }) =>
            new Promise((resolve) => {
              shell.end(() => resolve());
            }),
        ),
      ),
  };
  // Ready means every interpreter has answered once.
  await Promise.all(
    shells.map(
      (target) =>
        new Promise((resolve, reject) => {
          target.waiting.push({ resolve, reject });
          target.shell.send({ id: 0, program: 'noop', inputs: {} });
        }),
    ),
  );
  return handle;
}

/** A span exporter that drops every span, so tracing costs only the SDK's own work. */
class DiscardingExporter {
  export(_spans, resultCallback) {
    resultCallback({ code: 0 });
  }

  shutdown() {
    return Promise.resolve();
  }

  forceFlush() {
    return Promise.resolve();
  }
}

/** Options shared by every pyroost pool in the benchmark. */
export function pyroostOptions(workers, extra = {}) {
  return {
    programs: [PROGRAMS_FILE],
    python: PYTHON,
    size: workers,
    overflow: 0,
    maxQueue: 10_000,
    timeoutMs: 600_000,
    checkoutTimeoutMs: 600_000,
    ...extra,
  };
}

/**
 * pyroost through PythonPool. With `tracing` the pool gets an OpenTelemetry
 * SDK tracer provider (BasicTracerProvider, BatchSpanProcessor, an exporter
 * that discards) through the tracerProvider option, so every span is created,
 * ended and batched.
 */
export async function startPyroost(
  workers,
  { tracing = false, PythonPoolClass = PythonPool } = {},
) {
  const tracerProvider = tracing
    ? new BasicTracerProvider({
        spanProcessors: [new BatchSpanProcessor(new DiscardingExporter())],
      })
    : undefined;
  const pool = await PythonPoolClass.start(
    pyroostOptions(workers, tracerProvider ? { tracerProvider } : {}),
  );
  return {
    pool,
    call: (program, inputs) => pool.executeProgram(program, inputs),
    pids: () => pool.workers().map((worker) => worker.pid),
    close: async () => {
      await pool.close();
      await tracerProvider?.shutdown();
    },
  };
}

/** The systems in the order in which the tables list them. */
export const SYSTEMS = [
  { key: 'raw', label: 'raw pipe', start: startRawPipe },
  { key: 'shell', label: 'python-shell', start: startPythonShell },
  { key: 'pyroost', label: 'pyroost', start: (n) => startPyroost(n) },
  {
    key: 'otel',
    label: 'pyroost + OTel SDK',
    start: (n) => startPyroost(n, { tracing: true }),
  },
];
