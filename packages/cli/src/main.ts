import { benchCommand } from './bench.js';
import { healthCommand } from './health.js';
import { EXIT_OK, EXIT_USAGE, processIo, type CliIo } from './io.js';
import {
  parseBenchOptions,
  parseHealthOptions,
  parseRunOptions,
  wantsHelp,
} from './options.js';
import { runCommand } from './run.js';
import { COMMAND_HELP, MAIN_HELP, UsageError } from './usage.js';

const COMMANDS = Object.keys(COMMAND_HELP).join(', ');

function dispatch(command: string, args: string[], io: CliIo): Promise<number> {
  switch (command) {
    case 'run':
      return runCommand(parseRunOptions(args, io.cwd), io);
    case 'health':
      return healthCommand(parseHealthOptions(args, io.cwd), io);
    case 'bench':
      return benchCommand(parseBenchOptions(args, io.cwd), io);
    default:
      throw new UsageError(
        `Unknown command "${command}". The commands are ${COMMANDS}.`,
      );
  }
}

function writeHelp(io: CliIo, topic: string | undefined): number {
  if (topic === undefined) {
    io.stdout.write(MAIN_HELP);
    return EXIT_OK;
  }
  const help = COMMAND_HELP[topic];
  if (help === undefined) {
    throw new UsageError(
      `Unknown command "${topic}". The commands are ${COMMANDS}.`,
    );
  }
  io.stdout.write(help);
  return EXIT_OK;
}

/**
 * Runs the `pyroost` command line `argv`, without node and the script path,
 * and returns the exit status. It is 0 on success, 1 when a call failed or
 * the pool did not start or is unhealthy, 2 on invalid usage and 130 when
 * interrupted. Errors other than usage errors propagate.
 */
export async function runCli(
  argv: string[],
  io: CliIo = processIo(),
): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command === undefined) {
      io.stderr.write(MAIN_HELP);
      return EXIT_USAGE;
    }
    if (command === '--help' || command === '-h')
      return writeHelp(io, undefined);
    if (command === 'help') return writeHelp(io, args[0]);
    if (command === '--version') {
      io.stdout.write(`${__PACKAGE_VERSION__}\n`);
      return EXIT_OK;
    }
    if (COMMAND_HELP[command] !== undefined && wantsHelp(args)) {
      return writeHelp(io, command);
    }
    return await dispatch(command, args, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const known = command !== undefined && COMMAND_HELP[command] !== undefined;
    const helpCommand = error.command ?? (known ? command : undefined);
    const prefix =
      helpCommand === undefined ? 'pyroost' : `pyroost ${helpCommand}`;
    io.stderr.write(
      `${prefix}: ${error.message}\nRun '${prefix} --help' for the options.\n`,
    );
    return EXIT_USAGE;
  }
}
