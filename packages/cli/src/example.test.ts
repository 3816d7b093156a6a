import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The stdlib-analysis example imports @pyroost/api from its built dist.
const EXAMPLE = fileURLToPath(
  new URL('../../../examples/stdlib-analysis/main.mjs', import.meta.url),
);
const TIMING_MODULE = new URL(
  '../../../examples/stdlib-analysis/timing.mjs',
  import.meta.url,
).href;
const BUILT_API = fileURLToPath(
  new URL('../../api/dist/index.js', import.meta.url),
);

interface MachineLoad {
  loadBefore: number | null;
  loadAfter: number | null;
  cores: number;
}

async function loadTimingModule(): Promise<{
  formatMachineLoad: (machine: MachineLoad) => string[];
}> {
  return (await import(TIMING_MODULE)) as {
    formatMachineLoad: (machine: MachineLoad) => string[];
  };
}

describe('stdlib-analysis machine load', () => {
  it('adds a note when the load exceeds the cores', async () => {
    const { formatMachineLoad } = await loadTimingModule();
    const lines = formatMachineLoad({
      loadBefore: 3.5,
      loadAfter: 4.25,
      cores: 2,
    });
    expect(lines).toEqual([
      'Machine: 2 cores, 1-minute load average 3.50 before the runs and 4.25 after.',
      'Note: the load average before the runs (3.50) exceeded the 2 cores, so the runs ' +
        'shared the CPUs with other processes, and their wall times and the speed-up are unreliable.',
    ]);
  });

  it('adds no note at or below the cores', async () => {
    const { formatMachineLoad } = await loadTimingModule();
    for (const loadBefore of [0.4, 2]) {
      const lines = formatMachineLoad({ loadBefore, loadAfter: 5, cores: 2 });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^Machine: 2 cores, 1-minute load average /);
    }
  });

  it('says when the load is unknown', async () => {
    const { formatMachineLoad } = await loadTimingModule();
    expect(
      formatMachineLoad({ loadBefore: null, loadAfter: null, cores: 8 }),
    ).toEqual(['Machine: 8 cores, load average not available.']);
  });
});

describe.skipIf(!existsSync(BUILT_API))('stdlib-analysis example run', () => {
  const run = promisify(execFile);
  let folder: string;

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'pyroost-example-'));
    writeFileSync(join(folder, 'one.py'), 'def f(x):\n    return x\n');
    writeFileSync(join(folder, 'two.py'), 'class A:\n    pass\n');
  });

  afterAll(() => {
    rmSync(folder, { recursive: true, force: true });
  });

  it('prints the load next to the wall times', async () => {
    const { stdout } = await run(process.execPath, [EXAMPLE, '--dir', folder]);
    const lines = stdout.trimEnd().split('\n');
    const wallTimeAt = lines.findIndex((line) => line.startsWith('Wall time:'));
    expect(wallTimeAt).toBeGreaterThan(0);
    expect(lines[wallTimeAt + 1]).toMatch(
      new RegExp(
        `^Machine: ${availableParallelism()} cores, 1-minute load average [\\d.]+ before the runs and [\\d.]+ after\\.$`,
      ),
    );
  });

  it('includes the load in --json', async () => {
    const { stdout } = await run(process.execPath, [
      EXAMPLE,
      '--dir',
      folder,
      '--json',
    ]);
    const { timing } = JSON.parse(stdout);
    expect(timing.cores).toBe(availableParallelism());
    expect(typeof timing.loadBefore).toBe('number');
    expect(typeof timing.loadAfter).toBe('number');
    expect(timing.speedUp).toBeGreaterThan(0);
  });
});
