import type { RestartPolicy, WorkerLoss } from '@pyroost/pool';
import { PyroostError } from '@pyroost/protocol';
import {
  checkDurationMs,
  checkInteger,
  toSafeLogger,
  type Logger,
} from '@pyroost/worker';

/** Options of `PoolSupervisor`. */
export interface PoolSupervisorOptions {
  /** Restarts allowed within `restartWindowMs` before the pool gives up. Default 10. */
  maxRestarts?: number;
  /** Window over which restarts are counted, in ms. Default 60,000. */
  restartWindowMs?: number;
  /** Delay before the first restart after a healthy period, in ms. Default 100. */
  initialBackoffMs?: number;
  /** Maximum delay between restarts, in ms. Default 10,000. */
  maxBackoffMs?: number;
  /** pino-compatible logger. Default: silent. */
  logger?: Logger;
}

/**
 * Restart policy with exponential back-off and a restart intensity limit, as
 * in Erlang/OTP supervisors: at most `maxRestarts` restarts within
 * `restartWindowMs`. Past the limit it stops restarting, the pool reports
 * `unhealthy`, and callers get `pool_unhealthy` instead of a spawn storm.
 * The back-off doubles with each consecutive failure and resets once a
 * replacement starts and serves.
 */
export class PoolSupervisor implements RestartPolicy {
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  private readonly logger: Logger;
  private readonly restartTimes: number[] = [];
  private consecutiveFailures = 0;
  private gaveUp = false;
  private lastLoss: WorkerLoss | undefined;

  constructor(options: PoolSupervisorOptions = {}) {
    this.maxRestarts = checkInteger('maxRestarts', options.maxRestarts, 10, 0);
    // The window also times the probe after the limit, so it must be a
    // real timer delay. A window under 1 ms would make the limit unreachable.
    this.restartWindowMs = checkDurationMs(
      'restartWindowMs',
      options.restartWindowMs,
      60_000,
    );
    if (this.restartWindowMs < 1) {
      throw new PyroostError({
        type: 'invalid_input',
        message: `Option restartWindowMs must be at least 1 ms, got ${this.restartWindowMs}.`,
        context: { option: 'restartWindowMs' },
      });
    }
    this.initialBackoffMs = checkDurationMs(
      'initialBackoffMs',
      options.initialBackoffMs,
      100,
      {
        allowZero: true,
      },
    );
    this.maxBackoffMs = checkDurationMs(
      'maxBackoffMs',
      options.maxBackoffMs,
      10_000,
      {
        allowZero: true,
      },
    );
    this.logger = toSafeLogger(options.logger);
  }

  /** Whether the intensity limit was exceeded and restarts stopped. */
  get exhausted(): boolean {
    return this.gaveUp;
  }

  /** The most recent worker loss, with its error. */
  get lastFailure(): WorkerLoss | undefined {
    return this.lastLoss;
  }

  /** Restarts within the current window. */
  restartsInWindow(now = Date.now()): number {
    this.prune(now);
    return this.restartTimes.length;
  }

  onWorkerLost(loss: WorkerLoss): number | null {
    const now = Date.now();
    this.lastLoss = loss;
    this.prune(now);
    if (this.gaveUp || this.restartTimes.length >= this.maxRestarts) {
      this.gaveUp = true;
      this.logger.error(
        {
          workerId: loss.workerId,
          pid: loss.pid,
          restarts: this.restartTimes.length,
          restartWindowMs: this.restartWindowMs,
          errorType: (loss.startError ?? loss.reason)?.type,
        },
        `restart intensity exceeded (${this.maxRestarts} restarts in ${this.restartWindowMs} ms); ` +
          'no more workers are started',
      );
      return null;
    }

    this.restartTimes.push(now);
    const delayMs = Math.min(
      this.maxBackoffMs,
      this.initialBackoffMs * 2 ** this.consecutiveFailures,
    );
    this.consecutiveFailures += 1;
    this.logger.warn(
      {
        workerId: loss.workerId,
        pid: loss.pid,
        delayMs,
        errorType: (loss.startError ?? loss.reason)?.type,
      },
      'restarting worker after back-off',
    );
    return delayMs;
  }

  onWorkerStarted(): void {
    this.consecutiveFailures = 0;
    if (this.gaveUp) {
      // A probe replacement started: the cause went away, so the count starts afresh.
      this.gaveUp = false;
      this.restartTimes.length = 0;
    }
  }

  /** After giving up, the pool tries one replacement again after one restart window. */
  resumeAfterMs(): number {
    return this.restartWindowMs;
  }

  private prune(now: number): void {
    const cutoff = now - this.restartWindowMs;
    while (
      this.restartTimes.length > 0 &&
      (this.restartTimes[0] as number) <= cutoff
    ) {
      this.restartTimes.shift();
    }
  }
}
