import type { TaskRecord } from './records.js';

// One policy's tasks in memory: those waiting (each with the time of its next attempt) and those running (each
// with the controller that aborts it). The records in the MetaStore stay the truth; this is what runs next.

export class TaskQueue {
  private waiting: TaskRecord[] = [];
  private readonly running = new Map<string, AbortController>();

  push(t: TaskRecord): void {
    this.waiting.push(t);
  }

  /** Waiting plus running. */
  get depth(): number {
    return this.waiting.length + this.running.size;
  }

  /** The oldest source change still waiting (ms), or `now` when none is. */
  oldestChange(now: number): number {
    let oldest = now;
    for (const t of this.waiting) if (t.event_at !== null && t.event_at < oldest) oldest = t.event_at;
    return oldest;
  }

  /** Every waiting task may run now (its registry answers again). */
  retryNow(now: number): void {
    for (const t of this.waiting) t.next_attempt_at = now;
  }

  /** Removes and returns the waiting tasks of an execution. */
  withdraw(executionId: number): TaskRecord[] {
    const out = this.waiting.filter((t) => t.execution_id === executionId);
    this.waiting = this.waiting.filter((t) => t.execution_id !== executionId);
    return out;
  }

  /** Aborts the running tasks of an execution (all of them without one) with `reason`. */
  abort(reason: Error, executionId?: number): void {
    for (const [key, c] of this.running) if (executionId === undefined || key.startsWith(`${executionId}:`)) c.abort(reason);
  }

  /** Starts due tasks, oldest first, until `limit` run at once; `run` settles when the task's attempt is recorded. */
  dispatch(limit: number, now: number, run: (t: TaskRecord, controller: AbortController) => Promise<void>): void {
    for (let i = 0; i < this.waiting.length && this.running.size < limit; ) {
      const t = this.waiting[i]!;
      if (t.next_attempt_at > now) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      const key = `${t.execution_id}:${t.id}`;
      const controller = new AbortController();
      this.running.set(key, controller);
      void run(t, controller).finally(() => {
        if (this.running.get(key) === controller) this.running.delete(key);
      });
    }
  }
}
