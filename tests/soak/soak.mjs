// Soak run: a mixed load of successes, failures and injected faults on one
// PythonPool from the built @pyroost/api, with checks that nothing is lost
// or leaked. Run it with `pnpm soak` (see docs/reliability.md):
//
//   pnpm soak                      300 s
//   pnpm soak --quick              30 s, for CI
//   pnpm soak --duration-s 600
//   pnpm soak --calls 20000        stop after a number of calls instead
//
// The run is a warm-up phase (20 %) and two equal measured phases (40 %
// each). At the end of each phase the load stops, every call must have
// settled, the pool must be back to its size and resources are sampled.
// The script exits with status 1 on any wrong outcome, unsettled call,
// orphaned Python process or growth from the first measured phase to the
// second beyond the bounds in GROWTH_BOUNDS.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PyroostError, PythonPool } from '@pyroost/api';

const MIB = 1024 * 1024;

/** Allowed growth from the end of phase A to the end of phase B. */
const GROWTH_BOUNDS = {
  heapUsed: 8 * MIB,
  arrayBuffers: 16 * MIB,
  // RSS follows the allocator's caching of multi-MiB payload buffers and
  // moves by tens of MiB between samples; heap and arrayBuffers catch leaks
  // of JavaScript objects.
  rss: 128 * MIB,
  fds: 2,
  activeResources: 2,
  listeners: 0,
};

const USAGE = `Usage: node --expose-gc tests/soak/soak.mjs [options]

  --duration-s N   total run time in seconds (default 300; 30 with --quick)
  --calls N        stop after N calls instead of after a time
  --quick          short run for CI: 30 s, smaller payloads
  --concurrency N  concurrent callers (default 32)
  --size N         pool size (default 4)
  --seed N         seed of the load's random choices (default 1)
  --help           print this text`;

const { values: args } = parseArgs({
  options: {
    'duration-s': { type: 'string' },
    calls: { type: 'string' },
    quick: { type: 'boolean', default: false },
    concurrency: { type: 'string' },
    size: { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

function positiveInteger(name, text, fallback) {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(
      `--${name} must be a positive integer, got "${text}".\n\n${USAGE}`,
    );
    process.exit(2);
  }
  return value;
}

const quick = args.quick;
const durationS = positiveInteger(
  'duration-s',
  args['duration-s'],
  quick ? 30 : 300,
);
const totalCalls = positiveInteger('calls', args.calls, undefined);
const concurrency = positiveInteger('concurrency', args.concurrency, 32);
const size = positiveInteger('size', args.size, 4);
const seed = positiveInteger('seed', args.seed, 1);
const maxPayloadBytes = quick ? 2 * MIB : 4 * MIB;

if (typeof globalThis.gc !== 'function') {
  console.error(
    'Run the soak with node --expose-gc so that heap samples follow a full GC.',
  );
  process.exit(2);
}

/** Seeded PRNG (mulberry32), so a failing load can be replayed with --seed. */
function createRandom(initial) {
  let state = initial >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = createRandom(seed);
const randomInt = (min, max) => min + Math.floor(random() * (max - min + 1));
const sha256 = (text) =>
  createHash('sha256').update(text, 'utf8').digest('hex');

const violations = [];
function violation(message) {
  violations.push(message);
  if (violations.length <= 20) console.error(`VIOLATION: ${message}`);
}
process.on('unhandledRejection', (reason) =>
  violation(`unhandled rejection: ${reason?.stack ?? reason}`),
);

// ---------------------------------------------------------------------------
// The pool, with a logger that SIGKILLs the workers running `victim`.

const seenPids = new Set();
let stderrLines = 0;
const logger = {
  debug: () => undefined,
  info: (_fields, message) => {
    if (typeof message !== 'string') return;
    stderrLines += 1;
    const match = /^soak-victim (\S+) (\d+)$/.exec(message);
    if (!match) return;
    const pid = Number(match[2]);
    // Kill only processes of this pool.
    if (isPoolProcess(pid)) process.kill(pid, 'SIGKILL');
    else
      violation(
        `victim ${match[1]} reported pid ${pid}, which is not a worker of the pool`,
      );
  },
  warn: () => undefined,
  error: () => undefined,
};

const programs = fileURLToPath(new URL('./programs.py', import.meta.url));
const pool = await PythonPool.start({
  programs: [programs],
  size,
  overflow: 2,
  idleTimeoutMs: 500,
  maxQueue: 10_000,
  checkoutTimeoutMs: 60_000,
  timeoutMs: 30_000,
  maxTasksPerWorker: 25,
  // The soak injects crashes far faster than the default restart intensity
  // (10 in 60 s) allows; it tests recovery, not the intensity limit.
  maxRestarts: 1_000_000,
  initialBackoffMs: 10,
  maxBackoffMs: 200,
  healthCheckIntervalMs: 2_000,
  logger,
});
pool.rawPool.on('workerStarted', (worker) => seenPids.add(worker.pid));
for (const worker of pool.workers()) seenPids.add(worker.pid);

// ---------------------------------------------------------------------------
// Kinds of call: how to make one and which outcomes are right.

function expectError(outcome, type, check = () => null) {
  if (outcome.status === 'fulfilled')
    return `expected ${type}, got the result ${JSON.stringify(outcome.value).slice(0, 100)}`;
  if (!(outcome.error instanceof PyroostError))
    return `expected a PyroostError ${type}, got ${outcome.error}`;
  if (outcome.error.type !== type)
    return `expected ${type}, got ${outcome.error.type}: ${outcome.error.message}`;
  return check(outcome.error);
}

function expectValue(outcome, check) {
  if (outcome.status === 'rejected')
    return `expected a result, got ${outcome.error?.type}: ${outcome.error?.message}`;
  return check(outcome.value);
}

function sameJson(actual, expected) {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  return a === b
    ? null
    : `expected ${b.slice(0, 100)}, got ${a?.slice(0, 100)}`;
}

const KINDS = {
  success: {
    weight: 40,
    start(tag, n) {
      return {
        promise: pool.executeProgram('double', { n }),
        check: (o) => expectValue(o, (v) => sameJson(v, { n, double: 2 * n })),
      };
    },
  },
  programError: {
    weight: 10,
    start(tag) {
      return {
        promise: pool.executeProgram('fail', { tag }),
        check: (o) =>
          expectError(o, 'program_error', (e) =>
            e.message.includes(`soak failure ${tag}`)
              ? null
              : `wrong message: ${e.message}`,
          ),
      };
    },
  },
  timeout: {
    weight: 2,
    start(tag) {
      return {
        promise: pool.executeProgram(
          'sleep_then_echo',
          { seconds: 30, tag },
          { timeoutMs: 200 },
        ),
        check: (o) => expectError(o, 'execution_timeout'),
      };
    },
  },
  abort: {
    weight: 6,
    start(tag) {
      const controller = new AbortController();
      const promise = pool.executeProgram(
        'sleep_then_echo',
        { seconds: 0.01, tag },
        { signal: controller.signal },
      );
      setTimeout(
        () => controller.abort(new Error(`soak abort ${tag}`)),
        randomInt(0, 10),
      );
      return {
        promise,
        // The abort may land while queued, while running, or after the end.
        check: (o) =>
          o.status === 'fulfilled'
            ? sameJson(o.value, { tag })
            : expectError(o, 'aborted'),
      };
    },
  },
  abortRunning: {
    weight: 1,
    start(tag) {
      const controller = new AbortController();
      const promise = pool.executeProgram(
        'sleep_then_echo',
        { seconds: 30, tag },
        { signal: controller.signal },
      );
      setTimeout(
        () => controller.abort(new Error(`soak abort ${tag}`)),
        randomInt(100, 300),
      );
      return {
        // Usually lands while the call runs, or while it is still queued.
        promise,
        check: (o) => expectError(o, 'aborted'),
      };
    },
  },
  killed: {
    weight: 1,
    start(tag) {
      return {
        promise: pool.executeProgram('victim', { tag }, { timeoutMs: 20_000 }),
        check: (o) =>
          expectError(o, 'worker_crashed', (e) =>
            e.context.signal === 'SIGKILL'
              ? null
              : `expected signal SIGKILL, got ${e.context.signal}`,
          ),
      };
    },
  },
  largeResult: {
    weight: 3,
    start(tag) {
      const length = randomInt(64 * 1024, maxPayloadBytes);
      return {
        promise: pool.executeProgram('large_result', { length, tag }),
        check: (o) =>
          expectValue(o, (v) => {
            if (typeof v?.text !== 'string' || v.text.length !== length)
              return `expected ${length} characters, got ${v?.text?.length}`;
            if (!v.text.startsWith(`${tag}-é-`))
              return `text of another call: ${v.text.slice(0, 40)}`;
            return sha256(v.text) === v.sha256 ? null : 'SHA-256 mismatch';
          }),
      };
    },
  },
  largeInput: {
    weight: 3,
    start(tag) {
      const length = randomInt(64 * 1024, maxPayloadBytes);
      const text = `${tag}:`.padEnd(length, 'ü');
      const expected = { length, sha256: sha256(text) };
      return {
        promise: pool.executeProgram('large_input', { text }),
        check: (o) => expectValue(o, (v) => sameJson(v, expected)),
      };
    },
  },
  stdoutFlood: {
    weight: 4,
    start(tag) {
      return {
        promise: pool.executeProgram('stdout_flood', {
          stdout_bytes: 100 * 1024,
          tag,
        }),
        check: (o) => expectValue(o, (v) => sameJson(v, { tag })),
      };
    },
  },
  stderrFlood: {
    weight: 4,
    start(tag) {
      return {
        promise: pool.executeProgram('stderr_flood', {
          stderr_bytes: 200 * 1024,
          tag,
        }),
        check: (o) => expectValue(o, (v) => sameJson(v, { tag })),
      };
    },
  },
};
const KIND_NAMES = Object.keys(KINDS);
const TOTAL_WEIGHT = KIND_NAMES.reduce(
  (sum, name) => sum + KINDS[name].weight,
  0,
);

function pickKind() {
  let roll = random() * TOTAL_WEIGHT;
  for (const name of KIND_NAMES) {
    roll -= KINDS[name].weight;
    if (roll < 0) return name;
  }
  return KIND_NAMES[0];
}

// ---------------------------------------------------------------------------
// Tally: per kind, calls started, right outcomes, and outcomes by type.

const tally = Object.fromEntries(
  KIND_NAMES.map((name) => [
    name,
    { started: 0, right: 0, wrong: 0, outcomes: {} },
  ]),
);
let sequence = 0;
const pending = new Set();

function startCall() {
  const kind = pickKind();
  sequence += 1;
  const tag = `c${sequence}`;
  const { promise, check } = KINDS[kind].start(tag, sequence);
  const entry = tally[kind];
  entry.started += 1;
  let settlements = 0;
  const call = promise
    .then(
      (value) => ({ status: 'fulfilled', value }),
      (error) => ({ status: 'rejected', error }),
    )
    .then((outcome) => {
      settlements += 1;
      if (settlements !== 1)
        violation(`${kind} ${tag} settled ${settlements} times`);
      let key =
        outcome.status === 'fulfilled'
          ? 'result'
          : (outcome.error?.type ?? 'non-PyroostError');
      if (key === 'aborted') {
        key +=
          outcome.error.context.pid === undefined
            ? ' while queued'
            : ' while running';
      }
      entry.outcomes[key] = (entry.outcomes[key] ?? 0) + 1;
      const problem = check(outcome);
      if (problem) {
        entry.wrong += 1;
        violation(`${kind} ${tag}: ${problem}`);
      } else {
        entry.right += 1;
      }
      pending.delete(call);
    });
  pending.add(call);
  return call;
}

// ---------------------------------------------------------------------------
// Phases and resource samples.

function countFds() {
  return readdirSync('/proc/self/fd').length;
}

/**
 * Returns whether `pid` is a live child of this script running programs.py.
 * Pids are reused (pid_max is often 32,768), so a pid the pool once reported
 * may belong to another process by now.
 */
function isPoolProcess(pid) {
  if (!isAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const parentPid = Number(
      stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1],
    );
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return (
      parentPid === process.pid && commandLine.split('\0').includes(programs)
    );
  } catch {
    return false;
  }
}

/** Pids of every live Python process of this script, in the pool or not. */
function pythonChildren() {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter(isPoolProcess);
}

function isAlive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(
      stat.lastIndexOf(')') + 2,
      stat.lastIndexOf(')') + 3,
    );
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function listenerCount() {
  const processEvents = [
    'exit',
    'SIGINT',
    'SIGTERM',
    'SIGHUP',
    'unhandledRejection',
    'uncaughtException',
  ];
  const processListeners = processEvents.reduce(
    (sum, name) => sum + process.listenerCount(name),
    0,
  );
  const poolListeners = pool.rawPool
    .eventNames()
    .reduce((sum, name) => sum + pool.rawPool.listenerCount(name), 0);
  return processListeners + poolListeners;
}

async function sample(label) {
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
  globalThis.gc();
  const memory = process.memoryUsage();
  return {
    label,
    heapUsed: memory.heapUsed,
    arrayBuffers: memory.arrayBuffers,
    rss: memory.rss,
    fds: countFds(),
    activeResources: process.getActiveResourcesInfo().length,
    listeners: listenerCount(),
    pythonProcesses: pythonChildren().length,
  };
}

async function waitUntil(condition, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

/** Runs the load until `shouldStop` holds, then waits for quiescence. */
async function runPhase(name, shouldStop) {
  const startedAt = performance.now();
  const callsBefore = sequence;
  const callers = Array.from({ length: concurrency }, async () => {
    while (!shouldStop()) await startCall();
  });
  await Promise.all(callers);
  if (!(await waitUntil(() => pending.size === 0, 60_000))) {
    violation(`${pending.size} calls of phase ${name} never settled`);
  }
  const backToSize = await waitUntil(() => {
    const { workers } = pool.getStats();
    return workers.total === size && workers.idle === size;
  }, 30_000);
  if (!backToSize) {
    violation(
      `after phase ${name} the pool did not return to ${size} idle workers: ${JSON.stringify(pool.getStats().workers)}`,
    );
  }
  // Every live process the pool ever started must be one of its workers.
  const workerPids = new Set(pool.workers().map((worker) => worker.pid));
  const orphans = pythonChildren().filter((pid) => !workerPids.has(pid));
  if (orphans.length > 0) {
    violation(
      `after phase ${name}, Python processes ${orphans.join(', ')} live outside the pool`,
    );
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const calls = sequence - callsBefore;
  console.log(
    `phase ${name}: ${calls} calls in ${seconds.toFixed(1)} s (${(calls / seconds).toFixed(0)}/s), ` +
      `${pool.getStats().totals.restarts} restarts and ${pool.getStats().totals.recycled} recycles so far`,
  );
  return sample(`end of ${name}`);
}

function phaseLimit(share) {
  if (totalCalls !== undefined) {
    const target = sequence + Math.max(1, Math.round(totalCalls * share));
    return () => sequence >= target;
  }
  const deadline = Date.now() + durationS * 1000 * share;
  return () => Date.now() >= deadline;
}

// ---------------------------------------------------------------------------
// Run.

console.log(
  `soak: pool of ${size} (+2 overflow), ${concurrency} callers, ` +
    (totalCalls !== undefined ? `${totalCalls} calls` : `${durationS} s`) +
    `, seed ${seed}, payloads up to ${maxPayloadBytes / MIB} MiB`,
);
const samples = [await sample('start')];
samples.push(await runPhase('warm-up', phaseLimit(0.2)));
samples.push(await runPhase('A', phaseLimit(0.4)));
samples.push(await runPhase('B', phaseLimit(0.4)));

const stats = pool.getStats();
const aliveBeforeClose = pythonChildren().length;
await pool.close();
const allGone = await waitUntil(() => pythonChildren().length === 0, 5_000);
if (!allGone) {
  violation(
    `Python processes still alive after close: ${pythonChildren().join(', ')}`,
  );
}

// ---------------------------------------------------------------------------
// Report.

const formatBytes = (bytes) => `${(bytes / MIB).toFixed(1)} MiB`;
console.log('\nresources (after a full GC):');
console.log(
  [
    'sample',
    'heapUsed',
    'arrayBuffers',
    'rss',
    'fds',
    'resources',
    'listeners',
    'python',
  ]
    .map((h, i) => (i === 0 ? h.padEnd(16) : h.padStart(14)))
    .join(''),
);
for (const s of samples) {
  console.log(
    [
      s.label.padEnd(16),
      formatBytes(s.heapUsed).padStart(14),
      formatBytes(s.arrayBuffers).padStart(14),
      formatBytes(s.rss).padStart(14),
      String(s.fds).padStart(14),
      String(s.activeResources).padStart(14),
      String(s.listeners).padStart(14),
      String(s.pythonProcesses).padStart(14),
    ].join(''),
  );
}

const [, , endA, endB] = samples;
console.log('\ngrowth from the end of phase A to the end of phase B:');
for (const [key, bound] of Object.entries(GROWTH_BOUNDS)) {
  const growth = endB[key] - endA[key];
  const isBytes = key === 'heapUsed' || key === 'arrayBuffers' || key === 'rss';
  const formattedGrowth = isBytes ? formatBytes(growth) : String(growth);
  const shownBound = isBytes ? formatBytes(bound) : String(bound);
  const ok = growth <= bound;
  console.log(
    `  ${key.padEnd(16)} ${formattedGrowth.padStart(12)}  (bound ${shownBound}) ${ok ? 'ok' : 'EXCEEDED'}`,
  );
  if (!ok)
    violation(
      `${key} grew by ${formattedGrowth} from phase A to phase B, over the bound of ${shownBound}`,
    );
}

console.log('\ncalls by kind (started, right, wrong; outcomes):');
let started = 0;
let right = 0;
for (const name of KIND_NAMES) {
  const entry = tally[name];
  started += entry.started;
  right += entry.right;
  const outcomes = Object.entries(entry.outcomes)
    .map(([key, count]) => `${key} ${count}`)
    .join(', ');
  console.log(
    `  ${name.padEnd(14)} ${String(entry.started).padStart(7)} ${String(entry.right).padStart(7)} ${String(entry.wrong).padStart(5)}  ${outcomes}`,
  );
}
console.log(
  `\npool totals: ${JSON.stringify(stats.totals)}; ${seenPids.size} Python processes started, ` +
    `${aliveBeforeClose} alive before close, ${pythonChildren().length} after; ` +
    `${stderrLines} stderr lines logged`,
);

for (const name of KIND_NAMES) {
  const entry = tally[name];
  if (entry.started !== entry.right + entry.wrong) {
    violation(
      `${name}: ${entry.started} calls started but ${entry.right + entry.wrong} settled`,
    );
  }
}
if (violations.length > 0) {
  console.log(
    `\nsoak FAILED with ${violations.length} violations (first ${Math.min(20, violations.length)} above).`,
  );
  process.exit(1);
}
console.log(
  `\nsoak OK: ${started} calls started, ${right} settled once with the right outcome.`,
);
process.exit(0);
