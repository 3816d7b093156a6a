import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_BENCH_CALLS, UsageError } from './usage.js';

/** Options shared by every command that starts a pool. */
export interface PoolCommandOptions {
  /** Absolute paths of programs files, or module names, in the order given. */
  programs: string[];
  python: string | undefined;
  workers: number | undefined;
  /** Time limit of each worker's start-up in ms, or undefined for the library default (20,000). */
  startTimeoutMs: number | undefined;
  json: boolean;
  verbose: boolean;
}

/** Source of the inputs of `run`. */
export type InputSource =
  | { kind: 'input'; json: string }
  | {
      kind: 'inputs';
      /** The --inputs value as typed, shown in messages. */
      argument: string;
      /** Absolute path of the file. */
      file: string;
    }
  | { kind: 'files'; pattern: string };

export interface RunOptions extends PoolCommandOptions {
  program: string;
  source: InputSource;
  sessionId: string | undefined;
  timeoutMs: number | undefined;
}

export type HealthOptions = PoolCommandOptions;

export interface BenchOptions extends PoolCommandOptions {
  program: string;
  /** The --input JSON text, or undefined for `{}`. */
  input: string | undefined;
  calls: number;
  timeoutMs: number | undefined;
}

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

const POOL_SPECS = {
  programs: { type: 'string', multiple: true },
  python: { type: 'string' },
  workers: { type: 'string' },
  'start-timeout-ms': { type: 'string' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const satisfies OptionSpecs;

const RUN_SPECS = {
  ...POOL_SPECS,
  program: { type: 'string' },
  input: { type: 'string' },
  inputs: { type: 'string' },
  files: { type: 'string' },
  session: { type: 'string' },
  'timeout-ms': { type: 'string' },
} as const satisfies OptionSpecs;

const BENCH_SPECS = {
  ...POOL_SPECS,
  program: { type: 'string' },
  input: { type: 'string' },
  calls: { type: 'string' },
  'timeout-ms': { type: 'string' },
} as const satisfies OptionSpecs;

/**
 * Parses the arguments of one command with node:util parseArgs. Throws
 * UsageError for an unknown flag, a missing value or a positional argument.
 */
function parseCommandArgs<T extends OptionSpecs>(
  command: string,
  args: string[],
  specs: T,
) {
  try {
    return parseArgs({
      args: attachNegativeValues(args, specs),
      options: specs,
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(describeParseError(error, args), command);
  }
}

/**
 * Rewrites `--flag -3` as `--flag=-3` for options that take a value.
 * parseArgs reads a value that starts with a dash as a missing value and
 * reports it as ambiguous, which would hide the range check of the value.
 */
function attachNegativeValues(args: string[], specs: OptionSpecs): string[] {
  const joined: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] as string;
    const next = args[index + 1];
    const spec = arg.startsWith('--') ? specs[arg.slice(2)] : undefined;
    if (spec?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      index += 1;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/** Rewords a parseArgs error. An unexpected positional argument is often a glob that the shell expanded. */
function describeParseError(error: unknown, args: string[]): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const filesAt = args.indexOf('--files');
    const hint =
      filesAt >= 0
        ? ' The shell may have expanded the --files pattern into several paths: quote it, as in --files "src/*.py".'
        : '';
    return `${message}.${hint}`;
  }
  return message.endsWith('.') ? message : `${message}.`;
}

/** Returns whether --help was given, before other options are validated. */
export function wantsHelp(args: string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

/**
 * Maximum delay that `setTimeout` supports, in ms (2^31 - 1, about 24.8 days).
 * The library rejects longer time limits.
 */
const MAX_TIMER_MS = 2_147_483_647;

/** A realistic value of each numeric flag, shown in its error message. */
const EXAMPLE_VALUES: Readonly<Record<string, number>> = {
  '--workers': 4,
  '--calls': 1000,
  '--timeout-ms': 30000,
  '--start-timeout-ms': 60000,
};

/**
 * Parses `value` of `flag` as an integer from `min` to `max`. Throws
 * UsageError, with an example value of the flag, otherwise.
 */
export function parseInteger(
  flag: string,
  value: string,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const number = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? `an integer >= ${min}`
        : `an integer from ${min} to ${max}`;
    const example = EXAMPLE_VALUES[flag] ?? min;
    throw new UsageError(
      `Invalid ${flag} ${JSON.stringify(value)}: must be ${range}, such as ${flag} ${example}.`,
    );
  }
  return number;
}

/** Parses an optional time limit flag in ms, from 1 to MAX_TIMER_MS. */
function parseDurationMs(
  flag: string,
  value: string | undefined,
): number | undefined {
  return value === undefined
    ? undefined
    : parseInteger(flag, value, 1, MAX_TIMER_MS);
}

/**
 * Resolves --programs entries the way the Python worker reads them: an entry
 * that ends in `.py` or contains a path separator is a file, which must
 * exist. Any other entry is a module name and is passed through.
 */
function resolvePrograms(
  command: string,
  entries: string[] | undefined,
  cwd: string,
): string[] {
  if (entries === undefined || entries.length === 0) {
    throw new UsageError(
      'Missing --programs FILE: name the Python file that defines the @program functions.',
      command,
    );
  }
  return entries.map((entry) => {
    if (
      !entry.endsWith('.py') &&
      !entry.includes('/') &&
      !entry.includes(sep)
    ) {
      return entry;
    }
    const path = isAbsolute(entry) ? entry : resolve(cwd, entry);
    if (!existsSync(path)) {
      throw new UsageError(
        `Invalid --programs ${entry}: file not found (looked for ${path}).`,
        command,
      );
    }
    if (!statSync(path).isFile()) {
      throw new UsageError(
        `Invalid --programs ${entry}: ${path} is a folder. Pass the .py file, or a package by its module name.`,
        command,
      );
    }
    return path;
  });
}

function requireProgram(command: string, program: string | undefined): string {
  if (program === undefined || program === '') {
    throw new UsageError(
      'Missing --program NAME: name the @program function to call.',
      command,
    );
  }
  return program;
}

function poolOptions(
  command: string,
  values: {
    programs?: string[];
    python?: string;
    workers?: string;
    'start-timeout-ms'?: string;
    json?: boolean;
    verbose?: boolean;
  },
  cwd: string,
): PoolCommandOptions {
  return {
    programs: resolvePrograms(command, values.programs, cwd),
    python: values.python,
    workers:
      values.workers === undefined
        ? undefined
        : parseInteger('--workers', values.workers),
    startTimeoutMs: parseDurationMs(
      '--start-timeout-ms',
      values['start-timeout-ms'],
    ),
    json: values.json ?? false,
    verbose: values.verbose ?? false,
  };
}

/** Parses the arguments of `pyroost run`. */
export function parseRunOptions(args: string[], cwd: string): RunOptions {
  const values = parseCommandArgs('run', args, RUN_SPECS);
  const pool = poolOptions('run', values, cwd);
  const program = requireProgram('run', values.program);

  const sourceFlags = (['input', 'inputs', 'files'] as const).filter(
    (flag) => values[flag] !== undefined,
  );
  if (sourceFlags.length !== 1) {
    const found =
      sourceFlags.length === 0
        ? 'none was given'
        : `got ${sourceFlags.map((flag) => `--${flag}`).join(' and ')}`;
    throw new UsageError(
      `Exactly one of --input JSON, --inputs FILE or --files GLOB is required, but ${found}.`,
      'run',
    );
  }
  let source: InputSource;
  if (values.input !== undefined)
    source = { kind: 'input', json: values.input };
  else if (values.inputs !== undefined)
    source = {
      kind: 'inputs',
      argument: values.inputs,
      file: resolve(cwd, values.inputs),
    };
  else source = { kind: 'files', pattern: values.files as string };

  if (values.inputs === '') {
    throw new UsageError(
      'Invalid --inputs "": the path must not be empty. Pass a JSON Lines file, such as --inputs calls.jsonl.',
      'run',
    );
  }
  if (values.files === '') {
    throw new UsageError(
      'Invalid --files "": the pattern must not be empty. Pass a glob, such as --files "src/**/*.py".',
      'run',
    );
  }
  if (values.session === '') {
    throw new UsageError(
      'Invalid --session "": the session id must not be empty.',
      'run',
    );
  }
  return {
    ...pool,
    program,
    source,
    sessionId: values.session,
    timeoutMs: parseDurationMs('--timeout-ms', values['timeout-ms']),
  };
}

/** Parses the arguments of `pyroost health`. */
export function parseHealthOptions(args: string[], cwd: string): HealthOptions {
  const values = parseCommandArgs('health', args, POOL_SPECS);
  return poolOptions('health', values, cwd);
}

/** Parses the arguments of `pyroost bench`. */
export function parseBenchOptions(args: string[], cwd: string): BenchOptions {
  const values = parseCommandArgs('bench', args, BENCH_SPECS);
  return {
    ...poolOptions('bench', values, cwd),
    program: requireProgram('bench', values.program),
    input: values.input,
    calls:
      values.calls === undefined
        ? DEFAULT_BENCH_CALLS
        : parseInteger('--calls', values.calls),
    timeoutMs: parseDurationMs('--timeout-ms', values['timeout-ms']),
  };
}
