import { compareVersions, formatVersion } from '../core/hlc.js';
import type { Logger } from '../core/log.js';
import { sleep } from './bandwidth.js';
import type { Executions, ExecutionState } from './executions.js';
import type { PolicySelector } from './filters.js';
import { followsOutbox, type Policies, type PolicyState } from './policies.js';
import type { ExecutionTrigger, PolicyRecord, TaskSpec } from './records.js';
import type { Route } from './route.js';
import type { SourceTag } from './tags.js';

// Planning (manual, scheduled and anti-entropy executions): what differs between source and destination, as
// task specs. Tag lists are compared, not events, so this also repairs whatever events missed. One plan at a
// time per policy.

/** What planning hands its results to (the engine). */
export interface PlanTarget {
  addTasks(ex: ExecutionState, specs: TaskSpec[]): Promise<void>;
  stop(ex: ExecutionState): Promise<void>;
  /** Tasks were added: dispatch soon. */
  nudge(): void;
}

export class Planning {
  constructor(
    private readonly policies: Policies,
    private readonly executions: Executions,
    private readonly target: PlanTarget,
    private readonly log: Logger,
    private readonly reconcileEveryMs: number,
  ) {}

  /** Lists the tasks of an execution the API (or a schedule) created; a failure ends it as Failed. */
  async plan(ex: ExecutionState): Promise<void> {
    const s = this.policies.get(ex.record.policy_id);
    try {
      if (!s) throw new Error('the policy no longer exists');
      while (s.planning) await sleep(200);
      s.planning = true;
      try {
        await this.target.addTasks(ex, await this.specs(s, ex.record.trigger));
      } finally {
        s.planning = false;
      }
      ex.record = await this.executions.patch(ex.record.id, { planned: true });
      if (ex.record.stop_requested) await this.target.stop(ex);
      if (ex.active === 0) await this.executions.finish(ex);
      this.target.nudge();
    } catch (err) {
      this.log.warn({ err, execution: ex.record.id }, 'planning failed');
      ex.record = await this.executions.patch(ex.record.id, { planned: true });
      await this.executions.finish(ex, `planning failed: ${(err as Error).message}`);
    }
  }

  /** Anti-entropy for event-based push policies: periodically, and when the destination comes back. */
  scheduleReconciles(): void {
    const now = Date.now();
    for (const s of this.policies.values()) {
      const p = s.policy;
      if (!followsOutbox(p) || s.planning) continue;
      if (now < s.nextReconcile || !this.policies.healthy(s)) continue;
      s.nextReconcile = this.reconcileEveryMs > 0 ? now + this.reconcileEveryMs : Infinity;
      void this.reconcile(s);
    }
  }

  /** An execution of its own, only when something differs. */
  private async reconcile(s: PolicyState): Promise<void> {
    if (s.planning) return;
    s.planning = true;
    try {
      const specs = await this.specs(s, 'reconcile');
      if (specs.length === 0) return;
      const ex = this.executions.track(await this.executions.create(s.policy.id, 'reconcile', true));
      await this.target.addTasks(ex, specs);
      this.log.info({ policy: s.policy.name, tasks: specs.length }, 'anti-entropy found differences');
      if (ex.active === 0) await this.executions.finish(ex);
      this.target.nudge();
    } catch (err) {
      this.policies.failed(s, err);
      this.log.warn({ err, policy: s.policy.name }, 'anti-entropy failed');
    } finally {
      s.planning = false;
    }
  }

  private async specs(s: PolicyState, trigger: ExecutionTrigger): Promise<TaskSpec[]> {
    const route = this.policies.routeOf(s);
    if (!route) throw new Error('the policy names a registry that no longer exists');
    return planTasks(route, s.policy, s.selector, trigger);
  }
}

export async function planTasks(route: Route, policy: PolicyRecord, selector: PolicySelector, trigger: ExecutionTrigger): Promise<TaskSpec[]> {
  const specs: TaskSpec[] = [];
  const versioned = trigger === 'reconcile' || route.versioned;
  const repositories = selector.literalRepositories() ?? route.source.repositories();
  for await (const repo of repositories) {
    if (!selector.repositoryMatches(repo)) continue;
    let dst: string;
    try {
      dst = selector.destination(repo);
    } catch {
      continue;
    }
    let srcTags = (await route.source.tags(repo)).filter((t) => selector.tagMatches(t.name));
    if (selector.byLabel) srcTags = await labelled(route, repo, srcTags, selector);
    if (srcTags.length === 0) continue;
    const destTags = await route.destination.tags(dst, srcTags);
    for (const t of srcTags) {
      const spec = diffTag(policy, t, destTags.get(t.name), versioned);
      if (spec) specs.push({ ...spec, src_repository: repo, dst_repository: dst, tag: t.name, digest: t.digest, version: t.version ? formatVersion(t.version) : null, event_at: null });
    }
  }
  return specs;
}

/** What a tag needs at the destination, if anything. With versions (Berth peers), only a newer source value
 *  is sent, so anti-entropy between two masters never undoes the other's newer write. */
export function diffTag(
  policy: Pick<PolicyRecord, 'override' | 'replicate_deletion'>,
  src: SourceTag,
  dest: SourceTag | undefined,
  versioned: boolean,
): Pick<TaskSpec, 'operation' | 'resource_type'> | undefined {
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

/** The tags whose artifacts pass the policy's label filters. A deleted tag has no artifact to carry labels, so
 *  deletions are not planned under label filters (an event-based policy still sends them, see outbox.ts). */
async function labelled(route: Route, repo: string, tags: SourceTag[], selector: PolicySelector): Promise<SourceTag[]> {
  const out: SourceTag[] = [];
  for (const t of tags) {
    if (t.digest === null) continue;
    const labels = await route.source.labels(repo, t.digest);
    if (labels === undefined) throw new Error('the source registry cannot tell which labels an artifact carries: label filters need a Berth or Harbor source');
    if (selector.labelsMatch(labels)) out.push(t);
  }
  return out;
}
