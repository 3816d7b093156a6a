// Entry point of the `pyroost` executable. tsup adds the hashbang line.
import { EXIT_FAILURE, EXIT_INTERRUPTED, processIo } from './io.js';
import { runCli } from './main.js';

const controller = new AbortController();
let interrupts = 0;

// The first Ctrl-C stops new calls and kills the workers, so the summary of
// what finished is still printed. A second one exits at once.
process.on('SIGINT', () => {
  interrupts += 1;
  if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
  process.stderr.write(
    '\nInterrupted: stopping the workers. Press Ctrl-C again to exit at once.\n',
  );
  controller.abort();
});

try {
  process.exitCode = await runCli(
    process.argv.slice(2),
    processIo(controller.signal),
  );
} catch (error) {
  const detail =
    error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`pyroost: unexpected error: ${detail}\n`);
  process.exitCode = EXIT_FAILURE;
}
