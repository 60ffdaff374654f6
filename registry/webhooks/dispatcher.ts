import { Agent, request } from 'undici';
import type { Logger } from '../../core/log.js';
import { ConflictError, type MetaStore, type OutboxEvent } from '../../storage-adapters/meta/meta-store.js';
import type { DirectEvent, GovernanceEvents } from '../governance-events.js';
import { Lease } from '../lease.js';
import { projectOf } from '../quotas.js';
import { render, type WebhookEvent } from './payload.js';
import { WebhookRecords, type CursorRecord, type WebhookJobRecord, type WebhookPolicyRecord } from './records.js';
import { findOrInsert } from '../../storage-adapters/meta/upsert.js';

// Webhook delivery, one active dispatcher per IDC (a MetaStore lease). Two halves, joined by durable jobs:
// - events become jobs: the outbox (tag and manifest changes, written with the change) is read from a stored
//   cursor, and each event makes one job per matching policy target, keyed so that re-reading after a crash
//   makes none twice; pulls and quota events (not in the outbox) make jobs when they happen;
// - jobs are delivered per target queue, one at a time in id order, retried with growing delays; each queue runs
//   on its own, so a hanging receiver holds up only its own queue — never a push, never another target.
// Delivery is at least once: a crash after the receiver answered and before the job is marked sends it again,
// with the same event id (CloudEvents id / Berth-Event-Id) for the receiver to drop.

const PAGE = 200;
const POLL_MS = 200;
const TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 8;
const BACKOFF_MS = [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000];
/** Pending jobs are looked for at least this often (jobs other instances made); sooner when something changed. */
const RESCAN_MS = 2000;
/** Finished jobs kept per policy (Harbor's webhook executions), pruned by the active dispatcher this often; a
 *  finished job younger than PRUNE_MIN_AGE_MS always stays. */
const JOBS_KEPT = 500;
const PRUNE_EVERY_MS = 10 * 60_000;
const PRUNE_MIN_AGE_MS = 60 * 60_000;

export interface DispatcherOptions {
  /** The host shown in resource URLs (the registry's public host). */
  host: () => string;
  /** Whether a project is public (its repositories' repo_type). */
  isPublic?: (project: string) => Promise<boolean>;
  pollMs?: number;
  backoffMs?: number[];
  maxAttempts?: number;
  /** Finished jobs kept per policy (default 500). */
  jobsKept?: number;
  pruneEveryMs?: number;
  pruneMinAgeMs?: number;
}

export class WebhookDispatcher {
  readonly records: WebhookRecords;
  private readonly lease: Lease;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly busy = new Set<string>();
  private readonly insecure = new Agent({ connect: { rejectUnauthorized: false } });
  private stopped = false;
  /** Something this instance did may have made a queue runnable: look at the pending jobs next round. */
  private dirty = true;
  private lastScan = 0;
  private lastPrune = 0;
  /** The earliest retry time among the jobs seen waiting. */
  private nextDue = Infinity;
  /** The outbox held nothing newer than this (ms) at the last read: a pull or quota job after it waits, so it
   *  is not sent before a push that happened earlier but is still in the outbox. */
  private caughtUp = 0;

  constructor(
    private readonly meta: MetaStore,
    events: GovernanceEvents,
    private readonly log: Logger,
    private readonly opts: DispatcherOptions,
  ) {
    this.records = new WebhookRecords(meta);
    this.lease = new Lease('webhooks', meta, log, () => undefined);
    events.on((e) => void this.direct(e).catch((err: unknown) => log.warn({ err }, 'webhook: queueing an event')));
  }

  /** Makes sure the outbox cursor exists before this instance serves (a push right after start is never taken
   *  for history that predates webhooks), then delivers on a timer. */
  async start(): Promise<void> {
    await this.cursor();
    this.timer = setInterval(() => void this.tick(), this.opts.pollMs ?? POLL_MS);
    this.timer.unref();
  }

  /** The stored outbox cursor; created at the outbox's end the first time any instance starts. */
  private async cursor(): Promise<CursorRecord> {
    return findOrInsert(this.records.cursors, 'name', 'outbox', async () => ({ name: 'outbox', seq: await this.outboxEnd() }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.lease.relinquish()?.release().catch(() => undefined);
    await this.insecure.close().catch(() => undefined);
  }

  /** One round: take or keep the lease, turn new outbox events into jobs, start idle queues. */
  async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      if (!this.lease.held && !(await this.lease.take())) return;
      await this.followOutbox();
      await this.deliverQueues();
      await this.prune();
    } catch (err) {
      this.log.warn({ err }, 'webhook dispatcher round failed');
    } finally {
      this.ticking = false;
    }
  }

  private async prune(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPrune < (this.opts.pruneEveryMs ?? PRUNE_EVERY_MS)) return;
    this.lastPrune = now;
    const endedBefore = new Date(now - (this.opts.pruneMinAgeMs ?? PRUNE_MIN_AGE_MS)).toISOString();
    const n = await this.records.pruneJobs(this.opts.jobsKept ?? JOBS_KEPT, endedBefore);
    if (n > 0) this.log.info({ jobs: n }, 'webhook: old deliveries pruned');
  }

  private async followOutbox(): Promise<void> {
    let cursor = await this.cursor();
    const readStart = Date.now();
    for (;;) {
      const events = await this.meta.readOutbox(cursor.seq, PAGE);
      if (events.length < PAGE) this.caughtUp = readStart;
      if (events.length === 0) return;
      for (const e of events) await this.fromOutbox(e);
      cursor = { ...cursor, seq: events[events.length - 1]!.seq };
      // Jobs first, then the cursor: a crash in between re-reads, and the job keys refuse the repeats.
      await this.records.cursors.update(cursor);
      if (events.length < PAGE) return;
    }
  }

  /** Where the outbox ends now: a dispatcher starting for the first time does not replay history. */
  private async outboxEnd(): Promise<number> {
    let seq = 0;
    for (;;) {
      const events = await this.meta.readOutbox(seq, 5000);
      if (events.length === 0) return seq;
      seq = events[events.length - 1]!.seq;
      if (events.length < 5000) return seq;
    }
  }

  private async fromOutbox(e: OutboxEvent): Promise<void> {
    if (e.origin === 'gc') return; // GC's sweeps of untagged content are not artifact deletes anyone asked for
    let type: 'PUSH_ARTIFACT' | 'DELETE_ARTIFACT';
    if (e.type === 'tag.put') type = 'PUSH_ARTIFACT';
    else if (e.type === 'manifest.delete') type = 'DELETE_ARTIFACT';
    else return;
    const event: WebhookEvent = { type, at: e.at, operator: e.origin ? `replication:${e.origin}` : '', repository: e.repository, id: `outbox-${e.seq}`, ...(e.digest && { digest: e.digest }), ...(e.tag && { tag: e.tag }) };
    await this.enqueue(event);
  }

  private async direct(e: DirectEvent & { at: number }): Promise<void> {
    const id = `direct-${e.at}-${Math.random().toString(36).slice(2, 10)}`;
    const base = { type: e.type, at: e.at, repository: e.repository, id };
    let event: WebhookEvent;
    if (e.type === 'PULL_ARTIFACT') event = { ...base, digest: e.digest, operator: e.operator, ...(e.tag && { tag: e.tag }) };
    else if (e.type === 'REPLICATION') event = { ...base, operator: '', replication: { execution_id: e.execution_id, policy_id: e.policy_id, status: e.status, trigger: e.trigger } };
    else event = { ...base, digest: e.digest, operator: '', quota: { size: e.size, used: e.used, hard: e.hard } };
    await this.enqueue(event);
  }

  /** One job per target of every enabled policy of the event's project that takes its type. */
  private async enqueue(e: WebhookEvent): Promise<void> {
    const project = projectOf(e.repository);
    if (!project) return;
    const policies = (await this.records.enabledFor(project, e.type)).filter((p) => Date.parse(p.creation_time) <= e.at + 1000);
    if (policies.length === 0) return;
    const isPublic = (await this.opts.isPublic?.(project)) ?? false;
    const now = new Date().toISOString();
    for (const policy of policies) {
      for (const [i, target] of policy.targets.entries()) {
        const { body, contentType } = render(e, policy, target.payload_format, this.opts.host(), isPublic);
        const job: Omit<WebhookJobRecord, 'id'> = {
          key: `${e.id}/${policy.id}/${i}`,
          queue: `${policy.id}/${i}`,
          policy_id: policy.id,
          project_id: policy.project_id,
          event_type: e.type,
          event_at: e.at,
          address: target.address,
          status: 'Pending',
          status_message: '',
          attempts: 0,
          next_attempt_at: 0,
          payload: body,
          content_type: contentType,
          creation_time: now,
          update_time: now,
        };
        await this.records.jobs.insert(job).catch((err: unknown) => {
          if (!(err instanceof ConflictError)) throw err;
        });
        this.dirty = true;
      }
    }
  }

  private async deliverQueues(): Promise<void> {
    const now = Date.now();
    // The pending scan reads every job document: only when it can find something new.
    if (!this.dirty && now - this.lastScan < RESCAN_MS && now < this.nextDue) return;
    this.dirty = false;
    this.lastScan = now;
    this.nextDue = Infinity;
    const { items: pending } = await this.records.jobs.list({ where: { status: 'Pending' }, order: 'asc', limit: 1000 });
    pending.sort((a, b) => a.event_at - b.event_at || a.id - b.id);
    const heads = new Map<string, WebhookJobRecord>();
    for (const j of pending) if (!heads.has(j.queue)) heads.set(j.queue, j);
    for (const [queue, job] of heads) {
      if (this.busy.has(queue)) continue;
      if (job.event_at > this.caughtUp) {
        this.dirty = true; // the outbox may still hold an earlier event for this queue
        continue;
      }
      if (job.next_attempt_at > now) {
        this.nextDue = Math.min(this.nextDue, job.next_attempt_at);
        continue;
      }
      this.busy.add(queue);
      void this.deliver(job)
        .catch((err: unknown) => this.log.warn({ err, job: job.id }, 'webhook delivery'))
        .finally(() => {
          this.busy.delete(queue);
          this.dirty = true;
        });
    }
  }

  private async deliver(job: WebhookJobRecord): Promise<void> {
    const policy = await this.records.policies.get(job.policy_id);
    const target = policy?.targets[Number(job.queue.split('/')[1])];
    if (!policy || !target || !policy.enabled) {
      await this.finish(job, 'Error', policy ? 'the policy is disabled' : 'the policy was deleted');
      return;
    }
    const started = new Date().toISOString();
    let outcome: string | undefined;
    try {
      const r = await request(target.address, {
        method: 'POST',
        headers: { 'content-type': job.content_type, 'berth-event-id': job.key.split('/')[0]!, ...(target.auth_header && { authorization: target.auth_header }) },
        body: job.payload,
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
        ...(target.skip_cert_verify && { dispatcher: this.insecure }),
      });
      await r.body.dump();
      if (r.statusCode < 200 || r.statusCode >= 300) outcome = `the receiver answered ${r.statusCode}`;
    } catch (err) {
      outcome = (err as Error).message;
    }
    if (outcome === undefined) {
      await this.finish({ ...job, start_time: job.start_time ?? started }, 'Success', '');
      return;
    }
    const attempts = job.attempts + 1;
    const max = this.opts.maxAttempts ?? MAX_ATTEMPTS;
    if (attempts >= max) {
      await this.finish({ ...job, attempts, start_time: job.start_time ?? started }, 'Error', `${outcome} (gave up after ${attempts} attempts)`);
      return;
    }
    const backoff = this.opts.backoffMs ?? BACKOFF_MS;
    await this.records.jobs.update({
      ...job,
      attempts,
      status_message: outcome,
      next_attempt_at: Date.now() + backoff[Math.min(attempts - 1, backoff.length - 1)]!,
      start_time: job.start_time ?? started,
      update_time: new Date().toISOString(),
    });
  }

  private async finish(job: WebhookJobRecord, status: 'Success' | 'Error', message: string): Promise<void> {
    const t = new Date().toISOString();
    await this.records.jobs.update({ ...job, status, status_message: message, attempts: job.attempts + (status === 'Success' ? 1 : 0), end_time: t, update_time: t });
  }
}

export type { WebhookPolicyRecord };
