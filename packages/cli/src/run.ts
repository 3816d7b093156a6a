import { availableParallelism } from 'node:os';
import type { PyroostError, PyroostErrorJson } from '@pyroost/api';
import {
  callEach,
  checkoutTimeoutMs,
  checkProgramRegistered,
  secondsSince,
  startPoolOrReport,
  type CallOutcome,
} from './execution.js';
import { loadInputs, type InputItem } from './inputs.js';
import {
  EXIT_FAILURE,
  EXIT_INTERRUPTED,
  EXIT_OK,
  type CliIo,
  type OutputStream,
} from './io.js';
import type { RunOptions } from './options.js';
import { ProgressBar } from './progress.js';
import { formatSummary, summarize, type RunSummary } from './summary.js';
import { MAX_PRINTED_RESULTS } from './usage.js';

/** One entry of the `results` array that `run --json` prints. */
export type RunResultJson =
  | {
      index: number;
      label: string;
      ok: true;
      result: unknown;
      latencyMs: number;
    }
  | {
      index: number;
      label: string;
      ok: false;
      error: PyroostErrorJson;
      latencyMs: number;
    };

/** Returns the text of a failure: the message, which for a Python exception starts with its class. */
function describeFailure(error: PyroostError): string {
  return error.type === 'program_error'
    ? error.message
    : `${error.type}: ${error.message}`;
}

function formatOutcome(item: InputItem, outcome: CallOutcome): string {
  if (outcome.ok)
    return `[ok]     ${item.label}: ${JSON.stringify(outcome.result) ?? 'undefined'}`;
  return `[failed] ${item.label}: ${describeFailure(outcome.error).split('\n', 1)[0]}`;
}

/**
 * Writes every outcome when there are at most MAX_PRINTED_RESULTS inputs,
 * else only the first MAX_PRINTED_RESULTS failures.
 */
function writeOutcomes(
  stream: OutputStream,
  items: InputItem[],
  outcomes: (CallOutcome | undefined)[],
): void {
  const printAll = items.length <= MAX_PRINTED_RESULTS;
  let printedFailures = 0;
  let hiddenFailures = 0;
  outcomes.forEach((outcome, index) => {
    if (outcome === undefined) return;
    if (printAll) {
      stream.write(formatOutcome(items[index] as InputItem, outcome) + '\n');
    } else if (!outcome.ok) {
      if (printedFailures < MAX_PRINTED_RESULTS) {
        stream.write(formatOutcome(items[index] as InputItem, outcome) + '\n');
        printedFailures += 1;
      } else {
        hiddenFailures += 1;
      }
    }
  });
  if (hiddenFailures > 0) {
    stream.write(
      `... and ${hiddenFailures} more failures (run with --json to see all)\n`,
    );
  }
  if (printAll || printedFailures > 0) stream.write('\n');
}

function resultsJson(
  items: InputItem[],
  outcomes: (CallOutcome | undefined)[],
): RunResultJson[] {
  const results: RunResultJson[] = [];
  outcomes.forEach((outcome, index) => {
    if (outcome === undefined) return;
    const label = (items[index] as InputItem).label;
    results.push(
      outcome.ok
        ? {
            index,
            label,
            ok: true,
            result: outcome.result,
            latencyMs: outcome.latencyMs,
          }
        : {
            index,
            label,
            ok: false,
            error: outcome.error.toJSON(),
            latencyMs: outcome.latencyMs,
          },
    );
  });
  return results;
}

/**
 * Runs `pyroost run`: calls the program once per input with one call per
 * worker in flight, prints the outcomes and a summary, and returns the exit
 * status.
 */
export async function runCommand(
  options: RunOptions,
  io: CliIo,
): Promise<number> {
  const items = await loadInputs(options.source, io.cwd);
  const size =
    options.workers ?? Math.min(availableParallelism(), items.length);

  const poolStartedAt = performance.now();
  const pool = await startPoolOrReport(io, 'run', options, size);
  if (pool === undefined) return EXIT_FAILURE;
  let summary: RunSummary;
  try {
    checkProgramRegistered(pool, options, 'run');
    const startSeconds = secondsSince(poolStartedAt);
    const workers = pool.getStats().size;
    const progress = options.json
      ? undefined
      : new ProgressBar(io.stderr, items.length);

    const startedAt = performance.now();
    const outcomes = await callEach(
      pool,
      options.program,
      items.map((item) => item.inputs),
      {
        concurrency: workers,
        sessionId: options.sessionId,
        timeoutMs: options.timeoutMs,
        checkoutTimeoutMs: checkoutTimeoutMs(options.startTimeoutMs),
        signal: io.signal,
        onSettled: (settled) => progress?.update(settled),
      },
    );
    progress?.clear();
    summary = summarize(
      outcomes,
      workers,
      startSeconds,
      secondsSince(startedAt),
    );

    if (options.json) {
      const output = {
        program: options.program,
        results: resultsJson(items, outcomes),
        summary,
      };
      io.stdout.write(JSON.stringify(output, null, 2) + '\n');
    } else {
      writeOutcomes(io.stdout, items, outcomes);
      io.stdout.write(formatSummary(summary, 'inputs'));
    }
  } finally {
    await pool.close({ graceful: !io.signal?.aborted });
  }
  if (io.signal?.aborted) return EXIT_INTERRUPTED;
  return summary.failed > 0 ? EXIT_FAILURE : EXIT_OK;
}
