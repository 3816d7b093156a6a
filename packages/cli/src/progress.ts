import type { OutputStream } from './io.js';

const REDRAW_INTERVAL_MS = 100;
const BAR_WIDTH = 30;

/**
 * A one-line progress bar, redrawn in place on a terminal at most every
 * 100 ms. On a stream that is not a terminal it writes nothing, so logs and
 * pipes stay clean.
 */
export class ProgressBar {
  private readonly enabled: boolean;
  private readonly startedAt = performance.now();
  private lastDrawAt = 0;
  private drawn = false;

  constructor(
    private readonly stream: OutputStream,
    private readonly total: number,
  ) {
    this.enabled = stream.isTTY === true && total > 1;
  }

  /**
   * Redraws the bar for `done` settled items. Skips the redraw when the last
   * one was less than 100 ms ago, unless `done` reached the total.
   */
  update(done: number): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (done < this.total && now - this.lastDrawAt < REDRAW_INTERVAL_MS) return;
    this.lastDrawAt = now;
    const fraction = done / this.total;
    const filled = Math.round(fraction * BAR_WIDTH);
    const seconds = (now - this.startedAt) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const bar = '#'.repeat(filled) + '.'.repeat(BAR_WIDTH - filled);
    const percent = Math.floor(fraction * 100);
    this.stream.write(
      `\r[${bar}] ${done}/${this.total} ${percent}% ${rate.toFixed(1)}/s\x1b[K`,
    );
    this.drawn = true;
  }

  /** Erases the bar, so the next output starts on a clean line. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
