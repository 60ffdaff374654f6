import { Cron } from 'croner';
import { LRUCache } from 'lru-cache';
import type { ServerConfig } from '../core/config.js';
import type { Digest } from '../core/digest.js';
import { compareVersions, formatVersion, type TagVersion } from '../core/hlc.js';
import type { Logger } from '../core/log.js';
import { OciClient, OciClientError, TlsCertificateError } from '../core/oci-client.js';
import type { BlobStore } from '../storage-adapters/blob/blob-store.js';
import type { Lock, MetaStore, OutboxEvent } from '../storage-adapters/meta/meta-store.js';
import { Bandwidth, sleep } from './bandwidth.js';
import type { CredentialCipher } from './credentials.js';
import { RemoteRegistry } from './endpoint.js';
import { PolicySelector } from './filters.js';
import type { ReplicationMetrics } from './metrics.js';
import {
  countTasks,
  nowIso,
  type ExecutionRecord,
  type ExecutionTrigger,
  type PolicyRecord,
  type RegistryRecord,
  type ReplicationRecords,
  type TaskRecord,
} from './records.js';
import { LocalSource, RemoteSource, type ArtifactSource } from './source.js';
import type { SourceTag } from './tags.js';
import { copyArtifact, deleteArtifact, SourceGoneError, type TransferContext } from './transfer.js';

// The replication engine. One instance per IDC is active at a time (a MetaStore lease); the others wait.
// The active one turns outbox events into tasks (event-based push policies, a persisted cursor per policy),
// plans manual, scheduled and anti-entropy executions, and runs tasks with a concurrency limit, retries with
// exponential backoff, a bandwidth limit and an idle watchdog. Tasks are records: a restart or a new active
// instance picks up whatever was pending or running.

export interface ReplicatorDeps {
  config: ServerConfig;
  log: Logger;
  meta: MetaStore;
  blobs: BlobStore;
  records: ReplicationRecords;
  cipher: CredentialCipher;
  metrics: ReplicationMetrics;
  /** This registry's own OCI endpoint: pull policies write through it like any client. */
  localUrl: string;
  /** With access control on: how those writes are authorized. */
  localAccess?: LocalRegistryAccess;
}

/** What pull policies need from this registry's access control to write into it (wired by the process). */
export interface LocalRegistryAccess {
  /** An Authorization header value granting pull, push and delete on `repository`. */
  authorization(repository: string): Promise<string>;
  /** Creates the project (private) when it is missing. */
  ensureProject(name: string): Promise<void>;
}

const LEASE = 'replicator';
const LEASE_TTL_MS = 15_000;
const LEASE_RENEW_MS = 5_000;
/** Event-based executions gather the tasks of this long a window. */
const EVENT_WINDOW_MS = 10_000;
const EVENT_WINDOW_TASKS = 1000;
const OUTBOX_PAGE = 500;
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 30_000;
const HISTORY_MS = 7 * 24 * 3600 * 1000;

/** Why a running task was aborted. */
class StopRequest extends Error {
  override name = 'StopRequest';
}
class LostLeadership extends Error {
  override name = 'LostLeadership';
}
class IdleTimeout extends Error {
  override name = 'IdleTimeout';
}

/** What a tag's previous value was, per the outbox order (so a receiver can tell concurrent writes). */
interface Lineage {
  last: string;
  /** null: nothing before it; undefined: not known. */
  prev: string | null | undefined;
}

interface PolicyState {
  policy: PolicyRecord;
  selector: PolicySelector;
  bandwidth: Bandwidth;
  queue: TaskRecord[];
  running: Map<string, AbortController>;
  cursor?: number;
  lineage: LRUCache<string, Lineage>;
  lineageComplete: boolean;
  /** Destination repositories by digest, from earlier uploads (mount candidates). */
  mountHints: LRUCache<string, string>;
  nextReconcile: number;
  planning: boolean;
  cron?: Cron;
}

interface ExecutionState {
  record: ExecutionRecord;
  /** Tasks pending or running. */
  active: number;
  openedAt: number;
  added: number;
}

interface EndpointState {
  record: RegistryRecord;
  remote: RemoteRegistry;
  healthy: boolean;
  lastProbe: number;
}

export type TaskSpec = Pick<TaskRecord, 'operation' | 'resource_type' | 'src_repository' | 'dst_repository' | 'tag' | 'digest' | 'version' | 'event_at'>;

export class Replicator {
  private readonly states = new Map<number, PolicyState>();
  private readonly executions = new Map<number, ExecutionState>();
  private readonly endpoints = new Map<number, EndpointState>();
  private readonly openEventExecution = new Map<number, number>();
  private readonly local: LocalSource;
  private lock: Lock | undefined;
  private renewal: NodeJS.Timeout | undefined;
  private renewing = false;
  private closed = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private nudged = false;
  private lastExecutionSeen = 0;
  private lastPolicyLoad = 0;
  private lastStopCheck = 0;
  private lastFullScan = 0;
  private lastSweep = Date.now();
  private ticking = false;

  constructor(private readonly deps: ReplicatorDeps) {
    this.local = new LocalSource(deps.meta, deps.blobs);
  }

  get isLeader(): boolean {
    return this.lock !== undefined;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    await this.loop;
    const lock = this.lock;
    this.stepDown('closing');
    // Released, not left to expire: a standby takes over within its next try (2 s) rather than the lease's TTL.
    await lock?.release().catch(() => undefined);
  }

  /** Something changed (a policy, an execution, a stop request): look now rather than at the next poll. */
  wake(): void {
    this.lastPolicyLoad = 0;
    this.lastStopCheck = 0;
    this.nudge();
  }

  /** Health as the engine last saw it, for the API. */
  registryStatus(id: number): 'healthy' | 'unhealthy' | undefined {
    const e = this.endpoints.get(id);
    return e ? (e.healthy ? 'healthy' : 'unhealthy') : undefined;
  }

  /** Creates an execution (the active instance plans it). */
  async startExecution(policyId: number, trigger: ExecutionTrigger): Promise<ExecutionRecord> {
    const record = await this.deps.records.executions.insert(newExecution(policyId, trigger, false));
    this.wake();
    return record;
  }

  // --- the loop ---

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        await this.lease();
        if (this.lock) await this.tick();
      } catch (err) {
        this.deps.log.error({ err }, 'replication loop');
      }
      if (this.closed) break;
      if (this.nudged) {
        // Something happened during the tick: look again soon, batching what else arrives meanwhile.
        this.nudged = false;
        await sleep(20);
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.lock ? this.deps.config.replication_poll_ms : 2000);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
      this.nudged = false;
    }
  }

  /** A local write happened (this process's registry): read the outbox now instead of at the next poll. */
  nudge(): void {
    this.nudged = true;
    this.wakeUp?.();
  }

  /** Takes the lease when free. While held it is renewed by a timer of its own, so a long tick (a first scan
   *  of a big outbox) never lets it lapse into a second active instance. */
  private async lease(): Promise<void> {
    if (this.lock) return;
    this.lock = await this.deps.meta.acquireLock(LEASE, LEASE_TTL_MS);
    if (!this.lock) return;
    this.deps.log.info({ idc: this.deps.config.idc }, 'replicator active');
    this.renewal = setInterval(() => void this.renewLease(), LEASE_RENEW_MS);
    this.renewal.unref();
    try {
      await this.takeOver();
    } catch (e) {
      const lock = this.lock;
      this.stepDown('take-over failed');
      await lock?.release().catch(() => undefined);
      throw e;
    }
  }

  /** Renewal is release + acquire (the MetaStore's lock has no extend); losing the race means stepping down. */
  private async renewLease(): Promise<void> {
    if (!this.lock || this.renewing) return;
    this.renewing = true;
    try {
      await this.lock.release().catch(() => undefined);
      this.lock = await this.deps.meta.acquireLock(LEASE, LEASE_TTL_MS).catch(() => undefined);
      if (!this.lock) {
        this.deps.log.warn('replicator lease lost; standing by');
        this.stepDown('lease lost');
      }
    } finally {
      this.renewing = false;
    }
  }

  private stepDown(why: string): void {
    if (this.renewal) clearInterval(this.renewal);
    this.renewal = undefined;
    for (const s of this.states.values()) {
      s.cron?.stop();
      for (const c of s.running.values()) c.abort(new LostLeadership(why));
    }
    this.states.clear();
    this.executions.clear();
    this.openEventExecution.clear();
    this.lock = undefined;
  }

  /** Becoming active: load every unfinished execution and queue its unfinished tasks. */
  private async takeOver(): Promise<void> {
    const { records } = this.deps;
    await this.loadPolicies();
    const open = await records.executions.list({ where: { status: 'InProgress' } });
    const latest = await records.executions.list({ order: 'desc', limit: 1 });
    this.lastExecutionSeen = latest.items[0]?.id ?? 0;
    for (const rec of open.items) {
      let record = rec;
      if (record.open) record = await this.patchExecution(record.id, { open: false });
      const ex: ExecutionState = { record, active: 0, openedAt: 0, added: 0 };
      this.executions.set(record.id, ex);
      if (!record.planned) {
        void this.plan(ex);
        continue;
      }
      const orphaned = !this.states.has(record.policy_id);
      for (const t of await records.allTasks(record.id)) {
        if (t.status !== 'Pending' && t.status !== 'InProgress') continue;
        if (orphaned) await records.tasks(record.id).update({ ...t, status: 'Stopped', error: 'the policy was deleted', end_time: nowIso() });
        else this.enqueue(ex, { ...t, status: 'Pending' });
      }
      if (ex.active === 0) await this.finish(ex);
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = Date.now();
      if (now - this.lastPolicyLoad > 2000) await this.loadPolicies();
      await this.probeEndpoints();
      for (const s of this.states.values()) {
        if (s.policy.enabled && s.policy.dest_registry_id !== null && s.policy.trigger.type === 'event_based') await this.consumeOutbox(s);
      }
      await this.pickUpExecutions();
      await this.closeEventWindows();
      if (now - this.lastStopCheck > 1000) await this.checkStops();
      this.scheduleReconciles();
      this.dispatch();
      this.updateGauges();
      if (now - this.lastSweep > 10 * 60_000) {
        this.lastSweep = now;
        await this.sweepHistory();
      }
    } finally {
      this.ticking = false;
    }
  }

  // --- policies and endpoints ---

  private async loadPolicies(): Promise<void> {
    this.lastPolicyLoad = Date.now();
    const policies = await this.deps.records.allPolicies();
    const seen = new Set<number>();
    for (const p of policies) {
      seen.add(p.id);
      const remoteId = p.dest_registry_id ?? p.src_registry_id;
      if (remoteId !== null) await this.endpoint(remoteId);
      const s = this.states.get(p.id);
      if (s && s.policy.update_time === p.update_time) continue;
      if (s) {
        s.policy = p;
        s.selector = new PolicySelector(p);
        s.bandwidth = bandwidthOf(p);
        s.cron?.stop();
        s.cron = this.cronFor(p);
      } else {
        this.states.set(p.id, {
          policy: p,
          selector: new PolicySelector(p),
          bandwidth: bandwidthOf(p),
          queue: [],
          running: new Map(),
          lineage: new LRUCache({ max: 100_000 }),
          lineageComplete: false,
          mountHints: new LRUCache({ max: 10_000 }),
          nextReconcile: this.reconcileEvery() > 0 ? Date.now() + Math.min(5000, this.reconcileEvery()) : Infinity,
          planning: false,
          cron: this.cronFor(p),
        });
      }
    }
    for (const [id, s] of this.states) {
      if (seen.has(id)) continue;
      // Deleted policy: stop what it runs and close its executions.
      s.cron?.stop();
      for (const ex of [...this.executions.values()]) if (ex.record.policy_id === id) await this.stopExecution(ex);
      this.states.delete(id);
    }
  }

  private cronFor(p: PolicyRecord): Cron | undefined {
    if (!p.enabled || p.trigger.type !== 'scheduled' || !p.trigger.trigger_settings.cron) return undefined;
    try {
      return new Cron(p.trigger.trigger_settings.cron, { protect: true }, () => {
        void this.startExecution(p.id, 'scheduled').catch((err) => this.deps.log.error({ err, policy: p.name }, 'scheduled execution'));
      });
    } catch (err) {
      this.deps.log.error({ err, policy: p.name }, 'invalid cron');
      return undefined;
    }
  }

  private async endpoint(id: number): Promise<EndpointState | undefined> {
    const record = await this.deps.records.registries.get(id);
    if (!record) {
      this.endpoints.delete(id);
      return undefined;
    }
    let e = this.endpoints.get(id);
    if (!e || e.record.update_time !== record.update_time || e.record.idc !== record.idc) {
      e = { record, remote: RemoteRegistry.fromRecord(record, this.deps.cipher), healthy: e?.healthy ?? true, lastProbe: 0 };
      this.endpoints.set(id, e);
    }
    if (e.remote.isBerth && !e.remote.idc && Date.now() - e.lastProbe > 5000) {
      // The peer's IDC keeps events from going back where they came from; learn it once.
      e.lastProbe = Date.now();
      const info = await e.remote.info().catch(() => undefined);
      if (info?.idc) {
        e.remote.idc = info.idc;
        const fresh = await this.deps.records.registries.get(id);
        if (fresh) await this.deps.records.registries.update({ ...fresh, idc: info.idc });
        e.record = { ...record, idc: info.idc };
      }
    }
    return e;
  }

  private remoteOf(s: PolicyState): EndpointState | undefined {
    return this.endpoints.get((s.policy.dest_registry_id ?? s.policy.src_registry_id)!);
  }

  /** Unreachable registries are probed every second; when one answers again, its tasks run at once and its
   *  event-based policies reconcile (an IDC back from an outage gets what it missed). */
  private async probeEndpoints(): Promise<void> {
    const now = Date.now();
    for (const e of this.endpoints.values()) {
      if (e.healthy || now - e.lastProbe < 1000) continue;
      e.lastProbe = now;
      if (!(await e.remote.reachable())) continue;
      e.healthy = true;
      this.deps.log.info({ registry: e.record.name }, 'registry reachable again');
      for (const s of this.states.values()) {
        if ((s.policy.dest_registry_id ?? s.policy.src_registry_id) !== e.record.id) continue;
        for (const t of s.queue) t.next_attempt_at = now;
        s.nextReconcile = now;
      }
    }
  }

  private markUnreachable(s: PolicyState, err: unknown): void {
    const e = this.remoteOf(s);
    if (!e || !isConnectivity(err) || !e.healthy) return;
    e.healthy = false;
    e.lastProbe = Date.now();
    this.deps.log.warn({ registry: e.record.name, err: (err as Error).message }, 'registry unreachable; holding its tasks');
  }

  // --- event-based push: outbox → tasks ---

  private async consumeOutbox(s: PolicyState): Promise<void> {
    const { meta, records } = this.deps;
    if (s.cursor === undefined) {
      const saved = await records.cursor(s.policy.id);
      if (saved) {
        s.cursor = saved.seq;
        await this.rebuildLineage(s, saved.seq);
      } else {
        // A new policy follows the changes made since it was created; what existed before is copied by
        // anti-entropy (or a manual execution).
        s.lineageComplete = true;
        s.cursor = await this.cursorAt(s, Date.parse(s.policy.creation_time));
        await records.saveCursor(s.policy.id, s.cursor);
      }
    }
    for (let pages = 0; pages < 20; pages++) {
      const events = await meta.readOutbox(s.cursor, OUTBOX_PAGE);
      if (events.length === 0) return;
      const specs = new Map<string, TaskSpec>();
      for (const e of events) {
        this.trackLineage(s, e);
        const spec = await this.eventTask(s, e);
        if (!spec) continue;
        const key = spec.tag !== null ? `t\0${spec.src_repository}\0${spec.tag}` : `m\0${spec.src_repository}\0${spec.digest}\0${spec.operation}`;
        specs.delete(key); // keep the newest last, in order
        specs.set(key, spec);
      }
      if (specs.size > 0) {
        const ex = await this.eventExecution(s);
        await this.addTasks(ex, [...specs.values()]);
      }
      s.cursor = events[events.length - 1]!.seq;
      await records.saveCursor(s.policy.id, s.cursor);
      if (events.length < OUTBOX_PAGE) return;
    }
  }

  /** The seq of the last event before `since`, reading the outbox forward once (it has no time index);
   *  tracks lineage on the way. */
  private async cursorAt(s: PolicyState, since: number): Promise<number> {
    let seq = 0;
    for (;;) {
      const events = await this.deps.meta.readOutbox(seq, 5000);
      for (const e of events) {
        if (e.at >= since) return seq;
        this.trackLineage(s, e);
        seq = e.seq;
      }
      if (events.length < 5000) return seq;
    }
  }

  /** After a restart: the tags' recent history, from the outbox up to the cursor. */
  private async rebuildLineage(s: PolicyState, upTo: number): Promise<void> {
    const from = Math.max(0, upTo - 100_000);
    s.lineageComplete = from === 0;
    let seq = from;
    while (seq < upTo) {
      const events = await this.deps.meta.readOutbox(seq, 5000);
      if (events.length === 0) break;
      for (const e of events) if (e.seq <= upTo) this.trackLineage(s, e);
      seq = events[events.length - 1]!.seq;
      if (events.length < 5000) break;
    }
  }

  private trackLineage(s: PolicyState, e: OutboxEvent): void {
    if ((e.type !== 'tag.put' && e.type !== 'tag.delete') || !e.tag || !e.version) return;
    const key = `${e.repository}\0${e.tag}`;
    const before = s.lineage.get(key);
    s.lineage.set(key, { last: formatVersion(e.version), prev: before ? before.last : s.lineageComplete ? null : undefined });
  }

  /** The base a Berth peer compares with: the version the sender's current value replaced. */
  private baseOf(s: PolicyState, repository: string, tag: string, current: TagVersion): string | undefined {
    const l = s.lineage.get(`${repository}\0${tag}`);
    if (!l) return s.lineageComplete ? 'none' : undefined;
    if (l.last !== formatVersion(current) || l.prev === undefined) return undefined;
    return l.prev ?? 'none';
  }

  private async eventTask(s: PolicyState, e: OutboxEvent): Promise<TaskSpec | undefined> {
    const p = s.policy;
    const destIdc = this.remoteOf(s)?.remote.idc;
    // Never back where it came from, nor to the IDC that wrote it (hierarchical and dual-master topologies).
    if (destIdc && (e.origin === destIdc || e.version?.idc === destIdc)) return undefined;
    if (!s.selector.repositoryMatches(e.repository)) return undefined;
    let dst: string;
    try {
      dst = s.selector.destination(e.repository);
    } catch {
      return undefined;
    }
    const base = { src_repository: e.repository, dst_repository: dst, version: e.version ? formatVersion(e.version) : null, event_at: e.at };
    switch (e.type) {
      case 'tag.put':
      case 'tag.delete':
        if (!e.tag || !s.selector.tagMatches(e.tag)) return undefined;
        if (e.type === 'tag.delete' && !p.replicate_deletion) return undefined;
        return { ...base, operation: e.type === 'tag.put' ? 'copy' : 'deletion', resource_type: 'artifact', tag: e.tag, digest: e.digest ?? null };
      case 'manifest.put': {
        // Tagged manifests travel with their tag; an untagged one only matters when it refers to another
        // (signatures, SBOMs: the referrers API).
        if (!e.digest) return undefined;
        const m = await this.deps.meta.getManifest(e.repository, e.digest);
        if (!m?.subject) return undefined;
        return { ...base, operation: 'copy', resource_type: 'manifest', tag: null, digest: e.digest };
      }
      case 'manifest.delete':
        if (!p.replicate_deletion || !e.digest) return undefined;
        return { ...base, operation: 'deletion', resource_type: 'manifest', tag: null, digest: e.digest };
    }
  }

  private async eventExecution(s: PolicyState): Promise<ExecutionState> {
    const id = this.openEventExecution.get(s.policy.id);
    const current = id !== undefined ? this.executions.get(id) : undefined;
    if (current && current.record.open && Date.now() - current.openedAt < EVENT_WINDOW_MS && current.added < EVENT_WINDOW_TASKS) return current;
    if (current) await this.closeWindow(current);
    const record = await this.deps.records.executions.insert({ ...newExecution(s.policy.id, 'event_based', true), open: true });
    const ex: ExecutionState = { record, active: 0, openedAt: Date.now(), added: 0 };
    this.executions.set(record.id, ex);
    this.lastExecutionSeen = Math.max(this.lastExecutionSeen, record.id);
    this.openEventExecution.set(s.policy.id, record.id);
    return ex;
  }

  private async closeEventWindows(): Promise<void> {
    for (const [policyId, id] of this.openEventExecution) {
      const ex = this.executions.get(id);
      if (!ex) {
        this.openEventExecution.delete(policyId);
        continue;
      }
      if (Date.now() - ex.openedAt >= EVENT_WINDOW_MS) {
        this.openEventExecution.delete(policyId);
        await this.closeWindow(ex);
      }
    }
  }

  private async closeWindow(ex: ExecutionState): Promise<void> {
    if (!ex.record.open) return;
    ex.record = await this.patchExecution(ex.record.id, { open: false });
    if (ex.active === 0) await this.finish(ex);
  }

  // --- manual, scheduled and anti-entropy executions ---

  private async pickUpExecutions(): Promise<void> {
    const { executions } = this.deps.records;
    const now = Date.now();
    let candidates: ExecutionRecord[];
    if (now - this.lastFullScan > 30_000) {
      this.lastFullScan = now;
      candidates = (await executions.list({ where: { planned: false } })).items;
    } else {
      // Cheap when nothing is new (the usual case): one document.
      const newest = (await executions.list({ order: 'desc', limit: 1 })).items[0];
      if (!newest || newest.id <= this.lastExecutionSeen) return;
      candidates = (await executions.list({ order: 'desc', limit: 50 })).items.filter((r) => r.id > this.lastExecutionSeen);
    }
    for (const r of candidates) {
      this.lastExecutionSeen = Math.max(this.lastExecutionSeen, r.id);
      if (r.planned || r.status !== 'InProgress' || this.executions.has(r.id)) continue;
      const ex: ExecutionState = { record: r, active: 0, openedAt: 0, added: 0 };
      this.executions.set(r.id, ex);
      void this.plan(ex);
    }
  }

  private async plan(ex: ExecutionState): Promise<void> {
    const s = this.states.get(ex.record.policy_id);
    try {
      if (!s) throw new Error('the policy no longer exists');
      while (s.planning) await sleep(200);
      s.planning = true;
      try {
        const specs = await this.planSpecs(s, ex.record.trigger);
        await this.addTasks(ex, specs);
      } finally {
        s.planning = false;
      }
      ex.record = await this.patchExecution(ex.record.id, { planned: true });
      if (ex.record.stop_requested) await this.stopExecution(ex);
      if (ex.active === 0) await this.finish(ex);
      this.nudge();
    } catch (err) {
      this.deps.log.warn({ err, execution: ex.record.id }, 'planning failed');
      ex.record = await this.patchExecution(ex.record.id, { planned: true });
      await this.finish(ex, `planning failed: ${(err as Error).message}`);
    }
  }

  /** Anti-entropy for event-based push policies: periodically, and when the destination comes back. */
  private scheduleReconciles(): void {
    const now = Date.now();
    for (const s of this.states.values()) {
      const p = s.policy;
      if (!p.enabled || p.trigger.type !== 'event_based' || p.dest_registry_id === null || s.planning) continue;
      if (now < s.nextReconcile || !this.remoteOf(s)?.healthy) continue;
      s.nextReconcile = this.reconcileEvery() > 0 ? now + this.reconcileEvery() : Infinity;
      void this.reconcile(s);
    }
  }

  private reconcileEvery(): number {
    return this.deps.config.replication_reconcile_seconds * 1000;
  }

  private async reconcile(s: PolicyState): Promise<void> {
    if (s.planning) return;
    s.planning = true;
    try {
      const specs = await this.planSpecs(s, 'reconcile');
      if (specs.length === 0) return;
      const record = await this.deps.records.executions.insert(newExecution(s.policy.id, 'reconcile', true));
      const ex: ExecutionState = { record, active: 0, openedAt: 0, added: 0 };
      this.executions.set(record.id, ex);
      this.lastExecutionSeen = Math.max(this.lastExecutionSeen, record.id);
      await this.addTasks(ex, specs);
      this.deps.log.info({ policy: s.policy.name, tasks: specs.length }, 'anti-entropy found differences');
      if (ex.active === 0) await this.finish(ex);
      this.nudge();
    } catch (err) {
      this.markUnreachable(s, err);
      this.deps.log.warn({ err, policy: s.policy.name }, 'anti-entropy failed');
    } finally {
      s.planning = false;
    }
  }

  /** What differs between source and destination, as tasks. */
  private async planSpecs(s: PolicyState, trigger: ExecutionTrigger): Promise<TaskSpec[]> {
    const e = this.remoteOf(s);
    if (!e) throw new Error('the policy names a registry that no longer exists');
    const push = s.policy.dest_registry_id !== null;
    const source: ArtifactSource = push ? this.local : new RemoteSource(e.remote);
    const specs: TaskSpec[] = [];
    const repositories = s.selector.literalRepositories() ?? source.repositories();
    for await (const repo of repositories) {
      if (!s.selector.repositoryMatches(repo)) continue;
      let dst: string;
      try {
        dst = s.selector.destination(repo);
      } catch {
        continue;
      }
      const srcTags = (await source.tags(repo)).filter((t) => s.selector.tagMatches(t.name));
      if (srcTags.length === 0) continue;
      const destTags = push ? await this.remoteTags(e.remote, dst, srcTags) : await this.localTags(dst);
      for (const t of srcTags) {
        const spec = diffTag(s.policy, t, destTags.get(t.name), trigger === 'reconcile' || e.remote.isBerth);
        if (spec) specs.push({ ...spec, src_repository: repo, dst_repository: dst, tag: t.name, digest: t.digest, version: t.version ? formatVersion(t.version) : null, event_at: null });
      }
    }
    return specs;
  }

  /** Tags at a remote destination: Berth peers answer with versions and tombstones; others by name + HEAD. */
  private async remoteTags(remote: RemoteRegistry, repository: string, wanted: SourceTag[]): Promise<Map<string, SourceTag>> {
    if (remote.isBerth) {
      const records = await remote.tagRecords(repository);
      if (records) return new Map(records.map((r) => [r.name, r]));
    }
    const names = new Set((await remote.client.listTags(repository)) ?? []);
    const out = new Map<string, SourceTag>();
    for (const t of wanted) {
      if (!names.has(t.name)) continue;
      const head = await remote.client.headManifest(repository, t.name);
      if (head) out.set(t.name, { name: t.name, digest: head.digest });
    }
    return out;
  }

  private async localTags(repository: string): Promise<Map<string, SourceTag>> {
    return new Map((await this.deps.meta.listTagRecords(repository)).map((r) => [r.name, { name: r.name, digest: r.digest, version: r.version }]));
  }

  // --- tasks ---

  private async addTasks(ex: ExecutionState, specs: TaskSpec[]): Promise<void> {
    const tasks = this.deps.records.tasks(ex.record.id);
    for (const spec of specs) {
      const t = await tasks.insert({
        ...spec,
        execution_id: ex.record.id,
        policy_id: ex.record.policy_id,
        status: 'Pending',
        attempts: 0,
        next_attempt_at: 0,
        bytes: 0,
        error: '',
        note: '',
        start_time: null,
        end_time: null,
      });
      ex.added++;
      this.enqueue(ex, t);
    }
    this.nudge();
  }

  private enqueue(ex: ExecutionState, t: TaskRecord): void {
    const s = this.states.get(t.policy_id);
    if (!s) return;
    s.queue.push(t);
    ex.active++;
  }

  private dispatch(): void {
    const now = Date.now();
    for (const s of this.states.values()) {
      if (s.queue.length === 0) continue;
      if (!this.remoteOf(s)?.healthy) continue;
      const limit = s.policy.concurrency > 0 ? s.policy.concurrency : this.deps.config.replication_concurrency;
      for (let i = 0; i < s.queue.length && s.running.size < limit; ) {
        const t = s.queue[i]!;
        if (t.next_attempt_at > now) {
          i++;
          continue;
        }
        s.queue.splice(i, 1);
        void this.runTask(s, t);
      }
    }
  }

  private async runTask(s: PolicyState, task: TaskRecord): Promise<void> {
    const ex = this.executions.get(task.execution_id);
    const key = `${task.execution_id}:${task.id}`;
    const controller = new AbortController();
    s.running.set(key, controller);
    const idleMs = this.deps.config.replication_idle_timeout_seconds * 1000;
    let lastProgress = Date.now();
    const tasks = this.deps.records.tasks(task.execution_id);
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
    let requeue = false;
    try {
      await tasks.update(t);
      const ctx: TransferContext = {
        signal: controller.signal,
        bandwidth: s.bandwidth,
        chunkSize: this.deps.config.replication_chunk_mb * 1024 * 1024,
        onBytes: (n) => {
          lastProgress = Date.now();
          t.bytes += n;
          this.deps.metrics.bytes.inc({ policy: s.policy.name }, n);
        },
        progress: () => {
          lastProgress = Date.now();
        },
        mountCandidates: (d) => this.mountCandidates(s, d),
      };
      // A stop or a timeout ends the task at once, even while a request without a signal (a HEAD) is pending;
      // transfers themselves carry the signal and stop sending.
      const work = this.perform(s, t, ctx);
      work.catch(() => undefined);
      const aborted = new Promise<never>((_, reject) => {
        const fail = () => reject(controller.signal.reason as Error);
        if (controller.signal.aborted) fail();
        else controller.signal.addEventListener('abort', fail, { once: true });
      });
      aborted.catch(() => undefined);
      const note = await Promise.race([work, aborted]);
      t = { ...t, status: 'Succeed', note, end_time: nowIso() };
      this.deps.metrics.tasks.inc({ policy: s.policy.name, status: 'Succeed' });
      if (t.event_at !== null) this.deps.metrics.lag.observe({ policy: s.policy.name }, Math.max(0, Date.now() - t.event_at) / 1000);
    } catch (err) {
      const reason: unknown = controller.signal.reason;
      if (reason instanceof LostLeadership) return; // the next active instance takes the task over
      if (reason instanceof StopRequest) {
        t = { ...t, status: 'Stopped', error: reason.message, end_time: nowIso() };
        this.deps.metrics.tasks.inc({ policy: s.policy.name, status: 'Stopped' });
      } else {
        const message = reason instanceof IdleTimeout ? `timed out: ${reason.message}` : describe(err);
        this.deps.metrics.failures.inc({ policy: s.policy.name });
        this.markUnreachable(s, err);
        if (t.attempts < this.deps.config.replication_max_attempts && !isPermanent(err)) {
          const backoff = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (t.attempts - 1)) * (0.8 + Math.random() * 0.4);
          t = { ...t, status: 'Pending', error: message, next_attempt_at: Date.now() + backoff };
          requeue = true;
        } else {
          t = { ...t, status: 'Failed', error: message, end_time: nowIso() };
          this.deps.metrics.tasks.inc({ policy: s.policy.name, status: 'Failed' });
          this.deps.log.warn({ policy: s.policy.name, repository: t.src_repository, tag: t.tag, digest: t.digest, err: message }, 'replication task failed');
        }
      }
    } finally {
      clearInterval(watchdog);
      s.running.delete(key);
    }
    try {
      await saving;
      await tasks.update(t);
    } catch (err) {
      this.deps.log.error({ err }, 'recording a task');
    }
    if (!this.lock) return;
    if (requeue && !ex?.record.stop_requested) {
      s.queue.push(t);
    } else if (ex) {
      if (requeue) await tasks.update({ ...t, status: 'Stopped', end_time: nowIso() });
      ex.active--;
      if (ex.active === 0) await this.finish(ex);
    }
    this.nudge();
  }

  /** One task: make the destination match the source's current state of the tag (or manifest). Returns a note
   *  when nothing had to be sent. Current state, not the event's: an older task retried late can never undo a
   *  newer change, whatever order tasks finish in. */
  private async perform(s: PolicyState, t: TaskRecord, ctx: TransferContext): Promise<string> {
    const e = this.remoteOf(s);
    if (!e) throw new PermanentError('the policy names a registry that no longer exists');
    const push = s.policy.dest_registry_id !== null;
    if (!push && this.deps.config.auth === 'token' && !this.deps.localAccess) {
      throw new PermanentError('pull policies cannot write into this registry: access control is on and no local access was wired');
    }
    const source: ArtifactSource = push ? this.local : new RemoteSource(e.remote);
    const dest = push ? e.remote.client : await this.localClient(t.dst_repository);
    const destIsBerth = push ? e.remote.isBerth : true;
    if (push) await e.remote.ensureProject(t.dst_repository);
    else if (t.dst_repository.includes('/')) await this.deps.localAccess?.ensureProject(t.dst_repository.split('/')[0]!);

    if (t.resource_type === 'manifest') {
      const digest = t.digest as Digest;
      if (t.operation === 'copy') {
        try {
          const r = await copyArtifact({ source, srcRepository: t.src_repository, dest, destRepository: t.dst_repository, digest }, ctx);
          this.hint(s, digest, t.dst_repository);
          return r.present ? 'already at the destination' : '';
        } catch (err) {
          if (err instanceof SourceGoneError) return 'deleted at the source meanwhile';
          throw err;
        }
      }
      if (await source.manifest(t.src_repository, digest)) return 'pushed again at the source meanwhile';
      const headers = destIsBerth && t.version ? this.versionHeaders(push ? this.deps.config.idc : (e.remote.idc ?? ''), t.version) : {};
      const r = await deleteArtifact({ dest, destRepository: t.dst_repository, reference: digest, headers, byDigestFallback: false, signal: ctx.signal });
      return r.absent ? 'already absent at the destination' : '';
    }

    const tag = t.tag!;
    const current = await source.tag(t.src_repository, tag);
    const from = push ? this.deps.config.idc : (e.remote.idc ?? current?.version?.idc ?? '');
    if (t.operation === 'copy') {
      if (!current?.digest) return 'deleted at the source meanwhile';
      if (!s.policy.override) {
        const there = push ? await dest.headManifest(t.dst_repository, tag) : await this.deps.meta.getTag(t.dst_repository, tag);
        if (there?.digest && there.digest !== current.digest) return 'the destination has another artifact under this tag and override is off';
      }
      let headers: Record<string, string> = {};
      if (destIsBerth && current.version) {
        headers = this.versionHeaders(from, formatVersion(current.version));
        const base = push ? this.baseOf(s, t.src_repository, tag, current.version) : undefined;
        if (base !== undefined) headers['Berth-Tag-Base'] = base;
      }
      try {
        const r = await copyArtifact(
          { source, srcRepository: t.src_repository, dest, destRepository: t.dst_repository, digest: current.digest, tag, tagHeaders: headers },
          ctx,
        );
        this.hint(s, current.digest, t.dst_repository);
        if (r.tagWrite === 'stale') return 'the destination holds a newer write of this tag (last writer wins)';
        return r.present ? 'already at the destination' : '';
      } catch (err) {
        if (err instanceof SourceGoneError) return 'deleted at the source meanwhile';
        throw err;
      }
    }
    if (current?.digest) return 'pushed again at the source meanwhile';
    const version = current?.version ? formatVersion(current.version) : t.version;
    const headers = destIsBerth && version ? this.versionHeaders(from, version) : {};
    const r = await deleteArtifact({ dest, destRepository: t.dst_repository, reference: tag, headers, byDigestFallback: !destIsBerth, signal: ctx.signal });
    if (r.tagWrite === 'stale') return 'the destination holds a newer write of this tag (last writer wins)';
    return r.absent ? 'already absent at the destination' : '';
  }

  private versionHeaders(from: string, version: string): Record<string, string> {
    return { 'Berth-Tag-Version': version, ...(from && { 'Berth-Replicated-From': from }) };
  }

  private async localClient(repository: string): Promise<OciClient> {
    const auth = await this.deps.localAccess?.authorization(repository);
    return new OciClient({ baseUrl: this.deps.localUrl, userAgent: 'berth-replicator', ...(auth && { headers: { Authorization: auth } }) });
  }

  private hint(s: PolicyState, digest: Digest, repository: string): void {
    s.mountHints.set(digest, repository);
  }

  /** Destination repositories that may hold a blob already: where this policy sent it before, and where the
   *  policy sends the source repositories that hold it. */
  private async mountCandidates(s: PolicyState, digest: Digest): Promise<string[]> {
    const out = new Set<string>();
    const hint = s.mountHints.get(digest);
    if (hint) out.add(hint);
    if (s.policy.dest_registry_id !== null) {
      for (const repo of await this.local.holders(digest)) {
        if (!s.selector.repositoryMatches(repo)) continue;
        try {
          out.add(s.selector.destination(repo));
        } catch {
          /* not replicated */
        }
      }
    } else {
      for (const repo of await this.deps.meta.blobRepositories(digest, 4)) out.add(repo);
    }
    return [...out].slice(0, 4);
  }

  // --- stop and finish ---

  /** Stop requests may come from the API on any instance: re-read the running executions' records. */
  private async checkStops(): Promise<void> {
    this.lastStopCheck = Date.now();
    for (const ex of this.executions.values()) {
      if (ex.record.stop_requested) continue;
      const fresh = await this.deps.records.executions.get(ex.record.id);
      if (!fresh) continue;
      ex.record = fresh;
      if (fresh.stop_requested && fresh.planned) await this.stopExecution(ex);
    }
  }

  private async stopExecution(ex: ExecutionState): Promise<void> {
    const id = ex.record.id;
    const s = this.states.get(ex.record.policy_id);
    if (!s) return;
    const tasks = this.deps.records.tasks(id);
    const waiting = s.queue.filter((t) => t.execution_id === id);
    s.queue = s.queue.filter((t) => t.execution_id !== id);
    for (const t of waiting) {
      await tasks.update({ ...t, status: 'Stopped', error: 'stopped', end_time: nowIso() });
      ex.active--;
    }
    for (const [key, c] of s.running) if (key.startsWith(`${id}:`)) c.abort(new StopRequest('stopped'));
    if (this.openEventExecution.get(ex.record.policy_id) === id) this.openEventExecution.delete(ex.record.policy_id);
    if (ex.record.open) ex.record = await this.patchExecution(id, { open: false });
    if (ex.active === 0) await this.finish(ex);
  }

  private async finish(ex: ExecutionState, failure?: string): Promise<void> {
    if (ex.record.open || !ex.record.planned || this.executions.get(ex.record.id) !== ex) return;
    if (ex.active > 0 && !failure) return;
    this.executions.delete(ex.record.id);
    const fresh = (await this.deps.records.executions.get(ex.record.id)) ?? ex.record;
    const counts = countTasks(await this.deps.records.allTasks(ex.record.id));
    const status = failure || counts.failed > 0 ? 'Failed' : fresh.stop_requested || counts.stopped > 0 ? 'Stopped' : 'Succeed';
    const text = failure ?? (counts.failed > 0 ? `${counts.failed} of ${counts.total} tasks failed` : status === 'Stopped' ? 'stopped' : '');
    await this.deps.records.executions.update({ ...fresh, ...counts, open: false, status, status_text: text, end_time: nowIso() });
  }

  private async patchExecution(id: number, patch: Partial<ExecutionRecord>): Promise<ExecutionRecord> {
    const fresh = await this.deps.records.executions.get(id);
    if (!fresh) throw new Error(`execution ${id} vanished`);
    const next = { ...fresh, ...patch };
    await this.deps.records.executions.update(next);
    return next;
  }

  // --- housekeeping ---

  private updateGauges(): void {
    const now = Date.now();
    for (const s of this.states.values()) {
      const name = s.policy.name;
      this.deps.metrics.queueDepth.set({ policy: name }, s.queue.length + s.running.size);
      let oldest = now;
      for (const t of s.queue) if (t.event_at !== null && t.event_at < oldest) oldest = t.event_at;
      this.deps.metrics.backlogAge.set({ policy: name }, (now - oldest) / 1000);
    }
  }

  /** Executions older than a week go, with their tasks. */
  private async sweepHistory(): Promise<void> {
    const cutoff = Date.now() - HISTORY_MS;
    const { items } = await this.deps.records.executions.list({ order: 'asc', limit: 1000 });
    for (const r of items) {
      if (r.status === 'InProgress' || !r.end_time || Date.parse(r.end_time) > cutoff) continue;
      await this.deps.records.deleteExecution(r.id);
    }
  }
}

/** What a tag needs at the destination, if anything. With versions (Berth peers), only a newer source value
 *  is sent, so anti-entropy between two masters never undoes the other's newer write. */
function diffTag(policy: PolicyRecord, src: SourceTag, dest: SourceTag | undefined, versioned: boolean): Pick<TaskSpec, 'operation' | 'resource_type'> | undefined {
  if (src.digest !== null) {
    if (dest?.digest === src.digest) return undefined;
    if (dest?.digest && !policy.override) return undefined;
    if (versioned && dest?.version && src.version && compareVersions(dest.version, src.version) >= 0) return undefined;
    return { operation: 'copy', resource_type: 'artifact' };
  }
  if (!policy.replicate_deletion || !dest?.digest) return undefined;
  if (dest.version && src.version && compareVersions(dest.version, src.version) >= 0) return undefined;
  return { operation: 'deletion', resource_type: 'artifact' };
}

function newExecution(policyId: number, trigger: ExecutionTrigger, planned: boolean): Omit<ExecutionRecord, 'id'> {
  return {
    policy_id: policyId,
    status: 'InProgress',
    status_text: '',
    trigger,
    planned,
    open: false,
    stop_requested: false,
    start_time: nowIso(),
    end_time: null,
    total: 0,
    succeed: 0,
    failed: 0,
    in_progress: 0,
    stopped: 0,
  };
}

function bandwidthOf(p: PolicyRecord): Bandwidth {
  return new Bandwidth(p.speed > 0 ? p.speed * 1024 : 0);
}

class PermanentError extends Error {
  override name = 'PermanentError';
}

/** Errors a retry cannot fix: the destination refused the content itself. */
function isPermanent(err: unknown): boolean {
  if (err instanceof PermanentError) return true;
  // An untrusted certificate stays untrusted until someone changes it or the endpoint's `insecure`.
  if (err instanceof TlsCertificateError) return true;
  if (err instanceof OciClientError) {
    return ['MANIFEST_INVALID', 'NAME_INVALID', 'DIGEST_INVALID', 'SIZE_INVALID', 'UNSUPPORTED'].includes(err.code) && err.status < 500;
  }
  return false;
}

/** The registry did not answer at all (down, partitioned) rather than refusing something. */
function isConnectivity(err: unknown): boolean {
  if (err instanceof OciClientError) return err.status === 502 || err.status === 503 || err.status === 504;
  const e = err as { name?: string; message?: string; cause?: { code?: string } } | undefined;
  if (e?.name === 'TimeoutError') return true;
  if (e?.message === 'fetch failed') return true;
  const code = e?.cause?.code ?? (err as { code?: string } | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CONNECT_TIMEOUT';
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(err)}${cause ? ` (${cause})` : ''}`.slice(0, 1000);
}

