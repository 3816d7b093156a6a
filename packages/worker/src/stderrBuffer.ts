/** Maximum length of a stderr line forwarded to the logger whole. Longer lines are cut. */
export const MAX_LOG_LINE_CHARS = 8 * 1024;

/**
 * Keeps the last `capacityBytes` of a worker's stderr for error reports, and
 * splits the stream into lines for the logger. Memory use is bounded whatever
 * the process writes.
 */
export class StderrBuffer {
  private chunks: Buffer[] = [];
  private storedBytes = 0;
  private partialLine = '';

  constructor(
    private readonly capacityBytes: number,
    private readonly onLine: (line: string) => void,
  ) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.storedBytes += chunk.length;
    while (
      this.storedBytes - (this.chunks[0]?.length ?? 0) >=
      this.capacityBytes
    ) {
      this.storedBytes -= (this.chunks.shift() as Buffer).length;
    }

    const text = this.partialLine + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partialLine = lines.pop() ?? '';
    if (this.partialLine.length > MAX_LOG_LINE_CHARS) {
      this.onLine(
        this.partialLine.slice(0, MAX_LOG_LINE_CHARS) + ' [truncated]',
      );
      this.partialLine = '';
    }
    for (const line of lines) {
      this.onLine(
        line.length > MAX_LOG_LINE_CHARS
          ? line.slice(0, MAX_LOG_LINE_CHARS) + ' [truncated]'
          : line,
      );
    }
  }

  /** Sends an unterminated last line to the logger, at process exit. */
  flush(): void {
    if (this.partialLine) this.onLine(this.partialLine);
    this.partialLine = '';
  }

  /** Returns the last bytes of stderr as text, at most `capacityBytes`. */
  tail(): string {
    const all = Buffer.concat(this.chunks);
    return all
      .subarray(Math.max(0, all.length - this.capacityBytes))
      .toString('utf8');
  }
}
