/**
 * Process groups of live workers. When Node exits normally (including
 * `process.exit()`), the exit hook kills each group, so processes that
 * programs started do not outlive the application. The kernel's parent-death
 * signal in the bridge only reaches the worker process itself.
 */
const liveGroups = new Set<number>();
let hookInstalled = false;

function killAll(): void {
  for (const pid of liveGroups) killGroup(pid);
  liveGroups.clear();
}

/** Sends SIGKILL to a process group; an empty group is not an error. */
export function killGroup(pid: number): void {
  if (process.platform === 'win32') return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already empty.
  }
}

/** Tracks a worker's process group until `releaseGroup` is called. */
export function trackGroup(pid: number): void {
  liveGroups.add(pid);
  if (!hookInstalled) {
    hookInstalled = true;
    process.once('exit', killAll);
  }
}

/** Kills what is left of a worker's group and stops tracking it. */
export function releaseGroup(pid: number): void {
  liveGroups.delete(pid);
  killGroup(pid);
}
