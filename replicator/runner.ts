import type { ServerConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Bandwidth } from './bandwidth.js';
import { describe, isPermanent } from './failures.js';
import type { FlowContext } from './flow.js';
import type { ReplicationMetrics } from './metrics.js';
import { nowIso, type ReplicationRecords, type TaskRecord } from './records.js';

// One attempt of a task: recorded as it starts, its progress saved while it runs, ended by an idle watchdog, a
// stop or a lost lease, and recorded again as it ends: succeeded, failed, or pending again after a backoff.

const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 30_000;

/** Why a running task was aborted. */
export class StopRequest extends Error {
  override name = 'StopRequest';
}
export class LostLeadership extends Error {
  override name = 'LostLeadership';
}
export class IdleTimeout extends Error {
  override name = 'IdleTimeout';
}

export interface RunnerDeps {
  records: ReplicationRecords;
  metrics: ReplicationMetrics;
  log: Logger;
  config: Pick<ServerConfig, 'replication_idle_timeout_seconds' | 'replication_max_attempts' | 'replication_chunk_mb'>;
}

/** What a task runs for its policy. */
export interface Job {
  /** The policy's name (metrics, logs). */
  policy: string;
  bandwidth: Bandwidth;
  perform(t: TaskRecord, ctx: FlowContext): Promise<string>;
  /** Every failed attempt is reported (a registry that did not answer is marked unreachable). */
  failed(err: unknown): void;
}

export interface Attempt {
  /** The task as recorded. */
  task: TaskRecord;
  /** Pending again: it goes back to the queue for its next attempt. */
  retry: boolean;
}

export class TaskRunner {
  constructor(private readonly deps: RunnerDeps) {}

  /** Runs one attempt of `task`, aborted through `controller`. Undefined when the lease was lost meanwhile:
   *  the record is left as it is for the next active instance to take over. */
  async attempt(task: TaskRecord, job: Job, controller: AbortController): Promise<Attempt | undefined> {
    const { records, metrics, config } = this.deps;
    const idleMs = config.replication_idle_timeout_seconds * 1000;
    let lastProgress = Date.now();
    const tasks = records.tasks(task.execution_id);
    let t: TaskRecord = { ...task, status: 'InProgress', attempts: task.attempts + 1, start_time: task.start_time ?? nowIso(), error: '' };
    // Progress (bytes) is saved every second while a transfer runs; saves are chained so the final record is
    // always written last.
    let saving: Promise<void> = Promise.resolve();
    let savedBytes = t.bytes;
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress > idleMs) controller.abort(new IdleTimeout(`no progress for ${idleMs / 1000} s`));
      if (t.bytes !== savedBytes && t.status === 'InProgress') {
        savedBytes = t.bytes;
        const snapshot = { ...t };
        saving = saving.then(() => tasks.update(snapshot)).catch(() => undefined);
      }
    }, Math.min(1000, idleMs));
    watchdog.unref();
    let retry = false;
    try {
      await tasks.update(t);
      const ctx: FlowContext = {
        signal: controller.signal,
        bandwidth: job.bandwidth,
        chunkSize: config.replication_chunk_mb * 1024 * 1024,
        onBytes: (n) => {
          lastProgress = Date.now();
          t.bytes += n;
          metrics.bytes.inc({ policy: job.policy }, n);
        },
        progress: () => {
          lastProgress = Date.now();
        },
      };
      const note = await untilAborted(job.perform(t, ctx), controller.signal);
      t = { ...t, status: 'Succeed', note, end_time: nowIso() };
      metrics.tasks.inc({ policy: job.policy, status: 'Succeed' });
      if (t.event_at !== null) metrics.lag.observe({ policy: job.policy }, Math.max(0, Date.now() - t.event_at) / 1000);
    } catch (err) {
      const reason: unknown = controller.signal.reason;
      if (reason instanceof LostLeadership) return undefined;
      if (reason instanceof StopRequest) {
        t = { ...t, status: 'Stopped', error: reason.message, end_time: nowIso() };
        metrics.tasks.inc({ policy: job.policy, status: 'Stopped' });
      } else {
        const message = reason instanceof IdleTimeout ? `timed out: ${reason.message}` : describe(err);
        metrics.failures.inc({ policy: job.policy });
        job.failed(err);
        if (t.attempts < config.replication_max_attempts && !isPermanent(err)) {
          t = { ...t, status: 'Pending', error: message, next_attempt_at: Date.now() + backoff(t.attempts) };
          retry = true;
        } else {
          t = { ...t, status: 'Failed', error: message, end_time: nowIso() };
          metrics.tasks.inc({ policy: job.policy, status: 'Failed' });
          this.deps.log.warn({ policy: job.policy, repository: t.src_repository, tag: t.tag, digest: t.digest, err: message }, 'replication task failed');
        }
      }
    } finally {
      clearInterval(watchdog);
    }
    try {
      await saving;
      await tasks.update(t);
    } catch (err) {
      this.deps.log.error({ err }, 'recording a task');
    }
    return { task: t, retry };
  }
}

/** Exponential from a second, capped at 30 s, with ±20 % jitter so retries of many tasks spread out. */
export function backoff(attempts: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempts - 1)) * (0.8 + Math.random() * 0.4);
}

/** `work`, or the abort reason as soon as `signal` fires: a stop or a timeout ends the task at once, even while a
 *  request without a signal (a HEAD) is pending; transfers themselves carry the signal and stop sending. */
async function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(signal.reason as Error);
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => undefined);
  return Promise.race([work, aborted]);
}
