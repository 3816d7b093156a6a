import { trace } from '@opentelemetry/api';
import { PyroostError } from '@pyroost/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QueuedCaller, type QueueHost, type Waiter } from './queuedCaller.js';
import { WaitQueue } from './waitQueue.js';

interface Outcome {
  name: string;
  result: string;
  atMs: number;
}

/** Builds a pool stand-in: a real wait queue and errors that name their cause. */
function makeHost(): {
  host: QueueHost<string>;
  queue: WaitQueue<Waiter<string>>;
  waits: number[];
} {
  const queue = new WaitQueue<Waiter<string>>();
  const waits: number[] = [];
  const host: QueueHost<string> = {
    leave: (waiter) => waiter.node !== undefined && queue.remove(waiter.node),
    recordWait: (waitedMs) => waits.push(waitedMs),
    workerId: (member) => member,
    timeoutError: (checkoutTimeoutMs) =>
      new PyroostError({
        type: 'checkout_timeout',
        message: `timed out after ${checkoutTimeoutMs} ms`,
        context: { checkoutTimeoutMs },
      }),
    abortError: () =>
      new PyroostError({ type: 'aborted', message: 'aborted while queued' }),
  };
  return { host, queue, waits };
}

function enqueue(
  host: QueueHost<string>,
  queue: WaitQueue<Waiter<string>>,
  outcomes: Outcome[],
  name: string,
  checkoutTimeoutMs: number,
  signal?: AbortSignal,
): QueuedCaller<string> {
  const span = trace.getTracer('test').startSpan('pyroost.checkout');
  const caller = new QueuedCaller<string>(
    host,
    span,
    undefined,
    signal,
    checkoutTimeoutMs,
    (member) =>
      outcomes.push({ name, result: member, atMs: performance.now() }),
    (error) =>
      outcomes.push({ name, result: error.type, atMs: performance.now() }),
  );
  caller.node = queue.push(caller);
  return caller;
}

describe('QueuedCaller', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires callers of one timeout in order', () => {
    const { host, queue } = makeHost();
    const outcomes: Outcome[] = [];
    enqueue(host, queue, outcomes, 'first', 100);
    vi.advanceTimersByTime(40);
    enqueue(host, queue, outcomes, 'second', 100);

    vi.advanceTimersByTime(70);
    expect(outcomes.map((outcome) => outcome.name)).toEqual(['first']);
    expect(outcomes[0]?.result).toBe('checkout_timeout');
    expect(queue.length).toBe(1);

    vi.advanceTimersByTime(40);
    expect(outcomes.map((outcome) => outcome.name)).toEqual([
      'first',
      'second',
    ]);
    expect(outcomes[1]?.atMs).toBeGreaterThanOrEqual(140);
    expect(queue.length).toBe(0);
  });

  it('expires a shorter timeout queued later first', () => {
    const { host, queue } = makeHost();
    const outcomes: Outcome[] = [];
    enqueue(host, queue, outcomes, 'patient', 500);
    enqueue(host, queue, outcomes, 'hurried', 50);

    vi.advanceTimersByTime(60);
    expect(outcomes.map((outcome) => outcome.name)).toEqual(['hurried']);
    vi.advanceTimersByTime(500);
    expect(outcomes.map((outcome) => outcome.name)).toEqual([
      'hurried',
      'patient',
    ]);
  });

  it('keeps waiting after an earlier caller got a worker', () => {
    const { host, queue, waits } = makeHost();
    const outcomes: Outcome[] = [];
    enqueue(host, queue, outcomes, 'served', 100);
    vi.advanceTimersByTime(30);
    enqueue(host, queue, outcomes, 'waiting', 100);
    vi.advanceTimersByTime(10);
    queue.shift()?.resolve('worker-1');

    expect(outcomes).toEqual([
      { name: 'served', result: 'worker-1', atMs: 40 },
    ]);
    expect(waits).toEqual([40]);
    vi.advanceTimersByTime(85);
    expect(outcomes).toHaveLength(1);
    vi.advanceTimersByTime(10);
    expect(outcomes.map((outcome) => outcome.result)).toEqual([
      'worker-1',
      'checkout_timeout',
    ]);
    expect(outcomes[1]?.atMs).toBeGreaterThanOrEqual(130);
  });

  it('leaves no timer once the queue is empty', () => {
    const { host, queue } = makeHost();
    const outcomes: Outcome[] = [];
    enqueue(host, queue, outcomes, 'only', 1_000);
    expect(vi.getTimerCount()).toBe(1);
    queue.shift()?.resolve('worker-1');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('leaves the queue when its signal aborts', () => {
    const { host, queue } = makeHost();
    const outcomes: Outcome[] = [];
    const controller = new AbortController();
    enqueue(host, queue, outcomes, 'aborted', 1_000, controller.signal);
    enqueue(host, queue, outcomes, 'other', 1_000);

    controller.abort();
    expect(outcomes.map((outcome) => outcome.result)).toEqual(['aborted']);
    expect(queue.length).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(outcomes.map((outcome) => outcome.result)).toEqual([
      'aborted',
      'checkout_timeout',
    ]);
  });

  it('settles once when the deadline passes after it was served', () => {
    const { host, queue } = makeHost();
    const outcomes: Outcome[] = [];
    enqueue(host, queue, outcomes, 'served', 100);
    queue.shift()?.resolve('worker-1');
    vi.advanceTimersByTime(200);
    expect(outcomes).toHaveLength(1);
  });
});
