/** A stream that the CLI writes to, such as `process.stdout` or `process.stderr`. */
export interface OutputStream {
  write(text: string): unknown;
  /** Set when the stream is a terminal, which enables the progress bar. */
  isTTY?: boolean;
}

/** Output streams, working folder and abort signal of a command, so tests can run commands in-process. */
export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  /** Folder that relative paths and globs resolve against. */
  cwd: string;
  /** Aborting stops the command, as Ctrl-C does. */
  signal?: AbortSignal;
}

/** Exit statuses of the `pyroost` command. */
export const EXIT_OK = 0;
/** An input failed, the pool failed to start, or the pool is not healthy. */
export const EXIT_FAILURE = 1;
/** Invalid command line: unknown flag, bad value, missing file. */
export const EXIT_USAGE = 2;
/** Stopped by SIGINT (128 + signal number 2), as shells report it. */
export const EXIT_INTERRUPTED = 130;

/** Returns the io of the running process. */
export function processIo(signal?: AbortSignal): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    signal,
  };
}
