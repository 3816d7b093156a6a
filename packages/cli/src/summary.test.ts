import { describe, expect, it } from 'vitest';
import { ProgressBar } from './progress.js';
import { percentile } from './summary.js';

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
  });

  it('handles one and no values', () => {
    expect(percentile([7], 50)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });
});

describe('ProgressBar', () => {
  function stream(isTTY: boolean) {
    const writes: string[] = [];
    return { writes, isTTY, write: (text: string) => writes.push(text) };
  }

  it('draws and clears on a terminal', () => {
    const terminal = stream(true);
    const bar = new ProgressBar(terminal, 4);
    bar.update(4);
    expect(terminal.writes).toHaveLength(1);
    const line = terminal.writes[0] as string;
    expect(line.startsWith('\r[' + '#'.repeat(30) + '] 4/4 100% ')).toBe(true);
    expect(line.endsWith('/s\x1b[K')).toBe(true);
    bar.clear();
    expect(terminal.writes[1]).toBe('\r\x1b[K');
  });

  it('writes nothing to a pipe', () => {
    const pipe = stream(false);
    const bar = new ProgressBar(pipe, 4);
    bar.update(2);
    bar.update(4);
    bar.clear();
    expect(pipe.writes).toEqual([]);
  });
});
