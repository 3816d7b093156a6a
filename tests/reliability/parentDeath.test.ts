import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  PROGRAMS,
  ensureApiBuilt,
  isAlive,
  sleep,
} from './fixtures/helpers.js';

const BUSY_PARENT = fileURLToPath(
  new URL('./fixtures/busyParent.mjs', import.meta.url),
);

/** Runs busyParent.mjs and resolves with its pid and its workers' pids. */
function startBusyParent(): Promise<{ parentPid: number; pids: number[] }> {
  const child = spawn(process.execPath, [BUSY_PARENT, PROGRAMS], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line) {
        resolve({
          parentPid: child.pid as number,
          pids: (JSON.parse(line) as { pids: number[] }).pids,
        });
      }
    });
    child.once('exit', (code, signal) =>
      reject(
        new Error(
          `busyParent.mjs exited early (code ${code}, signal ${signal}): ${stderr}`,
        ),
      ),
    );
  });
}

describe('parent death', () => {
  beforeAll(() => ensureApiBuilt(), 300_000);

  it('busy workers die with a SIGKILLed parent', async () => {
    const { parentPid, pids } = await startBusyParent();
    expect(pids).toHaveLength(2);
    expect(new Set(pids).size).toBe(2);
    expect(pids.every(isAlive)).toBe(true);

    process.kill(parentPid, 'SIGKILL');
    await sleep(3_000);

    expect(isAlive(parentPid)).toBe(false);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });
});

describe('normal parent exit', () => {
  beforeAll(() => ensureApiBuilt(), 300_000);

  it('kills processes programs left running', async () => {
    const script = fileURLToPath(
      new URL('./fixtures/exitingParent.mjs', import.meta.url),
    );
    const child = spawn(process.execPath, [script, PROGRAMS], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) =>
      child.once('exit', resolve),
    );
    expect(code, stderr).toBe(0);

    const { childPid } = JSON.parse(stdout.trim()) as { childPid: number };
    expect(childPid).toBeGreaterThan(0);
    let alive = isAlive(childPid);
    for (let waited = 0; alive && waited < 2_000; waited += 50) {
      await sleep(50);
      alive = isAlive(childPid);
    }
    expect(alive).toBe(false);
  });
});
