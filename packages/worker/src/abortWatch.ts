/**
 * Something to notify when an AbortSignal aborts: a function, or an object
 * with `handleEvent`, as for `addEventListener`.
 */
export type AbortWatcher = (() => void) | { handleEvent(): void };

const watchers = new WeakMap<AbortSignal, Set<AbortWatcher>>();

/**
 * Calls `watcher` once when `signal` aborts, until `unwatchAbort` removes it.
 *
 * All watchers of one signal share a single `abort` listener. Many concurrent
 * calls often share one signal, for example one per incoming HTTP request,
 * and a listener per call would pass Node's limit of 10 listeners per event
 * target and print MaxListenersExceededWarning. The shared listener stays on
 * the signal until it aborts, so a long-lived signal keeps one listener and
 * an empty set, not one per call.
 */
export function watchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  let set = watchers.get(signal);
  if (set === undefined) {
    set = new Set();
    watchers.set(signal, set);
    signal.addEventListener('abort', () => notify(signal), { once: true });
  }
  set.add(watcher);
}

/** Stops notifying `watcher` about `signal`. */
export function unwatchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  watchers.get(signal)?.delete(watcher);
}

function notify(signal: AbortSignal): void {
  const set = watchers.get(signal);
  watchers.delete(signal);
  if (set === undefined) return;
  for (const watcher of set) {
    if (typeof watcher === 'function') watcher();
    else watcher.handleEvent();
  }
}
