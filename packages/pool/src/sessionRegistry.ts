/** Record the pool keeps about one session, for observability only. */
export interface SessionInfo {
  sessionId: string;
  /** Epoch ms of the first execution. */
  startedAt: number;
  /** Epoch ms of the latest execution. */
  lastUsedAt: number;
  executions: number;
  errors: number;
}

/**
 * Tracks sessions by id. Sessions never pin a worker: this registry only
 * counts executions and errors per session and removes idle ones.
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, SessionInfo>();

  get count(): number {
    return this.sessions.size;
  }

  touch(sessionId: string | undefined): void {
    if (sessionId === undefined) return;
    const now = Date.now();
    const session = this.sessions.get(sessionId);
    if (session) {
      session.lastUsedAt = now;
      session.executions += 1;
      // Re-insert so the map stays ordered by last use, oldest first.
      this.sessions.delete(sessionId);
      this.sessions.set(sessionId, session);
      return;
    }
    this.sessions.set(sessionId, {
      sessionId,
      startedAt: now,
      lastUsedAt: now,
      executions: 1,
      errors: 0,
    });
  }

  recordError(sessionId: string | undefined): void {
    if (sessionId === undefined) return;
    const session = this.sessions.get(sessionId);
    if (session) session.errors += 1;
  }

  list(): SessionInfo[] {
    return [...this.sessions.values()].map((session) => ({ ...session }));
  }

  /** Removes sessions idle for longer than `idleMs`; returns how many were removed. */
  expire(idleMs: number): number {
    const cutoff = Date.now() - idleMs;
    let removed = 0;
    for (const [sessionId, session] of this.sessions) {
      if (session.lastUsedAt > cutoff) break;
      this.sessions.delete(sessionId);
      removed += 1;
    }
    return removed;
  }
}
