import { Cron } from 'croner';
import type { Logger } from '../core/log.js';
import { Bandwidth } from './bandwidth.js';
import { RemoteDestination, type LocalDestination } from './destinations.js';
import type { RemoteRegistry } from './endpoint.js';
import type { Endpoints } from './endpoints.js';
import { PolicySelector } from './filters.js';
import { mountHints, type MountHints } from './flow.js';
import type { OutboxFollower } from './outbox.js';
import { TaskQueue } from './queue.js';
import type { PolicyRecord, ReplicationRecords } from './records.js';
import { pullRoute, pushRoute, type Route } from './route.js';
import type { LocalSource } from './source.js';

// The policies as the active engine runs them: each with what it selects, its bandwidth, its queue, its outbox
// reading, its schedule and its route, re-read from the records every couple of seconds.

export interface PolicyState {
  policy: PolicyRecord;
  selector: PolicySelector;
  bandwidth: Bandwidth;
  queue: TaskQueue;
  follower: OutboxFollower;
  hints: MountHints;
  nextReconcile: number;
  planning: boolean;
  cron?: Cron;
  /** Built for the endpoint's current client; rebuilt when either changes. */
  route?: { remote: RemoteRegistry; route: Route };
}

export interface PoliciesDeps {
  records: ReplicationRecords;
  endpoints: Endpoints;
  log: Logger;
  idc: string;
  local: LocalSource;
  localDestination: LocalDestination;
  reconcileEveryMs: number;
  follower(): OutboxFollower;
  /** A scheduled policy's cron fired. */
  scheduled(policy: PolicyRecord): void;
}

export class Policies {
  private readonly states = new Map<number, PolicyState>();

  constructor(private readonly deps: PoliciesDeps) {}

  get(id: number): PolicyState | undefined {
    return this.states.get(id);
  }

  values(): IterableIterator<PolicyState> {
    return this.states.values();
  }

  /** Stops every schedule and forgets every policy. */
  clear(): PolicyState[] {
    const all = [...this.states.values()];
    for (const s of all) s.cron?.stop();
    this.states.clear();
    return all;
  }

  /** Re-reads the policies (and the registries they name); returns the ids of the policies deleted since. */
  async load(): Promise<number[]> {
    const { records, endpoints } = this.deps;
    const seen = new Set<number>();
    for (const p of await records.allPolicies()) {
      seen.add(p.id);
      const remote = remoteId(p);
      if (remote !== null) await endpoints.refresh(remote);
      const s = this.states.get(p.id);
      if (s && s.policy.update_time === p.update_time) continue;
      if (s) {
        s.policy = p;
        s.selector = new PolicySelector(p);
        s.bandwidth = bandwidthOf(p);
        s.route = undefined;
        s.cron?.stop();
        s.cron = this.cronFor(p);
      } else {
        const every = this.deps.reconcileEveryMs;
        this.states.set(p.id, {
          policy: p,
          selector: new PolicySelector(p),
          bandwidth: bandwidthOf(p),
          queue: new TaskQueue(),
          follower: this.deps.follower(),
          hints: mountHints(),
          nextReconcile: every > 0 ? Date.now() + Math.min(5000, every) : Infinity,
          planning: false,
          cron: this.cronFor(p),
        });
      }
    }
    return [...this.states.keys()].filter((id) => !seen.has(id));
  }

  /** Forgets a deleted policy (its executions were stopped first). */
  remove(id: number): void {
    this.states.get(id)?.cron?.stop();
    this.states.delete(id);
  }

  /** Which way the policy goes, worked out once for its endpoint's current client. */
  routeOf(s: PolicyState): Route | undefined {
    const e = this.deps.endpoints.get(remoteId(s.policy)!);
    if (!e) return undefined;
    if (s.route?.remote !== e.remote) {
      const route =
        s.policy.dest_registry_id !== null
          ? pushRoute({ local: this.deps.local, to: new RemoteDestination(e.remote), idc: this.deps.idc, selector: s.selector, lineage: s.follower.lineage })
          : pullRoute({ from: e.remote, to: this.deps.localDestination });
      s.route = { remote: e.remote, route };
    }
    return s.route.route;
  }

  /** The policy's remote registry answers (as far as the engine knows). */
  healthy(s: PolicyState): boolean {
    return this.deps.endpoints.get(remoteId(s.policy)!)?.healthy ?? false;
  }

  /** A failed attempt or plan: the policy's remote registry may be unreachable. */
  failed(s: PolicyState, err: unknown): void {
    this.deps.endpoints.markUnreachable(remoteId(s.policy)!, err);
  }

  /** The registry `id` answers again: its tasks run at once and its event-based policies reconcile (an IDC back
   *  from an outage gets what it missed). */
  reachableAgain(id: number): void {
    const now = Date.now();
    for (const s of this.states.values()) {
      if (remoteId(s.policy) !== id) continue;
      s.queue.retryNow(now);
      s.nextReconcile = now;
    }
  }

  private cronFor(p: PolicyRecord): Cron | undefined {
    if (!p.enabled || p.trigger.type !== 'scheduled' || !p.trigger.trigger_settings.cron) return undefined;
    try {
      return new Cron(p.trigger.trigger_settings.cron, { protect: true }, () => this.deps.scheduled(p));
    } catch (err) {
      this.deps.log.error({ err, policy: p.name }, 'invalid cron');
      return undefined;
    }
  }
}

/** An enabled event-based push policy: it follows the outbox, and anti-entropy repairs what events missed. */
export function followsOutbox(p: PolicyRecord): boolean {
  return p.enabled && p.trigger.type === 'event_based' && p.dest_registry_id !== null;
}

/** The remote end of a policy: its destination (push) or its source (pull). */
export function remoteId(p: PolicyRecord): number | null {
  return p.dest_registry_id ?? p.src_registry_id;
}

function bandwidthOf(p: PolicyRecord): Bandwidth {
  return new Bandwidth(p.speed > 0 ? p.speed * 1024 : 0);
}
