// Figures beyond throughput: start time, memory per worker, replacement of a
// killed worker, a queue of many callers, and executeBatch.

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { PythonPool } from '@pyroost/api';
import { closedLoop, collectGarbage, sleep, spread } from './measure.mjs';
import {
  PYTHON,
  pyroostOptions,
  startPyroost,
  startRawPipe,
} from './systems.mjs';

/** Returns the resident set size of a process in bytes, from /proc. */
export async function rssBytes(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/**
 * Pool start time for each size against one bare spawn: the raw-pipe loop
 * started and answering its first request. Sizes and the bare spawn
 * alternate within each repetition.
 */
export async function measureStartTimes({
  sizes,
  repetitions,
  PythonPoolClass = PythonPool,
}) {
  // Each run starts one system and times it until ready. `raw N` is N
  // raw-pipe loops started at once, the floor that the cores set for a pool
  // of N, because each interpreter's start is CPU-bound.
  const runs = [{ key: 'bare', start: () => startRawPipe(1) }];
  for (const size of sizes) {
    runs.push({
      key: `pool ${size}`,
      start: () => startPyroost(size, { PythonPoolClass }),
    });
    if (size > 1) {
      runs.push({ key: `raw ${size}`, start: () => startRawPipe(size) });
    }
  }
  const samples = Object.fromEntries(runs.map(({ key }) => [key, []]));
  for (let repetition = 0; repetition < repetitions; repetition += 1) {
    for (const { key, start } of runs) {
      collectGarbage();
      await sleep(50);
      const startedAt = performance.now();
      const system = await start();
      samples[key].push(performance.now() - startedAt);
      await system.close();
    }
  }
  const paired = (key) => {
    const ratios = samples[key].map((ms, index) => ms / samples.bare[index]);
    return { ms: spread(samples[key]), ratio: spread(ratios) };
  };
  const result = { bareMs: spread(samples.bare), pools: {}, rawLoops: {} };
  for (const size of sizes) {
    result.pools[size] = paired(`pool ${size}`);
    if (size > 1) result.rawLoops[size] = paired(`raw ${size}`);
  }
  return result;
}

/**
 * Resident memory of a pyroost worker after a few calls, against a bare
 * `python3` that waits on stdin for a script, and the raw-pipe loop.
 */
export async function measureMemory({
  workers,
  repetitions,
  PythonPoolClass = PythonPool,
}) {
  const bare = [];
  const raw = [];
  const pyroost = [];
  for (let repetition = 0; repetition < repetitions; repetition += 1) {
    const interpreter = spawn(PYTHON, [], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const rawPipe = await startRawPipe(workers);
    const pool = await startPyroost(workers, { PythonPoolClass });
    for (let call = 0; call < 20; call += 1) {
      await rawPipe.call('noop', {});
      await pool.call('noop', {});
    }
    await sleep(300);
    bare.push(await rssBytes(interpreter.pid));
    for (const pid of rawPipe.pids()) raw.push(await rssBytes(pid));
    for (const pid of pool.pids()) pyroost.push(await rssBytes(pid));
    interpreter.stdin.end();
    await Promise.all([rawPipe.close(), pool.close()]);
  }
  const mb = (values) => spread(values.map((bytes) => bytes / 1048576));
  const bareMedian = spread(bare).median;
  return {
    bareMb: mb(bare),
    rawPipeMb: mb(raw),
    pyroostMb: mb(pyroost),
    overheadMb: mb(pyroost.map((bytes) => bytes - bareMedian)),
  };
}

/**
 * Time from SIGKILL of an idle worker to its replacement having answered a
 * ping, with the supervisor's default first back-off (100 ms) and with none.
 */
export async function measureReplacement({ repetitions }) {
  const result = {};
  for (const [key, initialBackoffMs] of [
    ['defaultBackoff', undefined],
    ['noBackoff', 0],
  ]) {
    const pool = await PythonPool.start(
      pyroostOptions(2, { maxRestarts: 1000, initialBackoffMs }),
    );
    const samples = [];
    for (let repetition = 0; repetition < repetitions; repetition += 1) {
      await pool.executeProgram('noop', {});
      const victim = pool.workers()[0].pid;
      const replaced = new Promise((resolve) => {
        pool.rawPool.once('workerStarted', resolve);
      });
      const killedAt = performance.now();
      process.kill(victim, 'SIGKILL');
      await replaced;
      samples.push(performance.now() - killedAt);
      await sleep(100);
    }
    await pool.close();
    result[key] = spread(samples);
  }
  return result;
}

/**
 * Queues `count` callers at once on a pool of `workers` and drains them.
 * Reports the drain time, the cost per call, the heap that the queued
 * callers hold (measured after a full garbage collection, with every caller
 * queued) and the peak growth of the heap during the whole run, sampled
 * every 20 ms.
 */
export async function measureQueue({
  counts,
  workers,
  repetitions,
  PythonPoolClass = PythonPool,
}) {
  const maxCount = Math.max(...counts);
  const pool = await PythonPoolClass.start(
    pyroostOptions(workers, { maxQueue: maxCount }),
  );
  const result = {};
  for (const count of counts) {
    result[count] = { perCallUs: [], heapMb: [], peakHeapMb: [], drainMs: [] };
  }
  // A first drain compiles the queue's code paths, so that the smallest
  // queue, measured first, is not also the one that pays for compilation.
  const warmUp = new Array(Math.min(...counts));
  for (let index = 0; index < warmUp.length; index += 1) {
    warmUp[index] = pool.executeProgram('noop', {});
  }
  await Promise.all(warmUp);

  for (let repetition = 0; repetition < repetitions; repetition += 1) {
    for (const count of counts) {
      collectGarbage();
      const heapBefore = process.memoryUsage().heapUsed;
      let heapPeak = heapBefore;
      const sampler = setInterval(() => {
        heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
      }, 20);
      const startedAt = performance.now();
      const calls = new Array(count);
      for (let index = 0; index < count; index += 1) {
        calls[index] = pool.executeProgram('noop', {});
      }
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
      // The collection runs while the callers wait: what is left is theirs.
      collectGarbage();
      const heapQueued = process.memoryUsage().heapUsed - heapBefore;
      await Promise.all(calls);
      const drainMs = performance.now() - startedAt;
      clearInterval(sampler);
      result[count].drainMs.push(drainMs);
      result[count].perCallUs.push((drainMs * 1000) / count);
      result[count].heapMb.push(heapQueued / 1048576);
      result[count].peakHeapMb.push((heapPeak - heapBefore) / 1048576);
    }
  }
  await pool.close();

  const summary = {};
  for (const count of counts) {
    summary[count] = {
      drainMs: spread(result[count].drainMs),
      perCallUs: spread(result[count].perCallUs),
      heapMb: spread(result[count].heapMb),
      peakHeapMb: spread(result[count].peakHeapMb),
    };
  }
  const small = Math.min(...counts);
  summary.flatness = spread(
    result[maxCount].perCallUs.map(
      (us, index) => us / result[small].perCallUs[index],
    ),
  );
  return summary;
}

/**
 * executeBatch of `batchSize` no-ops per frame against single no-op calls on
 * the raw pipe, both with the same workers and callers, interleaved.
 */
export async function measureBatch({
  configurations,
  batchSize,
  durationMs,
  repetitions,
  PythonPoolClass = PythonPool,
}) {
  const results = [];
  const inputsList = Array.from({ length: batchSize }, () => ({}));
  for (const { workers, callers } of configurations) {
    const raw = await startRawPipe(workers);
    const pyroost = await startPyroost(workers, { PythonPoolClass });
    const rawRates = [];
    const batchRates = [];
    for (let repetition = 0; repetition < repetitions; repetition += 1) {
      const single = await closedLoop(() => raw.call('noop', {}), {
        callers,
        durationMs,
      });
      const batch = await closedLoop(
        () =>
          pyroost.pool.executeBatch('noop', inputsList, {
            chunkSize: batchSize,
          }),
        { callers, durationMs },
      );
      rawRates.push(single.callsPerSecond);
      batchRates.push(batch.callsPerSecond * batchSize);
    }
    await Promise.all([raw.close(), pyroost.close()]);
    results.push({
      workers,
      callers,
      rawCallsPerSecond: spread(rawRates),
      batchItemsPerSecond: spread(batchRates),
      ratio: spread(batchRates.map((rate, index) => rate / rawRates[index])),
    });
  }
  return results;
}
