/** Latency percentiles over the most recent samples, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Keeps the last `capacity` samples in a ring buffer and computes
 * percentiles on demand, so recording costs O(1) and memory stays bounded.
 */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(capacity = 2048) {
    this.samples = new Float64Array(capacity);
  }

  record(valueMs: number): void {
    this.samples[this.next] = valueMs;
    this.next = (this.next + 1) % this.samples.length;
    if (this.filled < this.samples.length) this.filled += 1;
  }

  summary(): LatencySummary {
    if (this.filled === 0) return { count: 0, p50: 0, p95: 0, p99: 0, max: 0 };
    const sorted = this.samples.slice(0, this.filled).sort();
    const at = (quantile: number): number =>
      sorted[
        Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1)
      ] ?? 0;
    return {
      count: this.filled,
      p50: at(0.5),
      p95: at(0.95),
      p99: at(0.99),
      max: sorted[sorted.length - 1] ?? 0,
    };
  }
}
