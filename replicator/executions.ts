import { countTasks, newExecution, nowIso, type ExecutionRecord, type ExecutionTrigger, type PolicyRecord, type ReplicationRecords } from './records.js';

// Execution bookkeeping: the executions this active instance runs, their records, the window in which an
// event-based execution gathers tasks, and the end of an execution once its last task has ended.

/** Event-based executions gather the tasks of this long a window, or this many tasks. */
const EVENT_WINDOW_MS = 10_000;
const EVENT_WINDOW_TASKS = 1000;
const HISTORY_MS = 7 * 24 * 3600 * 1000;
/** Unplanned executions are looked for among all records this often (else only among the newest). */
const FULL_SCAN_MS = 30_000;

export interface ExecutionState {
  record: ExecutionRecord;
  /** Tasks pending or running. */
  active: number;
  openedAt: number;
  added: number;
}

export class Executions {
  private readonly running = new Map<number, ExecutionState>();
  /** The open event-based execution of each policy. */
  private readonly windows = new Map<number, number>();
  private lastSeen = 0;
  private lastFullScan = 0;

  constructor(
    private readonly records: ReplicationRecords,
    /** Told when an execution ends, with the repositories its tasks touched (REPLICATION webhooks). */
    private readonly ended?: (record: ExecutionRecord, repositories: string[]) => void,
  ) {}

  get(id: number): ExecutionState | undefined {
    return this.running.get(id);
  }

  values(): IterableIterator<ExecutionState> {
    return this.running.values();
  }

  /** Forgets everything (the lease was lost: the next active instance reads the records). */
  clear(): void {
    this.running.clear();
    this.windows.clear();
  }

  /** Starts tracking `record`. */
  track(record: ExecutionRecord, openedAt = 0): ExecutionState {
    const ex: ExecutionState = { record, active: 0, openedAt, added: 0 };
    this.running.set(record.id, ex);
    this.lastSeen = Math.max(this.lastSeen, record.id);
    return ex;
  }

  /** A new execution record; unplanned ones are planned by the active instance (see unplanned()). */
  async create(policyId: number, trigger: ExecutionTrigger, planned: boolean): Promise<ExecutionRecord> {
    if (!planned && (trigger === 'manual' || trigger === 'scheduled')) {
      const policy = await this.records.policies.get(policyId);
      if (policy) return startExecution(this.records, policy, trigger);
    }
    return this.records.executions.insert(newExecution(policyId, trigger, planned));
  }

  /** Becoming active: every unfinished execution, tracked, with the windows of the previous instance closed. */
  async resume(): Promise<ExecutionState[]> {
    const open = await this.records.executions.list({ where: { status: 'InProgress' } });
    const latest = await this.records.executions.list({ order: 'desc', limit: 1 });
    this.lastSeen = latest.items[0]?.id ?? 0;
    const out: ExecutionState[] = [];
    for (let record of open.items) {
      if (record.open) record = await this.patch(record.id, { open: false });
      out.push(this.track(record));
    }
    return out;
  }

  /** Executions created since the last look (by the API, on any instance) and not planned yet, now tracked. */
  async unplanned(): Promise<ExecutionState[]> {
    const { executions } = this.records;
    const now = Date.now();
    let candidates: ExecutionRecord[];
    if (now - this.lastFullScan > FULL_SCAN_MS) {
      this.lastFullScan = now;
      candidates = (await executions.list({ where: { planned: false } })).items;
    } else {
      // Cheap when nothing is new (the usual case): one document.
      const newest = (await executions.list({ order: 'desc', limit: 1 })).items[0];
      if (!newest || newest.id <= this.lastSeen) return [];
      candidates = (await executions.list({ order: 'desc', limit: 50 })).items.filter((r) => r.id > this.lastSeen);
    }
    const out: ExecutionState[] = [];
    for (const r of candidates) {
      this.lastSeen = Math.max(this.lastSeen, r.id);
      if (r.planned || r.status !== 'InProgress' || this.running.has(r.id)) continue;
      out.push(this.track(r));
    }
    return out;
  }

  /** The policy's open event-based execution, or a new one when the window is over or full. */
  async eventWindow(policyId: number): Promise<ExecutionState> {
    const id = this.windows.get(policyId);
    const current = id !== undefined ? this.running.get(id) : undefined;
    if (current && current.record.open && Date.now() - current.openedAt < EVENT_WINDOW_MS && current.added < EVENT_WINDOW_TASKS) return current;
    if (current) await this.closeWindow(current);
    const record = await this.records.executions.insert({ ...newExecution(policyId, 'event_based', true), open: true });
    const ex = this.track(record, Date.now());
    this.windows.set(policyId, record.id);
    return ex;
  }

  /** Closes the windows that are over. */
  async closeWindows(): Promise<void> {
    for (const [policyId, id] of this.windows) {
      const ex = this.running.get(id);
      if (!ex) {
        this.windows.delete(policyId);
        continue;
      }
      if (Date.now() - ex.openedAt >= EVENT_WINDOW_MS) {
        this.windows.delete(policyId);
        await this.closeWindow(ex);
      }
    }
  }

  /** No more tasks join `ex`: it ends with its last task. */
  async closeWindow(ex: ExecutionState): Promise<void> {
    if (this.windows.get(ex.record.policy_id) === ex.record.id) this.windows.delete(ex.record.policy_id);
    if (!ex.record.open) return;
    ex.record = await this.patch(ex.record.id, { open: false });
    if (ex.active === 0) await this.finish(ex);
  }

  /** Records the end of `ex` once it is planned, closed and without active tasks (or at once on `failure`). */
  async finish(ex: ExecutionState, failure?: string): Promise<void> {
    if (ex.record.open || !ex.record.planned || this.running.get(ex.record.id) !== ex) return;
    if (ex.active > 0 && !failure) return;
    this.running.delete(ex.record.id);
    const fresh = (await this.records.executions.get(ex.record.id)) ?? ex.record;
    const tasks = await this.records.allTasks(ex.record.id);
    const counts = countTasks(tasks);
    const status = failure || counts.failed > 0 ? 'Failed' : fresh.stop_requested || counts.stopped > 0 ? 'Stopped' : 'Succeed';
    const text = failure ?? (counts.failed > 0 ? `${counts.failed} of ${counts.total} tasks failed` : status === 'Stopped' ? 'stopped' : '');
    const done: ExecutionRecord = { ...fresh, ...counts, open: false, status, status_text: text, end_time: nowIso() };
    await this.records.executions.update(done);
    this.ended?.(done, [...new Set(tasks.flatMap((t) => [t.src_repository, t.dst_repository]))]);
  }

  /** Re-reads the record and applies `patch` to it. */
  async patch(id: number, patch: Partial<ExecutionRecord>): Promise<ExecutionRecord> {
    const fresh = await this.records.executions.get(id);
    if (!fresh) throw new Error(`execution ${id} vanished`);
    const next = { ...fresh, ...patch };
    await this.records.executions.update(next);
    return next;
  }

  /** Stop requests may come from the API on any instance: the tracked executions whose record now asks for one. */
  async stopRequested(): Promise<ExecutionState[]> {
    const out: ExecutionState[] = [];
    for (const ex of [...this.running.values()]) {
      if (ex.record.stop_requested) continue;
      const fresh = await this.records.executions.get(ex.record.id);
      if (!fresh) continue;
      ex.record = fresh;
      if (fresh.stop_requested && fresh.planned) out.push(ex);
    }
    return out;
  }

  /** Executions that ended more than a week ago go, with their tasks. */
  async sweep(): Promise<void> {
    const cutoff = Date.now() - HISTORY_MS;
    const { items } = await this.records.executions.list({ order: 'asc', limit: 1000 });
    for (const r of items) {
      if (r.status === 'InProgress' || !r.end_time || Date.parse(r.end_time) > cutoff) continue;
      await this.records.deleteExecution(r.id);
    }
  }
}

/**
 * A manual or scheduled run of `policy`. With single_active_replication and a run in progress it is recorded
 * as skipped, ended at once (Harbor's controller/replication/execution.go Start: MarkError).
 */
export async function startExecution(records: ReplicationRecords, policy: PolicyRecord, trigger: 'manual' | 'scheduled'): Promise<ExecutionRecord> {
  if (policy.single_active_replication) {
    const running = (await records.executions.list({ where: { policy_id: policy.id, status: 'InProgress' } })).items;
    if (running.length > 0) {
      return records.executions.insert({
        ...newExecution(policy.id, trigger, true),
        status: 'Failed',
        status_text: 'Execution skipped: active replication still in progress.',
        end_time: nowIso(),
      });
    }
  }
  return records.executions.insert(newExecution(policy.id, trigger, false));
}
