import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  runCli,
  type CliIo,
} from './index.js';

const PROGRAMS_SOURCE = `
import time

from pyroost import current_session_id, program


@program
def divide(a, b):
    return a / b


@program
def count_lines(path):
    with open(path, encoding="utf-8") as file:
        return sum(1 for _ in file)


@program
def session_of_call():
    return current_session_id()


@program
def sleep(seconds):
    time.sleep(seconds)
    return seconds


@program
def noop():
    return None


calls_made = 0


@program
def fail_every_other_call():
    global calls_made
    calls_made += 1
    if calls_made % 2 == 0:
        raise ValueError("even call")
    return calls_made
`;

// Writes a line to stderr, then blocks its import far past any start timeout
// that the tests pass.
const HANGING_PROGRAMS_SOURCE = `
import sys
import time

print("loading the model", file=sys.stderr, flush=True)
time.sleep(600)
`;

const BUILT_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

let folder: string;
let programs: string;

interface Captured {
  io: CliIo;
  stdout: () => string;
  stderr: () => string;
}

function captureIo(): Captured {
  let stdout = '';
  let stderr = '';
  return {
    io: {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      cwd: folder,
    },
    stdout: () => stdout,
    stderr: () => stderr,
  };
}

/** Returns `run` arguments that call `program` from the test programs file. */
function runArgs(program: string): string[] {
  return ['run', '--programs', programs, '--program', program];
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process in `cwd` and returns its exit status and output. */
async function cliIn(cwd: string, ...argv: string[]): Promise<CliResult> {
  const captured = captureIo();
  const code = await runCli(argv, { ...captured.io, cwd });
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

/** Runs the CLI in-process in the test folder. */
function cli(...argv: string[]): Promise<CliResult> {
  return cliIn(folder, ...argv);
}

/** Returns a relative path from `cwd` to `target` that climbs above the root. */
function climbingPath(cwd: string, target: string): string {
  const depth = cwd.split(sep).filter((part) => part !== '').length;
  return '../'.repeat(depth + 3) + target.replace(/^\/+/, '');
}

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'pyroost-cli-'));
  programs = join(folder, 'programs.py');
  writeFileSync(programs, PROGRAMS_SOURCE);
  mkdirSync(join(folder, 'texts'));
  writeFileSync(join(folder, 'texts', 'one.txt'), 'a\n');
  writeFileSync(join(folder, 'texts', 'three.txt'), 'a\nb\nc\n');
  writeFileSync(join(folder, 'texts', 'skipped.md'), 'not matched\n');
  writeFileSync(
    join(folder, 'calls.jsonl'),
    '{"a": 6, "b": 3}\n{"a": 1, "b": 0}\n\n{"a": 9, "b": 3}\n',
  );
  writeFileSync(join(folder, 'broken.jsonl'), '{"a": 1, "b": 2}\n{"a": 1,\n');
  writeFileSync(join(folder, 'empty.jsonl'), '\n\n');
  writeFileSync(join(folder, 'hanging.py'), HANGING_PROGRAMS_SOURCE);
  mkdirSync(join(folder, 'other'));
  writeFileSync(join(folder, 'other', 'two.txt'), 'a\nb\n');
});

afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

describe('pyroost run', () => {
  it('runs one --input', async () => {
    const { code, stdout } = await cli(
      ...runArgs('divide'),
      '--input',
      '{"a": 1, "b": 4}',
    );
    expect(code).toBe(EXIT_OK);
    expect(stdout).toContain('[ok]     input: 0.25');
    expect(stdout).toMatch(/done +1 of 1 inputs in [\d.]+ s on 1 worker/);
    expect(stdout).toMatch(/failed +0\n/);
    expect(stdout).toMatch(/throughput +[\d.]+ inputs\/s/);
    expect(stdout).toMatch(
      /latency +p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms/,
    );
  });

  it('reports a failing --inputs line', async () => {
    const { code, stdout } = await cli(
      ...runArgs('divide'),
      '--inputs',
      'calls.jsonl',
      '--workers',
      '2',
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(stdout).toContain('[ok]     line 1: 2');
    expect(stdout).toContain(
      '[failed] line 2: ZeroDivisionError: division by zero',
    );
    expect(stdout).toContain('[ok]     line 4: 3');
    expect(stdout).toMatch(/done +3 of 3 inputs .* on 2 workers/);
    expect(stdout).toMatch(/succeeded +2\n/);
    expect(stdout).toContain('failed      1 (ZeroDivisionError 1)');
  });

  it('calls the program per --files match', async () => {
    const { code, stdout } = await cli(
      ...runArgs('count_lines'),
      '--files',
      'texts/*.txt',
    );
    expect(code).toBe(EXIT_OK);
    expect(stdout).toContain('[ok]     texts/one.txt: 1');
    expect(stdout).toContain('[ok]     texts/three.txt: 3');
    expect(stdout).not.toContain('skipped.md');
    expect(stdout).toMatch(/done +2 of 2 inputs/);
  });

  it('matches --files that climb above the root', async () => {
    const pattern = climbingPath(folder, join(folder, 'texts', '*.txt'));
    const { code, stdout } = await cli(
      ...runArgs('count_lines'),
      '--files',
      pattern,
    );
    expect(code).toBe(EXIT_OK);
    expect(stdout).toContain('[ok]     texts/one.txt: 1');
    expect(stdout).toContain('[ok]     texts/three.txt: 3');
    expect(stdout).toMatch(/done +2 of 2 inputs/);
  });

  it('matches absolute --files', async () => {
    const { code, stdout } = await cli(
      ...runArgs('count_lines'),
      '--files',
      join(folder, 'texts', 't*.txt'),
    );
    expect(code).toBe(EXIT_OK);
    expect(stdout).toContain('[ok]     texts/three.txt: 3');
    expect(stdout).toMatch(/done +1 of 1 inputs/);
  });

  it('labels --files outside the working folder', async () => {
    const cwd = join(folder, 'texts');
    const other = join(folder, 'other', 'two.txt');
    for (const pattern of ['../other/*.txt', climbingPath(cwd, other)]) {
      const { code, stdout } = await cliIn(
        cwd,
        ...runArgs('count_lines'),
        '--files',
        pattern,
      );
      expect(code).toBe(EXIT_OK);
      expect(stdout).toContain(`[ok]     ${other}: 2`);
    }
  });

  it('shows no throughput when every input failed', async () => {
    const { code, stdout } = await cli(
      ...runArgs('divide'),
      '--input',
      '{"a": 1, "b": 0}',
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(stdout).toContain('failed      1 (ZeroDivisionError 1)');
    expect(stdout).toContain('throughput  n/a (every call failed)');
    expect(stdout).not.toMatch(/inputs\/s/);
  });

  it('prints parseable --json output', async () => {
    const { code, stdout, stderr } = await cli(
      ...runArgs('divide'),
      '--inputs',
      'calls.jsonl',
      '--json',
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(stderr).toBe('');

    const output = JSON.parse(stdout);
    expect(output.program).toBe('divide');
    expect(output.results).toHaveLength(3);
    expect(output.results[0]).toMatchObject({
      index: 0,
      label: 'line 1',
      ok: true,
      result: 2,
    });
    expect(output.results[1]).toMatchObject({
      index: 1,
      label: 'line 2',
      ok: false,
      error: {
        type: 'program_error',
        category: 'program',
        context: { exception: 'ZeroDivisionError' },
      },
    });
    expect(output.results[2]).toMatchObject({
      label: 'line 4',
      ok: true,
      result: 3,
    });

    expect(output.summary).toMatchObject({
      total: 3,
      succeeded: 2,
      failed: 1,
      notRun: 0,
      failedByType: { ZeroDivisionError: 1 },
    });
    expect(output.summary.throughput).toBeGreaterThan(0);
    expect(output.summary.latencyMs.p50).toBeGreaterThan(0);
    expect(output.summary.latencyMs.p99).toBeGreaterThanOrEqual(
      output.summary.latencyMs.p50,
    );
  });

  it('fails calls over --timeout-ms', async () => {
    writeFileSync(
      join(folder, 'sleeps.jsonl'),
      '{"seconds": 0}\n{"seconds": 5}\n',
    );
    const { code, stdout } = await cli(
      ...runArgs('sleep'),
      '--inputs',
      'sleeps.jsonl',
      '--timeout-ms',
      '300',
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(stdout).toContain('[ok]     line 1: 0');
    expect(stdout).toMatch(/\[failed\] line 2: execution_timeout: /);
    expect(stdout).toContain('failed      1 (execution_timeout 1)');
  });

  it('sends --session with each call', async () => {
    const { code, stdout } = await cli(
      ...runArgs('session_of_call'),
      '--input',
      '{}',
      '--session',
      'job-7',
      '--json',
    );
    expect(code).toBe(EXIT_OK);
    expect(JSON.parse(stdout).results[0].result).toBe('job-7');
  });

  it('prints only failures for many inputs', async () => {
    const lines = Array.from({ length: 30 }, (_, index) =>
      JSON.stringify({ a: index, b: index % 10 }),
    );
    writeFileSync(join(folder, 'many.jsonl'), lines.join('\n') + '\n');
    const { code, stdout } = await cli(
      ...runArgs('divide'),
      '--inputs',
      'many.jsonl',
      '--workers',
      '2',
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(stdout).not.toContain('[ok]');
    expect(stdout.match(/\[failed\]/g)).toHaveLength(3);
    expect(stdout).toContain('[failed] line 11: ZeroDivisionError');
    expect(stdout).toMatch(/done +30 of 30 inputs/);
    expect(stdout).toContain('failed      3 (ZeroDivisionError 3)');
  });

  it('exits 1 when the pool cannot start', async () => {
    const { code, stderr } = await cli(
      ...runArgs('divide'),
      '--input',
      '{}',
      '--python',
      join(folder, 'no-python'),
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(stderr).toContain('failed to start the pool: spawn_failed');
    expect(stderr).toContain('Set --python to an existing interpreter');
  });

  it('reports a --python folder once', async () => {
    const { code, stderr } = await cli(
      ...runArgs('divide'),
      '--input',
      '{}',
      '--python',
      join(folder, 'texts'),
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(stderr).toBe(
      `pyroost run: failed to start the pool: spawn_failed: Python interpreter "${join(folder, 'texts')}" ` +
        'cannot be executed (EACCES): it is a directory or lacks execute permission. ' +
        'Set --python to the interpreter binary itself.\n',
    );
  });

  it('prints a start failure as --json', async () => {
    const { code, stdout } = await cli(
      ...runArgs('divide'),
      '--input',
      '{}',
      '--python',
      join(folder, 'no-python'),
      '--json',
    );
    expect(code).toBe(EXIT_FAILURE);
    const output = JSON.parse(stdout);
    expect(output.error.type).toBe('spawn_failed');
    expect(output.error.category).toBe('system');
  });
});

describe('usage errors', () => {
  // A message that names the test folder is a function, because the folder
  // is created after the cases are collected.
  const cases: {
    name: string;
    args: () => string[];
    message: string | (() => string);
  }[] = [
    {
      name: 'no --programs',
      args: () => ['run', '--program', 'divide', '--input', '{}'],
      message: 'Missing --programs FILE',
    },
    {
      name: 'missing programs file',
      args: () => [
        'run',
        '--programs',
        'nowhere.py',
        '--program',
        'divide',
        '--input',
        '{}',
      ],
      message: 'Invalid --programs nowhere.py: file not found',
    },
    {
      name: 'no --program',
      args: () => ['run', '--programs', programs, '--input', '{}'],
      message: 'Missing --program NAME',
    },
    {
      name: 'no input source',
      args: () => ['run', '--programs', programs, '--program', 'divide'],
      message:
        'Exactly one of --input JSON, --inputs FILE or --files GLOB is required, but none was given',
    },
    {
      name: 'two input sources',
      args: () => [...runArgs('divide'), '--input', '{}', '--files', '*.txt'],
      message: 'got --input and --files',
    },
    {
      name: 'non-numeric --workers',
      args: () => [...runArgs('divide'), '--input', '{}', '--workers', 'two'],
      message: 'Invalid --workers "two": must be an integer >= 1',
    },
    {
      name: 'zero --timeout-ms',
      args: () => [...runArgs('divide'), '--input', '{}', '--timeout-ms', '0'],
      message: 'Invalid --timeout-ms "0"',
    },
    {
      name: 'invalid --input JSON',
      args: () => [...runArgs('divide'), '--input', '{a: 1}'],
      message: 'Invalid --input: not valid JSON',
    },
    {
      name: '--input that is no object',
      args: () => [...runArgs('divide'), '--input', '[1, 2]'],
      message:
        'expected a JSON object of keyword arguments, such as {"path": "a.py"}, got an array',
    },
    {
      name: 'invalid --inputs line',
      args: () => [...runArgs('divide'), '--inputs', 'broken.jsonl'],
      message: 'Invalid --inputs broken.jsonl line 2: not valid JSON',
    },
    {
      name: 'empty --inputs file',
      args: () => [...runArgs('divide'), '--inputs', 'empty.jsonl'],
      message: 'the file contains no inputs',
    },
    {
      name: 'missing --inputs file',
      args: () => [...runArgs('divide'), '--inputs', 'absent.jsonl'],
      message: 'Invalid --inputs absent.jsonl: file not found',
    },
    {
      name: '--files without matches',
      args: () => [...runArgs('count_lines'), '--files', 'texts/*.csv'],
      message: 'Invalid --files "texts/*.csv": no file matches this pattern',
    },
    {
      name: 'unquoted --files glob',
      args: () => [
        ...runArgs('count_lines'),
        '--files',
        'texts/one.txt',
        'texts/three.txt',
      ],
      message: 'quote it',
    },
    {
      name: 'unknown flag',
      args: () => [...runArgs('divide'), '--input', '{}', '--worker', '2'],
      message: "Unknown option '--worker'",
    },
    {
      name: 'unregistered program',
      args: () => [...runArgs('multiply'), '--input', '{}'],
      message: 'Invalid --program multiply: no @program of that name',
    },
    {
      name: 'unknown command',
      args: () => ['start'],
      message: 'Unknown command "start". The commands are run, health, bench.',
    },
    {
      name: 'non-numeric bench --calls',
      args: () => [
        'bench',
        '--programs',
        programs,
        '--program',
        'noop',
        '--calls',
        '1e3',
      ],
      message: 'Invalid --calls "1e3"',
    },
    {
      name: 'folder as --inputs',
      args: () => [...runArgs('divide'), '--inputs', 'texts'],
      message: () =>
        `Invalid --inputs texts (${join(folder, 'texts')}): it is a directory, ` +
        'but --inputs expects a JSON Lines file with one JSON object of keyword arguments per line. ' +
        'To call the program once per file of the directory, use --files "texts/*".',
    },
    {
      name: 'missing --inputs outside the folder',
      args: () => [...runArgs('divide'), '--inputs', '../absent.jsonl'],
      message: () =>
        `Invalid --inputs ../absent.jsonl: file not found (looked for ${join(folder, '..', 'absent.jsonl')}).`,
    },
    {
      name: 'missing absolute --inputs',
      args: () => [
        ...runArgs('divide'),
        '--inputs',
        join(folder, 'absent.jsonl'),
      ],
      message: () =>
        `Invalid --inputs ${join(folder, 'absent.jsonl')}: file not found.\n`,
    },
    {
      name: '--files below a missing folder',
      args: () => [...runArgs('count_lines'), '--files', 'nowhere/*.txt'],
      message: () =>
        `because ${join(folder, 'nowhere')} is not an existing directory`,
    },
    {
      name: '--files naming a folder',
      args: () => [...runArgs('count_lines'), '--files', 'texts/'],
      message: () =>
        `Invalid --files "texts/": the pattern names the directory ${join(folder, 'texts')}, not files. ` +
        'Add a file pattern, such as --files "texts/*".',
    },
    {
      name: 'empty --files',
      args: () => [...runArgs('count_lines'), '--files', ''],
      message: 'Invalid --files "": the pattern must not be empty.',
    },
    {
      name: 'empty --inputs',
      args: () => [...runArgs('divide'), '--inputs', ''],
      message: 'Invalid --inputs "": the path must not be empty.',
    },
    {
      name: 'negative --workers',
      args: () => [...runArgs('divide'), '--input', '{}', '--workers', '-3'],
      message:
        'Invalid --workers "-3": must be an integer >= 1, such as --workers 4.',
    },
    {
      name: 'negative --workers=VALUE',
      args: () => [...runArgs('divide'), '--input', '{}', '--workers=-3'],
      message:
        'Invalid --workers "-3": must be an integer >= 1, such as --workers 4.',
    },
    {
      name: 'negative --timeout-ms',
      args: () => [...runArgs('divide'), '--input', '{}', '--timeout-ms', '-5'],
      message:
        'Invalid --timeout-ms "-5": must be an integer from 1 to 2147483647, such as --timeout-ms 30000.',
    },
    {
      name: '--timeout-ms over the timer limit',
      args: () => [
        ...runArgs('divide'),
        '--input',
        '{}',
        '--timeout-ms',
        '2147483648',
      ],
      message: 'Invalid --timeout-ms "2147483648": must be an integer from 1',
    },
    {
      name: 'negative --start-timeout-ms',
      args: () => [
        'health',
        '--programs',
        programs,
        '--start-timeout-ms',
        '-1',
      ],
      message:
        'Invalid --start-timeout-ms "-1": must be an integer from 1 to 2147483647, such as --start-timeout-ms 60000.',
    },
    {
      name: 'negative bench --calls',
      args: () => [
        'bench',
        '--programs',
        programs,
        '--program',
        'noop',
        '--calls',
        '-1',
      ],
      message:
        'Invalid --calls "-1": must be an integer >= 1, such as --calls 1000.',
    },
  ];

  for (const { name, args, message } of cases) {
    it(`exits 2 on ${name}`, async () => {
      const { code, stdout, stderr } = await cli(...args());
      expect(code).toBe(EXIT_USAGE);
      expect(stdout).toBe('');
      expect(stderr).toContain(
        typeof message === 'function' ? message() : message,
      );
      expect(stderr).toMatch(/Run 'pyroost( \w+)? --help' for the options\./);
    });
  }
});

describe('pyroost health', () => {
  it('reports a healthy pool', async () => {
    const { code, stdout } = await cli(
      'health',
      '--programs',
      programs,
      '--workers',
      '2',
    );
    expect(code).toBe(EXIT_OK);
    expect(stdout).toContain('status      healthy');
    expect(stdout).toContain('workers     2 of 2 up');
    expect(stdout).toContain(
      'programs    count_lines, divide, fail_every_other_call, noop, session_of_call, sleep',
    );
  });

  it('prints the report as JSON', async () => {
    const { code, stdout } = await cli(
      'health',
      '--programs',
      programs,
      '--workers',
      '1',
      '--json',
    );
    expect(code).toBe(EXIT_OK);
    const report = JSON.parse(stdout);
    expect(report.status).toBe('healthy');
    expect(report.size).toBe(1);
    expect(report.workers.idle).toBe(1);
    expect(report.reasons).toEqual([]);
    expect(report.programs).toContain('divide');
  });

  it('exits 1 when no worker starts', async () => {
    const { code, stdout } = await cli(
      'health',
      '--programs',
      programs,
      '--workers',
      '1',
      '--python',
      join(folder, 'no-python'),
      '--json',
    );
    expect(code).toBe(EXIT_FAILURE);
    const report = JSON.parse(stdout);
    expect(report.status).toBe('unhealthy');
    expect(report.error.type).toBe('spawn_failed');
  });
});

describe('--start-timeout-ms', () => {
  it('limits a hanging start in health', async () => {
    const { code, stdout, stderr } = await cli(
      'health',
      '--programs',
      join(folder, 'hanging.py'),
      '--workers',
      '1',
      '--start-timeout-ms',
      '1500',
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(stdout).toBe('');
    expect(stderr).toContain(
      'pyroost health: failed to start the pool: start_timeout: ',
    );
    expect(stderr).toContain('did not become ready within 1500 ms');
    expect(stderr).toContain('need a larger --start-timeout-ms');
    expect(stderr).toContain(
      "end of the worker's stderr:\n  | loading the model\n",
    );
    expect(stderr).not.toContain('startTimeoutMs');
    expect(stderr).not.toContain('context.stderr');
  });

  it('is accepted by run and bench', async () => {
    const run = await cli(
      ...runArgs('divide'),
      '--input',
      '{"a": 1, "b": 2}',
      '--start-timeout-ms',
      '60000',
    );
    expect(run.code).toBe(EXIT_OK);
    expect(run.stdout).toContain('[ok]     input: 0.5');

    const bench = await cli(
      'bench',
      '--programs',
      programs,
      '--program',
      'noop',
      '--calls',
      '10',
      '--workers',
      '1',
      '--start-timeout-ms',
      '60000',
    );
    expect(bench.code).toBe(EXIT_OK);
    expect(bench.stdout).toMatch(/^10 calls of noop on 1 worker in /m);
  });

  it('is listed in the help of each command', async () => {
    for (const command of ['run', 'health', 'bench']) {
      const { stdout } = await cli(command, '--help');
      expect(stdout).toContain('--start-timeout-ms N');
    }
  });
});

describe('pyroost bench', () => {
  it('prints calls per second', async () => {
    const { code, stdout } = await cli(
      'bench',
      '--programs',
      programs,
      '--program',
      'noop',
      '--calls',
      '200',
      '--workers',
      '2',
    );
    expect(code).toBe(EXIT_OK);
    expect(stdout).toMatch(
      /^200 calls of noop on 2 workers in [\d.]+ s: \d+ calls\/s$/m,
    );
    expect(stdout).toMatch(/latency +p50 [\d.]+ ms/);
  });

  it('counts failed calls in --json', async () => {
    const { code, stdout } = await cli(
      'bench',
      '--programs',
      programs,
      '--program',
      'divide',
      '--input',
      '{"a": 1, "b": 0}',
      '--calls',
      '20',
      '--workers',
      '1',
      '--json',
    );
    expect(code).toBe(EXIT_FAILURE);
    const output = JSON.parse(stdout);
    expect(output.calls).toBe(20);
    expect(output.failed).toBe(20);
    expect(output.failedByType).toEqual({ ZeroDivisionError: 20 });
    expect(output.succeeded).toBe(0);
    expect(output.callsPerSecond).toBeNull();
    expect(output.latencyMs.p50).toBeNull();
    expect(output.firstError.context.exception).toBe('ZeroDivisionError');
  });

  it('reports no rate when every call failed', async () => {
    const { code, stdout } = await cli(
      'bench',
      '--programs',
      programs,
      '--program',
      'divide',
      '--calls',
      '50',
      '--workers',
      '1',
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(stdout).toMatch(
      /^50 calls of divide on 1 worker in [\d.]+ s: every call failed, so no rate is reported$/m,
    );
    expect(stdout).not.toContain('calls/s');
    expect(stdout).not.toContain('latency');
    expect(stdout).toContain('failed   50 (invalid_input 50)\n');
    expect(stdout).toContain(
      "first failed call: invalid_input: invalid inputs for program 'divide'",
    );
    expect(stdout).toContain('No --input was given');
  });

  it('rates only the succeeded calls', async () => {
    const { code, stdout } = await cli(
      'bench',
      '--programs',
      programs,
      '--program',
      'fail_every_other_call',
      '--calls',
      '40',
      '--workers',
      '1',
      '--json',
    );
    expect(code).toBe(EXIT_FAILURE);
    const output = JSON.parse(stdout);
    expect(output.succeeded).toBe(20);
    expect(output.failed).toBe(20);
    expect(output.failedByType).toEqual({ ValueError: 20 });
    // The rate counts the 20 succeeded calls over the time of all 40.
    expect(output.callsPerSecond * output.seconds).toBeCloseTo(20, 6);
    expect(output.firstError.message).toContain('even call');
  });

  it('prints the succeeded count and rate', async () => {
    const { code, stdout } = await cli(
      'bench',
      '--programs',
      programs,
      '--program',
      'fail_every_other_call',
      '--calls',
      '40',
      '--workers',
      '1',
    );
    expect(code).toBe(EXIT_FAILURE);
    expect(stdout).toMatch(
      /^40 calls of fail_every_other_call on 1 worker in [\d.]+ s: 20 succeeded \(\d+ calls\/s counting succeeded calls only\)$/m,
    );
    expect(stdout).toMatch(/^latency {2}p50 [\d.]+ ms.* \(succeeded calls\)$/m);
    expect(stdout).toContain('failed   20 (ValueError 20)\n');
    expect(stdout).toContain(
      'first failed call: program_error: ValueError: even call',
    );
    expect(stdout).not.toContain('No --input was given');
  });
});

describe('help', () => {
  it('prints the command list', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(EXIT_OK);
    for (const command of ['run', 'health', 'bench']) {
      expect(stdout).toContain(`pyroost ${command} --programs FILE`);
    }
  });

  it('prints run options with units', async () => {
    for (const argv of [
      ['run', '--help'],
      ['help', 'run'],
    ]) {
      const { code, stdout } = await cli(...argv);
      expect(code).toBe(EXIT_OK);
      expect(stdout).toContain(
        '--timeout-ms N     time limit of each call, in milliseconds',
      );
      expect(stdout).toContain('--workers N        number of worker processes');
    }
  });

  it('exits 2 without a command', async () => {
    const { code, stderr } = await cli();
    expect(code).toBe(EXIT_USAGE);
    expect(stderr).toContain('Commands:');
  });
});

describe('built executable', () => {
  const run = promisify(execFile);

  it.skipIf(!existsSync(BUILT_CLI))(
    'runs as a process with exit codes',
    async () => {
      const ok = await run(
        BUILT_CLI,
        [...runArgs('divide'), '--input', '{"a": 3, "b": 2}', '--json'],
        { cwd: folder },
      );
      expect(JSON.parse(ok.stdout).results[0].result).toBe(1.5);

      const failed = await run(
        BUILT_CLI,
        [...runArgs('divide'), '--inputs', 'calls.jsonl'],
        { cwd: folder },
      ).catch((error) => error);
      expect(failed.code).toBe(EXIT_FAILURE);
      expect(failed.stdout).toContain('(ZeroDivisionError 1)');

      const usage = await run(BUILT_CLI, ['run', '--programs', programs], {
        cwd: folder,
      }).catch((error) => error);
      expect(usage.code).toBe(EXIT_USAGE);
      expect(usage.stderr).toContain('Missing --program NAME');
    },
  );
});
