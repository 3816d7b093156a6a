// pnpm bench [--quick] [--only=throughput,start,memory,replace,queue,batch]
//            [--workers=1,2,4] [--workloads=noop,1kb,1mb,10mb,cpu5]
//            [--reps=N] [--compare=DIR] [--svg=PATH]
//
// Runs the raw pipe, python-shell and pyroost side by side in interleaved
// repetitions and prints min, median and max of each figure, the ratios
// against the raw pipe and a verdict per target. Results go to
// bench/results/ (JSON and Markdown); the full run also writes the chart to
// docs/benchmarks-calls.svg.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  measureBatch,
  measureMemory,
  measureQueue,
  measureReplacement,
  measureStartTimes,
} from './extras.mjs';
import {
  closedLoop,
  collectGarbage,
  rotate,
  spread,
  startCpuCount,
} from './measure.mjs';
import {
  callsChart,
  evaluateTargets,
  extraTables,
  formatSpread,
  targetsTable,
  throughputTables,
} from './report.mjs';
import { PYTHON, SYSTEMS, startPyroost } from './systems.mjs';
import { makeWorkloads } from './workloads.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const resultsDirectory = resolve(root, 'bench/results');

function parseArguments(argv) {
  const options = {};
  for (const argument of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(argument);
    if (!match) {
      throw new Error(
        `Unknown argument ${JSON.stringify(argument)}; expected --quick, --only=, --workers=, ` +
          '--workloads=, --reps=, --compare= or --svg=.',
      );
    }
    options[match[1]] = match[2] ?? true;
  }
  return options;
}

const list = (text) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

function makePlan(options) {
  const quick = Boolean(options.quick);
  const plan = quick
    ? {
        quick,
        sections: [
          'throughput',
          'start',
          'memory',
          'replace',
          'queue',
          'batch',
        ],
        workers: [1, 2],
        workloads: ['noop', '1kb', '1mb', 'cpu5'],
        repetitions: 2,
        durationMs: 200,
        startSizes: [1, 2, 4],
        startRepetitions: 2,
        memoryRepetitions: 1,
        replaceRepetitions: 2,
        queueCounts: [2_000, 20_000],
        queueRepetitions: 1,
        batchConfigurations: [{ workers: 1, callers: 1 }],
        svg: resolve(resultsDirectory, 'benchmarks-calls-quick.svg'),
      }
    : {
        quick,
        sections: [
          'throughput',
          'start',
          'memory',
          'replace',
          'queue',
          'batch',
        ],
        workers: [1, 2, 4],
        workloads: ['noop', '1kb', '1mb', '10mb', 'cpu5'],
        repetitions: 3,
        durationMs: 500,
        startSizes: [1, 2, 4, 8],
        startRepetitions: 5,
        memoryRepetitions: 3,
        replaceRepetitions: 5,
        queueCounts: [10_000, 100_000],
        queueRepetitions: 2,
        batchConfigurations: [
          { workers: 1, callers: 1 },
          { workers: 4, callers: 8 },
        ],
        svg: resolve(root, 'docs/benchmarks-calls.svg'),
      };
  if (options.only) plan.sections = list(options.only);
  if (options.workers) plan.workers = list(options.workers).map(Number);
  if (options.workloads) plan.workloads = list(options.workloads);
  if (options.reps) plan.repetitions = Number(options.reps);
  // A partial run must not replace the chart of the full run in docs/.
  const partial = ['only', 'workers', 'workloads', 'reps', 'compare'].some(
    (key) => key in options,
  );
  if (partial)
    plan.svg = resolve(resultsDirectory, 'benchmarks-calls-partial.svg');
  if (options.svg) plan.svg = resolve(options.svg);
  plan.compare = options.compare ? resolve(options.compare) : undefined;
  return plan;
}

/** Caller counts for a worker count: one, two per worker, and 64. */
function callerCounts(workload, workers) {
  const counts = [1, workers * 2, 64];
  // 64 concurrent 10 MB calls would only measure the queue for minutes.
  if (workload.key === '10mb') counts.pop();
  return [...new Set(counts)];
}

async function loadSystems(plan) {
  const systems = [...SYSTEMS];
  if (plan.compare) {
    const url = pathToFileURL(
      resolve(plan.compare, 'node_modules/@pyroost/api/dist/index.js'),
    );
    const { PythonPool } = await import(url.href);
    plan.beforePythonPool = PythonPool;
    systems.push(
      {
        key: 'before',
        label: 'pyroost (before)',
        start: (n) => startPyroost(n, { PythonPoolClass: PythonPool }),
      },
      {
        key: 'beforeOtel',
        label: 'pyroost + OTel (before)',
        start: (n) =>
          startPyroost(n, { tracing: true, PythonPoolClass: PythonPool }),
      },
    );
  }
  return systems;
}

function log(text) {
  process.stdout.write(`${text}\n`);
}

async function measureThroughput(plan, systems, workloads) {
  const cells = [];
  for (const workers of plan.workers) {
    log(`\n# ${workers} worker(s): starting ${systems.length} systems`);
    const handles = {};
    for (const system of systems)
      handles[system.key] = await system.start(workers);
    // Warm-up: the JIT compiles each system's call path before anything is
    // measured, and every workload runs once.
    for (const system of systems) {
      const handle = handles[system.key];
      for (const workload of workloads) {
        // A few calls are enough for the slow workloads; the cpu program
        // alone would take 5 s per system for 1,000 calls.
        let calls = 1_000;
        if (workload.bytes >= 100_000) calls = 2;
        else if (workload.program === 'cpu') calls = 20;
        for (let call = 0; call < calls; call += 1) {
          await handle.call(workload.program, workload.inputs);
        }
      }
      await closedLoop(() => handle.call('noop', {}), {
        callers: workers * 2,
        durationMs: plan.durationMs,
      });
    }

    const atSize = [];
    for (const workload of workloads) {
      for (const callers of callerCounts(workload, workers)) {
        const cell = {
          workload: workload.key,
          workloadLabel: workload.label,
          bytes: workload.bytes,
          workers,
          callers,
          samples: {},
        };
        for (const system of systems) cell.samples[system.key] = [];
        atSize.push(cell);
      }
    }

    for (let repetition = 0; repetition < plan.repetitions; repetition += 1) {
      for (const cell of atSize) {
        const workload = workloads.find(
          (candidate) => candidate.key === cell.workload,
        );
        const durationMs =
          workload.bytes >= 5_000_000 ? plan.durationMs * 2 : plan.durationMs;
        for (const system of rotate(systems, repetition + cells.length)) {
          const handle = handles[system.key];
          collectGarbage();
          const cpu = startCpuCount(handle.pids());
          const sample = await closedLoop(
            () => handle.call(workload.program, workload.inputs),
            {
              callers: cell.callers,
              durationMs,
              minCallsPerCaller: workload.bytes >= 5_000_000 ? 1 : 2,
            },
          );
          const { nodeMicros, pythonMicros } = cpu();
          sample.nodeCpuUs = nodeMicros / sample.calls;
          sample.pythonCpuUs = pythonMicros / sample.calls;
          sample.megabytesPerSecond =
            (sample.callsPerSecond * workload.bytes) / 1e6;
          cell.samples[system.key].push(sample);
        }
        if (repetition === plan.repetitions - 1) {
          const raw = cell.samples.raw.map((sample) => sample.callsPerSecond);
          log(
            `${cell.workloadLabel.padEnd(11)} workers ${workers} callers ${String(cell.callers).padStart(2)}: ` +
              systems
                .map((system) => {
                  const rates = cell.samples[system.key].map(
                    (sample) => sample.callsPerSecond,
                  );
                  const ratios = rates.map((rate, index) => rate / raw[index]);
                  const cpu = cell.samples[system.key].map(
                    (sample) => sample.nodeCpuUs + sample.pythonCpuUs,
                  );
                  return (
                    `${system.key} ${spread(rates).median.toFixed(0)}/s (${spread(ratios).median.toFixed(2)}×, ` +
                    `${spread(cpu).median.toFixed(0)} µs CPU)`
                  );
                })
                .join('  '),
          );
        }
      }
    }
    await Promise.all(systems.map((system) => handles[system.key].close()));
    cells.push(...atSize);
  }

  for (const cell of cells) {
    cell.systems = {};
    const raw = cell.samples.raw;
    for (const system of systems) {
      const samples = cell.samples[system.key];
      cell.systems[system.key] = {
        callsPerSecond: spread(samples.map((sample) => sample.callsPerSecond)),
        megabytesPerSecond: spread(
          samples.map((sample) => sample.megabytesPerSecond),
        ),
        p50Ms: spread(samples.map((sample) => sample.p50Ms)),
        p99Ms: spread(samples.map((sample) => sample.p99Ms)),
        ratioCalls: spread(
          samples.map(
            (sample, index) =>
              sample.callsPerSecond / raw[index].callsPerSecond,
          ),
        ),
        ratioP99: spread(
          samples.map((sample, index) => sample.p99Ms / raw[index].p99Ms),
        ),
        nodeCpuUs: spread(samples.map((sample) => sample.nodeCpuUs)),
        pythonCpuUs: spread(samples.map((sample) => sample.pythonCpuUs)),
        ratioCpu: spread(
          samples.map(
            (sample, index) =>
              (sample.nodeCpuUs + sample.pythonCpuUs) /
              (raw[index].nodeCpuUs + raw[index].pythonCpuUs),
          ),
        ),
      };
    }
    delete cell.samples;
  }
  return cells;
}

function machine() {
  const pythonVersion = execFileSync(
    PYTHON,
    ['-c', 'import platform; print(platform.python_version())'],
    {
      encoding: 'utf8',
    },
  ).trim();
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: cpus().length,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    node: process.version,
    python: pythonVersion,
    loadAverageAtStart: loadavg().map((value) => Number(value.toFixed(2))),
  };
}

async function main() {
  const plan = makePlan(parseArguments(process.argv.slice(2)));
  const systems = await loadSystems(plan);
  const startedAt = performance.now();
  const results = {
    date: new Date().toISOString(),
    quick: plan.quick,
    machine: machine(),
    systems: systems.map(({ key, label }) => ({ key, label })),
    before: {},
  };
  log(
    `pyroost benchmarks (${plan.quick ? 'quick' : 'full'}): ${results.machine.nproc} CPUs, ` +
      `${results.machine.cpuModel}, Node ${results.machine.node}, Python ${results.machine.python}, ` +
      `load ${results.machine.loadAverageAtStart.join(' ')}`,
  );

  if (plan.sections.includes('throughput')) {
    const workloads = makeWorkloads(plan.workloads);
    results.cells = await measureThroughput(plan, systems, workloads);
  }
  if (plan.sections.includes('start')) {
    log('\n# start time');
    results.start = await measureStartTimes({
      sizes: plan.startSizes,
      repetitions: plan.startRepetitions,
    });
    log(`bare spawn ${formatSpread(results.start.bareMs, 1)} ms`);
    if (plan.beforePythonPool) {
      results.before.start = await measureStartTimes({
        sizes: plan.startSizes,
        repetitions: plan.startRepetitions,
        PythonPoolClass: plan.beforePythonPool,
      });
    }
  }
  if (plan.sections.includes('memory')) {
    log('\n# memory');
    results.memory = await measureMemory({
      workers: 2,
      repetitions: plan.memoryRepetitions,
    });
    log(
      `pyroost worker over bare python3: ${formatSpread(results.memory.overheadMb, 1)} MB`,
    );
    if (plan.beforePythonPool) {
      results.before.memory = await measureMemory({
        workers: 2,
        repetitions: plan.memoryRepetitions,
        PythonPoolClass: plan.beforePythonPool,
      });
    }
  }
  if (plan.sections.includes('replace')) {
    log('\n# replacement of a killed worker');
    results.replacement = await measureReplacement({
      repetitions: plan.replaceRepetitions,
    });
    log(
      `replaced in ${formatSpread(results.replacement.defaultBackoff, 1)} ms`,
    );
  }
  if (plan.sections.includes('queue')) {
    log('\n# queued callers');
    results.queue = await measureQueue({
      counts: plan.queueCounts,
      workers: 2,
      repetitions: plan.queueRepetitions,
    });
    if (plan.beforePythonPool) {
      results.before.queue = await measureQueue({
        counts: plan.queueCounts,
        workers: 2,
        repetitions: plan.queueRepetitions,
        PythonPoolClass: plan.beforePythonPool,
      });
    }
  }
  if (plan.sections.includes('batch')) {
    log('\n# executeBatch');
    results.batch = await measureBatch({
      configurations: plan.batchConfigurations,
      batchSize: 100,
      durationMs: plan.durationMs * 2,
      repetitions: plan.repetitions,
    });
    if (plan.beforePythonPool) {
      results.before.batch = await measureBatch({
        configurations: plan.batchConfigurations,
        batchSize: 100,
        durationMs: plan.durationMs * 2,
        repetitions: plan.repetitions,
        PythonPoolClass: plan.beforePythonPool,
      });
    }
  }
  results.machine.loadAverageAtEnd = loadavg().map((value) =>
    Number(value.toFixed(2)),
  );
  results.durationSeconds = Math.round((performance.now() - startedAt) / 1000);
  results.targets = evaluateTargets(results);

  const sections = [];
  if (results.cells) {
    const { callsTable, bandwidthTable, latencyTable, cpuTable } =
      throughputTables(results);
    sections.push(`## Calls per second\n\n${callsTable}`);
    sections.push(
      `## MB/s (payload bytes per second, one way)\n\n${bandwidthTable}`,
    );
    sections.push(`## Latency\n\n${latencyTable}`);
    sections.push(`## CPU time per call\n\n${cpuTable}`);
  }
  const extras = extraTables(results);
  if (results.before && Object.keys(results.before).length > 0) {
    extras.push(
      '### The same figures for the code before the changes\n\n' +
        extraTables(results.before).join('\n\n'),
    );
  }
  if (extras.length > 0)
    sections.push(
      `## Start, memory, replacement, queue, batch\n\n${extras.join('\n\n')}`,
    );
  sections.push(`## Targets\n\n${targetsTable(results.targets)}`);
  const markdown = `${sections.join('\n\n')}\n`;
  log(`\n${markdown}`);
  log(
    `Took ${results.durationSeconds} s; load average at the end ${results.machine.loadAverageAtEnd.join(' ')}.`,
  );

  mkdirSync(resultsDirectory, { recursive: true });
  const stem = plan.quick ? 'quick' : 'latest';
  writeFileSync(
    resolve(resultsDirectory, `${stem}.json`),
    `${JSON.stringify(results, null, 2)}\n`,
  );
  writeFileSync(resolve(resultsDirectory, `${stem}.md`), markdown);
  if (results.cells?.some((cell) => cell.workload === 'noop')) {
    writeFileSync(plan.svg, callsChart(results));
    log(`Chart written to ${plan.svg}`);
  }
}

main().then(
  () => {
    collectGarbage();
    // Timers from pools that failed to close must not keep the run alive.
    process.exit(0);
  },
  (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  },
);
