import type { Pool } from '@pyroost/pool';
import { checkDurationMs, toSafeLogger, type Logger } from '@pyroost/worker';

/** Options of `PoolMonitor`. */
export interface PoolMonitorOptions {
  /** Time between health checks of idle workers, in ms; 0 disables them. Default 30,000. */
  healthCheckIntervalMs?: number;
  /** Time an idle worker has to respond to a health-check ping, in ms. Default 5,000. */
  healthCheckTimeoutMs?: number;
  /** Sessions idle longer than this are forgotten, in ms. Default 3,600,000 (one hour). */
  sessionTtlMs?: number;
  /** pino-compatible logger. Default: silent. */
  logger?: Logger;
}

/** Outcome of one health-check round. */
export interface MonitorReport {
  checkedAt: number;
  failedWorkers: string[];
  expiredSessions: number;
}

/**
 * Pings idle workers every `healthCheckIntervalMs` and replaces those that
 * do not respond. Busy workers are never pinged, so a long CPU-bound program
 * is not mistaken for a hang (its own execution timeout covers it). Each
 * round also forgets sessions idle for longer than `sessionTtlMs`.
 */
export class PoolMonitor {
  readonly healthCheckIntervalMs: number;
  readonly healthCheckTimeoutMs: number;
  readonly sessionTtlMs: number;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<MonitorReport> | undefined;
  private last: MonitorReport | undefined;

  constructor(
    private readonly pool: Pool,
    options: PoolMonitorOptions = {},
  ) {
    this.healthCheckIntervalMs = checkDurationMs(
      'healthCheckIntervalMs',
      options.healthCheckIntervalMs,
      30_000,
      { allowZero: true },
    );
    this.healthCheckTimeoutMs = checkDurationMs(
      'healthCheckTimeoutMs',
      options.healthCheckTimeoutMs,
      5_000,
    );
    this.sessionTtlMs = checkDurationMs(
      'sessionTtlMs',
      options.sessionTtlMs,
      3_600_000,
    );
    this.logger = toSafeLogger(options.logger);
  }

  /** The latest round's report, if any ran. */
  get lastReport(): MonitorReport | undefined {
    return this.last;
  }

  /** Starts the periodic checks; the timer does not keep the process alive. */
  start(): this {
    if (this.timer || this.healthCheckIntervalMs <= 0) return this;
    this.timer = setInterval(
      () => void this.checkNow(),
      this.healthCheckIntervalMs,
    );
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Runs one round now; concurrent calls share the round in progress. */
  checkNow(): Promise<MonitorReport> {
    this.running ??= this.runRound().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runRound(): Promise<MonitorReport> {
    if (this.pool.isClosed) {
      return { checkedAt: Date.now(), failedWorkers: [], expiredSessions: 0 };
    }
    const failedWorkers = await this.pool.pingIdleWorkers(
      this.healthCheckTimeoutMs,
    );
    const expiredSessions = this.pool.expireSessions(this.sessionTtlMs);
    if (failedWorkers.length > 0 || expiredSessions > 0) {
      this.logger.info(
        { failedWorkers, expiredSessions },
        'health check round',
      );
    }
    this.last = { checkedAt: Date.now(), failedWorkers, expiredSessions };
    return this.last;
  }
}
