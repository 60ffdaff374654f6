import type { ServerConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Registry } from '../registry/registry.js';
import type { MetaStore } from '../storage-adapters/meta/meta-store.js';
import { sleep } from './bandwidth.js';
import type { CredentialCipher } from './credentials.js';
import type { LocalAccess } from '../core/local-access.js';
import { LocalDestination } from './destinations.js';
import { Endpoints } from './endpoints.js';
import { Executions, type ExecutionState } from './executions.js';
import { PermanentError } from './failures.js';
import { performTask } from './flow.js';
import { Lease } from '../registry/lease.js';
import type { ReplicationMetrics } from './metrics.js';
import { OutboxFollower } from './outbox.js';
import { Planning } from './planner.js';
import { followsOutbox, Policies, type PolicyState } from './policies.js';
import { nowIso, pendingTask, type ExecutionRecord, type ExecutionTrigger, type ReplicationRecords, type TaskRecord, type TaskSpec } from './records.js';
import { LostLeadership, StopRequest, TaskRunner, type Job } from './runner.js';
import { LocalSource } from './source.js';

// The replication engine, composed. One instance per IDC is active at a time (lease.ts); the others wait. The
// active one follows the outbox for event-based push policies (outbox.ts), plans manual, scheduled and
// anti-entropy executions (planner.ts), queues tasks per policy (queue.ts) and runs them (runner.ts) along the
// policy's route (route.ts, flow.ts), keeping execution records (executions.ts). Tasks are records: a restart or
// a new active instance picks up whatever was pending or running.

export interface ReplicatorDeps {
  config: ServerConfig;
  log: Logger;
  /** Leases, the outbox and replication's records. */
  meta: MetaStore;
  /** This registry, read as a push policy's source. */
  registry: Registry;
  records: ReplicationRecords;
  cipher: CredentialCipher;
  /** Extra CAs (BERTH_CA_FILE) remote registries' certificates may chain to. */
  ca?: Buffer;
  metrics: ReplicationMetrics;
  /** This registry's own OCI endpoint: pull policies write through it like any client. */
  localUrl: string;
  /** With access control on: how those writes are authorized. */
  localAccess?: LocalAccess;
}

export class Replicator {
  private readonly policies: Policies;
  private readonly executions: Executions;
  private readonly endpoints: Endpoints;
  private readonly planning: Planning;
  private readonly lease: Lease;
  private readonly runner: TaskRunner;
  private closed = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private nudged = false;
  private lastPolicyLoad = 0;
  private lastStopCheck = 0;
  private lastSweep = Date.now();
  private ticking = false;

  constructor(private readonly deps: ReplicatorDeps) {
    const { config, log, records } = deps;
    this.executions = new Executions(records, (record, repositories) => {
      // One REPLICATION event per project the execution touched here.
      const seen = new Set<string>();
      for (const repository of repositories) {
        const project = repository.split('/')[0]!;
        if (seen.has(project) || !repository.includes('/')) continue;
        seen.add(project);
        deps.registry.events.emit({ type: 'REPLICATION', repository, execution_id: record.id, policy_id: record.policy_id, status: record.status, trigger: record.trigger });
      }
    });
    this.endpoints = new Endpoints(records, deps.cipher, log, deps.ca);
    this.lease = new Lease('replicator', deps.meta, log, (why) => this.abandon(why));
    this.runner = new TaskRunner({ records, metrics: deps.metrics, log, config });
    const local = new LocalSource(deps.registry);
    const reconcileEveryMs = config.replication_reconcile_seconds * 1000;
    this.policies = new Policies({
      records,
      endpoints: this.endpoints,
      log,
      idc: config.idc,
      local,
      localDestination: new LocalDestination({
        url: deps.localUrl,
        idc: config.idc,
        local,
        accessRequired: config.auth === 'token',
        ...(deps.localAccess && { access: deps.localAccess }),
      }),
      reconcileEveryMs,
      follower: () => new OutboxFollower(deps.meta, records, deps.registry),
      scheduled: (p) => void this.startExecution(p.id, 'scheduled').catch((err) => log.error({ err, policy: p.name }, 'scheduled execution')),
    });
    const target = { addTasks: this.addTasks.bind(this), stop: this.stopExecution.bind(this), nudge: this.nudge.bind(this) };
    this.planning = new Planning(this.policies, this.executions, target, log, reconcileEveryMs);
  }

  get isLeader(): boolean {
    return this.lease.held;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    await this.loop;
    await this.stepDown('closing');
  }

  /** Something changed (a policy, an execution, a stop request): look now rather than at the next poll. */
  wake(): void {
    this.lastPolicyLoad = 0;
    this.lastStopCheck = 0;
    this.nudge();
  }

  /** A local write happened (this process's registry): read the outbox now instead of at the next poll. */
  nudge(): void {
    this.nudged = true;
    this.wakeUp?.();
  }

  /** Health as the engine last saw it, for the API. */
  registryStatus(id: number): 'healthy' | 'unhealthy' | undefined {
    return this.endpoints.status(id);
  }

  /** Creates an execution (the active instance plans it). */
  async startExecution(policyId: number, trigger: ExecutionTrigger): Promise<ExecutionRecord> {
    const record = await this.executions.create(policyId, trigger, false);
    this.wake();
    return record;
  }

  // --- the loop ---

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        if (await this.lease.take()) await this.becomeActive();
        if (this.lease.held) await this.tick();
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
        const timer = setTimeout(resolve, this.lease.held ? this.deps.config.replication_poll_ms : 2000);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
      this.nudged = false;
    }
  }

  private async becomeActive(): Promise<void> {
    this.deps.log.info({ idc: this.deps.config.idc }, 'replicator active');
    try {
      await this.takeOver();
    } catch (e) {
      await this.stepDown('take-over failed');
      throw e;
    }
  }

  private async stepDown(why: string): Promise<void> {
    const lock = this.lease.relinquish();
    this.abandon(why);
    await lock?.release().catch(() => undefined);
  }

  /** No longer active: running tasks stop where they are, for the next active instance to take over. */
  private abandon(why: string): void {
    for (const s of this.policies.clear()) s.queue.abort(new LostLeadership(why));
    this.executions.clear();
  }

  /** Becoming active: load every unfinished execution and queue its unfinished tasks. */
  private async takeOver(): Promise<void> {
    const { records } = this.deps;
    await this.loadPolicies();
    for (const ex of await this.executions.resume()) {
      if (!ex.record.planned) {
        void this.planning.plan(ex);
        continue;
      }
      const orphaned = !this.policies.get(ex.record.policy_id);
      for (const t of await records.allTasks(ex.record.id)) {
        if (t.status !== 'Pending' && t.status !== 'InProgress') continue;
        if (orphaned) await records.tasks(ex.record.id).update({ ...t, status: 'Stopped', error: 'the policy was deleted', end_time: nowIso() });
        else this.enqueue(ex, { ...t, status: 'Pending' });
      }
      if (ex.active === 0) await this.executions.finish(ex);
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = Date.now();
      if (now - this.lastPolicyLoad > 2000) await this.loadPolicies();
      for (const id of await this.endpoints.probe()) this.policies.reachableAgain(id);
      for (const s of this.policies.values()) {
        if (followsOutbox(s.policy)) await this.follow(s);
      }
      const unplanned = await this.executions.unplanned();
      // Made by another process (`berth replicate` beside `berth serve`), an execution can name a policy created
      // or edited after the last re-read: read the policies again before planning it, not up to 2 s later.
      if (unplanned.length > 0) await this.loadPolicies();
      for (const ex of unplanned) void this.planning.plan(ex);
      await this.executions.closeWindows();
      if (now - this.lastStopCheck > 1000) await this.checkStops();
      this.planning.scheduleReconciles();
      this.dispatch();
      this.updateGauges();
      if (now - this.lastSweep > 10 * 60_000) {
        this.lastSweep = now;
        await this.executions.sweep();
      }
    } finally {
      this.ticking = false;
    }
  }

  private async loadPolicies(): Promise<void> {
    this.lastPolicyLoad = Date.now();
    for (const id of await this.policies.load()) {
      // Deleted policy: stop what it runs and close its executions.
      for (const ex of [...this.executions.values()]) if (ex.record.policy_id === id) await this.stopExecution(ex);
      this.policies.remove(id);
    }
  }

  /** Event-based push: what the outbox says changed, as tasks of the policy's open event execution. */
  private async follow(s: PolicyState): Promise<void> {
    const destinationIdc = this.policies.routeOf(s)?.destination.idc ?? null;
    await s.follower.follow({ policy: s.policy, selector: s.selector, destinationIdc }, async (specs) => {
      await this.addTasks(await this.executions.eventWindow(s.policy.id), specs);
    });
  }

  // --- tasks ---

  private async addTasks(ex: ExecutionState, specs: TaskSpec[]): Promise<void> {
    const tasks = this.deps.records.tasks(ex.record.id);
    for (const spec of specs) {
      const t = await tasks.insert(pendingTask(spec, ex.record.id, ex.record.policy_id));
      ex.added++;
      this.enqueue(ex, t);
    }
    this.nudge();
  }

  private enqueue(ex: ExecutionState, t: TaskRecord): void {
    const s = this.policies.get(t.policy_id);
    if (!s) return;
    s.queue.push(t);
    ex.active++;
  }

  private dispatch(): void {
    const now = Date.now();
    for (const s of this.policies.values()) {
      if (!this.policies.healthy(s)) continue;
      const limit = s.policy.concurrency > 0 ? s.policy.concurrency : this.deps.config.replication_concurrency;
      s.queue.dispatch(limit, now, (t, controller) => this.runTask(s, t, controller));
    }
  }

  private async runTask(s: PolicyState, task: TaskRecord, controller: AbortController): Promise<void> {
    const ex = this.executions.get(task.execution_id);
    const attempt = await this.runner.attempt(task, this.jobOf(s), controller);
    if (!attempt || !this.lease.held) return;
    const { task: t, retry } = attempt;
    try {
      if (retry && !ex?.record.stop_requested) {
        s.queue.push(t);
      } else if (ex) {
        if (retry) await this.deps.records.tasks(t.execution_id).update({ ...t, status: 'Stopped', end_time: nowIso() });
        ex.active--;
        if (ex.active === 0) await this.executions.finish(ex);
      }
    } catch (err) {
      this.deps.log.error({ err }, 'recording the end of a task');
    }
    this.nudge();
  }

  private jobOf(s: PolicyState): Job {
    return {
      policy: s.policy.name,
      bandwidth: s.bandwidth,
      perform: async (t, ctx) => {
        const route = this.policies.routeOf(s);
        if (!route) throw new PermanentError('the policy names a registry that no longer exists');
        return performTask(route, s.policy, s.hints, t, ctx);
      },
      failed: (err) => this.policies.failed(s, err),
    };
  }

  // --- stop ---

  private async checkStops(): Promise<void> {
    this.lastStopCheck = Date.now();
    for (const ex of await this.executions.stopRequested()) await this.stopExecution(ex);
  }

  private async stopExecution(ex: ExecutionState): Promise<void> {
    const id = ex.record.id;
    const s = this.policies.get(ex.record.policy_id);
    if (!s) return;
    const tasks = this.deps.records.tasks(id);
    for (const t of s.queue.withdraw(id)) {
      await tasks.update({ ...t, status: 'Stopped', error: 'stopped', end_time: nowIso() });
      ex.active--;
    }
    s.queue.abort(new StopRequest('stopped'), id);
    await this.executions.closeWindow(ex);
    if (ex.active === 0) await this.executions.finish(ex);
  }

  private updateGauges(): void {
    const now = Date.now();
    for (const s of this.policies.values()) {
      this.deps.metrics.queueDepth.set({ policy: s.policy.name }, s.queue.depth);
      this.deps.metrics.backlogAge.set({ policy: s.policy.name }, (now - s.queue.oldestChange(now)) / 1000);
    }
  }
}
