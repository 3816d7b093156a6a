// Analyses every module of the Python standard library on a pyroost pool,
// then again on a pool of one worker. Prints the totals, the most complex
// modules, the files that failed and the speed-up of the pool, with the load
// of the machine around the runs.
//
// Run with `pnpm demo` from the repository root, or `node main.mjs --help`
// after building @pyroost/api.
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { PythonPool, isPyroostError } from '@pyroost/api';
import { coreCount, formatMachineLoad, oneMinuteLoad } from './timing.mjs';

const PROGRAMS_FILE = fileURLToPath(new URL('./programs.py', import.meta.url));
const PROGRAM = 'analyze_module';
const PYTHON = process.env.PYROOST_PYTHON || 'python3';

// Third-party packages live in these folders of the stdlib directory. They
// are skipped there, but not in a tree given with --dir.
const THIRD_PARTY_DIRECTORIES = new Set(['site-packages', 'dist-packages']);

// Files sent per executeBatch frame. Smaller frames spread the last files
// more evenly over the workers, larger ones send fewer frames.
// NOTE: a worker crash or timeout fails every file of its frame with the same
// error, not only the file that caused it.
const BATCH_SIZE = 25;
// One frame of BATCH_SIZE files stays far below this. It only stops a file
// that hangs the parser from hanging the run.
const BATCH_TIMEOUT_MS = 120_000;
// Frames wait in the pool's queue while all workers are busy. The default
// checkout timeout of 5 s would fail them on a slow machine.
const CHECKOUT_TIMEOUT_MS = 600_000;

const TOP_COUNT = 10;
const EXAMPLES_PER_ERROR = 3;

const USAGE = `Usage: node main.mjs [--dir PATH] [--limit N] [--json]

Analyses every .py file of the Python standard library with the
${PROGRAM} program of programs.py: first on a pool with one worker per CPU,
then on a pool of one worker, and compares the wall times.

Options:
  --dir PATH   analyse the .py files under PATH instead of the stdlib directory
  --limit N    analyse only the first N files, in path order
  --json       print one JSON object instead of the text report
  --help       print this help

Environment:
  PYROOST_PYTHON  Python interpreter for the workers and for finding the
                  stdlib directory (default: python3)

Exit status: 0 when the run completed, even if some files failed to parse.
1 when the pool failed, or the two runs disagree. 2 on invalid options.`;

/** Invalid options: the message is printed with a pointer to --help, exit status 2. */
class UsageError extends Error {}

/** Expected failure, such as a missing interpreter: the message is printed without a stack, exit status 1. */
class SetupError extends Error {}

/** Parses argv into { dir, limit, json, help }. Throws UsageError on invalid options. */
function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        dir: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(
      error.message.endsWith('.') ? error.message : `${error.message}.`,
    );
  }
  const { dir, limit, json, help } = parsed.values;
  let limitCount;
  if (limit !== undefined) {
    limitCount = Number(limit);
    if (!Number.isInteger(limitCount) || limitCount < 1) {
      throw new UsageError(
        `Invalid --limit ${JSON.stringify(limit)}: expected a whole number of files of at least 1, such as --limit 100.`,
      );
    }
  }
  return {
    dir: dir === undefined ? undefined : resolve(dir),
    limit: limitCount,
    json,
    help,
  };
}

/** Returns the stdlib directory of the Python interpreter `python`. */
async function findStdlibDirectory(python) {
  const script = "import sysconfig; print(sysconfig.get_paths()['stdlib'])";
  try {
    const { stdout } = await promisify(execFile)(python, ['-c', script]);
    return stdout.trim();
  } catch (error) {
    throw new SetupError(
      `Failed to find the stdlib directory with ${python}: ${error.message.trim()}. ` +
        'Set PYROOST_PYTHON to a Python 3 interpreter, or pass --dir PATH.',
      { cause: error },
    );
  }
}

/** Throws UsageError unless `path` is a folder. */
async function checkDirectory(path) {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  let problem;
  if (info === undefined) problem = 'folder not found';
  else if (!info.isDirectory()) problem = 'not a folder';
  if (problem !== undefined) {
    throw new UsageError(
      `Invalid --dir ${path}: ${problem}. Pass a folder that contains .py files.`,
    );
  }
}

/**
 * Returns the absolute paths of the .py files under `root`, sorted. Symbolic
 * links are not followed, and folders named in `skipped` are left out.
 */
async function collectPythonFiles(root, skipped) {
  const files = [];
  const pending = [root];
  while (pending.length > 0) {
    const directory = pending.pop();
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) {
        if (!skipped.has(entry.name)) pending.push(path);
      } else if (entry.isFile() && entry.name.endsWith('.py')) {
        files.push(path);
      }
    }
  }
  return files.sort();
}

/** Calls `task` for each item with at most `limit` calls running at a time. */
async function forEachConcurrent(items, limit, task) {
  let next = 0;
  async function runner() {
    while (next < items.length) {
      const index = next;
      next += 1;
      await task(items[index], index);
    }
  }
  await Promise.all(Array.from({ length: limit }, runner));
}

/**
 * Runs analyze_module on every file, on a pool of `size` workers (the default
 * size when undefined). Returns one { path, ok, result | error } per file,
 * the pool size and the seconds taken, pool start-up not included.
 *
 * The files go out in executeBatch frames of BATCH_SIZE, one frame per
 * worker at a time, because that was faster than one executeProgram call per
 * file. The measurement ran 3 times each on 2 CPUs shared with other jobs
 * (load average 5 to 7), with 1,790 stdlib files, Python 3.11 and 2 workers.
 * Batches used 10.0 to 10.6 s of CPU (user + sys of node and the workers,
 * from /usr/bin/time) and took 4.9 s at best. Per-file calls, with one or two
 * calls per worker in flight, used 11.1 to 11.8 s of CPU and took 7.3 s at
 * best.
 */
async function analyzeFiles(files, size) {
  const pool = await PythonPool.start({
    programs: [PROGRAMS_FILE],
    python: PYTHON,
    size,
    // Overflow workers would make the pool larger than `size` under load.
    overflow: 0,
    checkoutTimeoutMs: CHECKOUT_TIMEOUT_MS,
  });
  try {
    const workers = pool.getStats().size;
    const chunks = [];
    for (let start = 0; start < files.length; start += BATCH_SIZE) {
      chunks.push(files.slice(start, start + BATCH_SIZE));
    }
    const outcomes = new Array(files.length);
    const startedAt = performance.now();
    await forEachConcurrent(chunks, workers, async (chunk, chunkIndex) => {
      const results = await pool.executeBatch(
        PROGRAM,
        chunk.map((path) => ({ path })),
        { chunkSize: chunk.length, timeoutMs: BATCH_TIMEOUT_MS },
      );
      results.forEach((item, offset) => {
        outcomes[chunkIndex * BATCH_SIZE + offset] = {
          path: chunk[offset],
          ...item,
        };
      });
    });
    const seconds = (performance.now() - startedAt) / 1000;
    return { outcomes, workers, seconds };
  } finally {
    await pool.close();
  }
}

/**
 * Returns the name a failure is grouped under: the Python exception class
 * for an error raised by analyze_module, else the pyroost error type.
 */
function errorName(error) {
  if (
    error.type === 'program_error' &&
    typeof error.context.exception === 'string'
  ) {
    return error.context.exception;
  }
  return error.type;
}

/** Returns the first line of an error message, with `root/` removed from paths. */
function shortMessage(error, root) {
  const firstLine = error.message.split('\n', 1)[0];
  return firstLine.replaceAll(root + '/', '');
}

/**
 * Returns up to EXAMPLES_PER_ERROR failures, preferring different messages.
 * Two messages count as the same when their first sentences match once
 * quoted text and the trailing `(file.py, line N)` are removed.
 */
function pickExamples(failures) {
  const messageKey = (message) =>
    message
      .replace(/ \([^()]*, line \d+\)$/, '')
      .replace(/'[^']*'|"[^"]*"/g, "''")
      .split(/[.?] /, 1)[0];
  const seen = new Set();
  const distinct = [];
  const repeated = [];
  for (const failure of failures) {
    const key = messageKey(failure.message);
    if (seen.has(key)) {
      repeated.push(failure);
    } else {
      seen.add(key);
      distinct.push(failure);
    }
  }
  return [...distinct, ...repeated].slice(0, EXAMPLES_PER_ERROR);
}

/** Sums the results, ranks the modules and groups the failures by error name. */
function buildReport(root, outcomes) {
  const totals = {
    lines: 0,
    functions: 0,
    asyncFunctions: 0,
    methods: 0,
    classes: 0,
    importStatements: 0,
    importedNames: 0,
  };
  const analysed = [];
  const failures = new Map();
  let unexpectedFailures = 0;

  for (const outcome of outcomes) {
    const path = relative(root, outcome.path);
    if (outcome.ok) {
      const result = outcome.result;
      totals.lines += result.lines;
      totals.functions += result.functions;
      totals.asyncFunctions += result.async_functions;
      totals.methods += result.methods;
      totals.classes += result.classes;
      totals.importStatements += result.import_statements;
      totals.importedNames += result.imported_names;
      analysed.push({ path, ...result });
      continue;
    }
    const name = errorName(outcome.error);
    if (outcome.error.type !== 'program_error') unexpectedFailures += 1;
    let group = failures.get(name);
    if (group === undefined) {
      group = { error: name, count: 0, all: [] };
      failures.set(name, group);
    }
    group.count += 1;
    group.all.push({ path, message: shortMessage(outcome.error, root) });
  }

  const top = analysed
    .sort((a, b) => b.complexity - a.complexity || a.path.localeCompare(b.path))
    .slice(0, TOP_COUNT)
    .map(({ path, complexity, lines, max_nesting }) => ({
      path,
      complexity,
      lines,
      maxNesting: max_nesting,
    }));

  return {
    root,
    files: outcomes.length,
    analysed: analysed.length,
    failed: outcomes.length - analysed.length,
    unexpectedFailures,
    totals,
    top,
    failures: [...failures.values()]
      .sort((a, b) => b.count - a.count || a.error.localeCompare(b.error))
      .map(({ error, count, all }) => ({
        error,
        count,
        examples: pickExamples(all),
      })),
  };
}

/** Returns the paths whose outcome differs between two runs over the same files. */
function findMismatches(first, second) {
  const mismatches = [];
  first.forEach((outcome, index) => {
    const other = second[index];
    const same = outcome.ok
      ? other.ok &&
        JSON.stringify(outcome.result) === JSON.stringify(other.result)
      : !other.ok && errorName(outcome.error) === errorName(other.error);
    if (!same) mismatches.push(outcome.path);
  });
  return mismatches;
}

const integer = new Intl.NumberFormat('en-US');

function printReport(report, timing) {
  const { totals } = report;
  const lines = [
    `Analysed ${integer.format(report.files)} files under ${report.root}: ` +
      `${integer.format(report.analysed)} parsed, ${integer.format(report.failed)} failed.`,
    '',
    'Totals',
    `  lines             ${integer.format(totals.lines)}`,
    `  functions         ${integer.format(totals.functions)} ` +
      `(${integer.format(totals.methods)} methods, ${integer.format(totals.asyncFunctions)} async)`,
    `  classes           ${integer.format(totals.classes)}`,
    `  imports           ${integer.format(totals.importStatements)} statements, ` +
      `${integer.format(totals.importedNames)} names`,
    '',
    `The ${report.top.length} most complex modules`,
    `  ${'complexity'.padStart(10)} ${'lines'.padStart(7)} ${'nesting'.padStart(7)}  path`,
  ];
  for (const module of report.top) {
    lines.push(
      `  ${String(module.complexity).padStart(10)} ${String(module.lines).padStart(7)} ` +
        `${String(module.maxNesting).padStart(7)}  ${module.path}`,
    );
  }
  lines.push('', 'Failed files by error type');
  if (report.failures.length === 0) lines.push('  none');
  for (const group of report.failures) {
    lines.push(`  ${group.error}: ${group.count}`);
    for (const example of group.examples) {
      lines.push(`    ${example.path}: ${example.message}`);
    }
  }
  lines.push(
    '',
    `Wall time: ${timing.workers} workers ${timing.poolSeconds.toFixed(2)} s, ` +
      `1 worker ${timing.oneWorkerSeconds.toFixed(2)} s, ` +
      `speed-up ${timing.speedUp.toFixed(2)}x (pool start-up not included)`,
    ...formatMachineLoad(timing),
  );
  process.stdout.write(lines.join('\n') + '\n');
}

async function main(argv) {
  const options = parseOptions(argv);
  if (options.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const log = options.json
    ? () => {}
    : (line) => process.stderr.write(line + '\n');

  if (options.dir !== undefined) await checkDirectory(options.dir);
  const root = options.dir ?? (await findStdlibDirectory(PYTHON));
  const skipped =
    options.dir === undefined ? THIRD_PARTY_DIRECTORIES : new Set();
  let files = await collectPythonFiles(root, skipped);
  if (options.limit !== undefined) files = files.slice(0, options.limit);
  if (files.length === 0) {
    throw new UsageError(
      `No .py files found under ${root}. Pass --dir with a folder that contains Python files.`,
    );
  }

  log(
    `Analysing ${integer.format(files.length)} files under ${root} on a pool of the default size...`,
  );
  const loadBefore = oneMinuteLoad();
  const pooled = await analyzeFiles(files, undefined);
  log(
    `Done in ${pooled.seconds.toFixed(2)} s on ${pooled.workers} workers. Again on 1 worker...`,
  );
  const single = await analyzeFiles(files, 1);

  const report = buildReport(root, pooled.outcomes);
  const timing = {
    workers: pooled.workers,
    poolSeconds: pooled.seconds,
    oneWorkerSeconds: single.seconds,
    speedUp: single.seconds / pooled.seconds,
    cores: coreCount(),
    loadBefore,
    loadAfter: oneMinuteLoad(),
  };
  const mismatches = findMismatches(pooled.outcomes, single.outcomes);

  if (options.json) {
    const output = {
      python: PYTHON,
      ...report,
      timing,
      mismatches: mismatches.map((path) => relative(root, path)),
    };
    process.stdout.write(JSON.stringify(output, null, 2) + '\n');
  } else {
    printReport(report, timing);
  }

  let exitCode = 0;
  if (report.unexpectedFailures > 0) {
    process.stderr.write(
      `${report.unexpectedFailures} files failed in the pool, not in ${PROGRAM} ` +
        '(see the error types other than Python exceptions above).\n',
    );
    exitCode = 1;
  }
  if (mismatches.length > 0) {
    process.stderr.write(
      `The two runs disagree on ${mismatches.length} files, for example ${mismatches.slice(0, 3).join(', ')}.\n`,
    );
    exitCode = 1;
  }
  return exitCode;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(
      `${error.message}\nRun node main.mjs --help for the options.\n`,
    );
    process.exitCode = 2;
  } else if (error instanceof SetupError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  } else {
    const detail = isPyroostError(error)
      ? `${error.type}: ${error.message}`
      : error.stack;
    process.stderr.write(`stdlib analysis failed: ${detail}\n`);
    process.exitCode = 1;
  }
}
