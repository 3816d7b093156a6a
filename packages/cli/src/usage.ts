/** Invalid command line. The CLI prints the message with a pointer to --help and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';

  constructor(
    message: string,
    /** Command whose help text to point to, if any. */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** Number of inputs up to which `run` prints every result. */
export const MAX_PRINTED_RESULTS = 20;

/** Calls made by `bench` when --calls is not given. */
export const DEFAULT_BENCH_CALLS = 1_000;

export const MAIN_HELP = `pyroost: run Python programs on a pool of long-lived Python worker processes.

Usage:
  pyroost run --programs FILE --program NAME (--input JSON | --inputs FILE | --files GLOB) [options]
  pyroost health --programs FILE [options]
  pyroost bench --programs FILE --program NAME [options]
  pyroost help [COMMAND]

Commands:
  run      call a program once per input and print the results and a summary
  health   start a pool, print its health check, exit 0 when it is healthy
  bench    call a program many times and print the succeeded calls per second

A program is a Python function decorated with @program (from pyroost import
program). Its inputs arrive as keyword arguments.

Options:
  --help     print this help, or a command's help after the command name
  --version  print the version of pyroost

Run 'pyroost COMMAND --help' for the options of a command.
`;

const POOL_OPTIONS = `  --programs FILE    Python file, or module name, that defines @program functions.
                     Repeat the flag to load several.
  --python PATH      Python interpreter that runs the workers (default: python3)
  --start-timeout-ms N
                     time limit of each worker's start-up, including the
                     import of the programs, in milliseconds (default: 20000)
  --verbose          also log worker starts, stops and the programs' stderr
                     to stderr (by default only warnings and errors)`;

export const RUN_HELP = `Usage: pyroost run --programs FILE --program NAME (--input JSON | --inputs FILE | --files GLOB) [options]

Calls the program NAME once per input on a pool of Python workers, then prints
each result and a summary: inputs done, failures by error type, throughput in
inputs per second and latency percentiles in milliseconds.

Inputs (exactly one of):
  --input JSON       one call, with this JSON object as keyword arguments,
                     for example --input '{"a": 1, "b": 2}'
  --inputs FILE      one call per line of this JSON Lines file. Each line is
                     a JSON object of keyword arguments, blank lines are skipped.
  --files GLOB       one call per file that matches GLOB, with the keyword
                     argument path set to the file's absolute path. The
                     pattern is relative to the working directory, may climb
                     out of it with ../ or be absolute. Quote it so that the
                     shell does not expand it: --files 'src/**/*.py'

Options:
  --program NAME     name of the program to call
${POOL_OPTIONS}
  --workers N        number of worker processes (default: the number of CPUs,
                     or the number of inputs when that is smaller)
  --session ID       session id sent with every call
  --timeout-ms N     time limit of each call, in milliseconds (default: 30000).
                     A call over the limit fails with execution_timeout and
                     its worker is replaced.
  --json             print one JSON object with the results and the summary,
                     and nothing else, on stdout
  --help             print this help

With more than ${MAX_PRINTED_RESULTS} inputs only the failures are printed before the summary.

Exit status: 0 when every call succeeded, 1 when a call failed or the pool
failed to start, 2 on an invalid command line.
`;

export const HEALTH_HELP = `Usage: pyroost health --programs FILE [options]

Starts a pool, prints its health check and the registered programs, and
closes the pool.

Options:
${POOL_OPTIONS}
  --workers N        number of worker processes (default: the number of CPUs)
  --json             print the health report as one JSON object
  --help             print this help

Exit status: 0 when the pool is healthy, 1 when it is degraded, unhealthy or
failed to start, 2 on an invalid command line.
`;

export const BENCH_HELP = `Usage: pyroost bench --programs FILE --program NAME [options]

Calls the program NAME --calls times with the same inputs, one call per worker
at a time, and prints the succeeded calls per second, their latency
percentiles in milliseconds, and the failed calls by error type with the
first error. Failed calls are not counted in the rate. Pool start-up and one
warm-up call per worker are not timed. Use a program that does little work
to measure the overhead of a call. For the repository's benchmark suite, run
pnpm bench in a source checkout.

Options:
  --program NAME     name of the program to call
  --input JSON       keyword arguments of every call, as a JSON object
                     (default: {})
  --calls N          number of calls (default: ${DEFAULT_BENCH_CALLS})
${POOL_OPTIONS}
  --workers N        number of worker processes (default: the number of CPUs)
  --timeout-ms N     time limit of each call, in milliseconds (default: 30000)
  --json             print the result as one JSON object
  --help             print this help

Exit status: 0 when every call succeeded, 1 when a call failed or the pool
failed to start, 2 on an invalid command line.
`;

/** Help text of each command, by command name. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  run: RUN_HELP,
  health: HEALTH_HELP,
  bench: BENCH_HELP,
};
