import { formatVersion } from '../core/hlc.js';
import type { Registry } from '../registry/registry.js';
import type { MetaStore, OutboxEvent } from '../storage-adapters/meta/meta-store.js';
import type { PolicySelector } from './filters.js';
import { Lineage } from './lineage.js';
import type { PolicyRecord, ReplicationRecords, TaskSpec } from './records.js';

// Event-based push: one policy's reading of the outbox. A persisted cursor per policy; events the policy selects
// become task specs, handed over before the cursor moves past them, so a crash re-reads rather than loses them.

const PAGE = 500;
const PAGES_PER_CALL = 20;
const SCAN_PAGE = 5000;
/** After a restart, this many events before the cursor rebuild the tags' lineage. */
const LINEAGE_EVENTS = 100_000;

/** What the follower needs to know of its policy, as of now (policies change while followed). */
export interface FollowedPolicy {
  policy: PolicyRecord;
  selector: PolicySelector;
  /** The destination's IDC, when known: what it wrote never goes back to it. */
  destinationIdc: string | null;
}

export class OutboxFollower {
  readonly lineage = new Lineage();
  private cursor: number | undefined;

  constructor(
    private readonly meta: MetaStore,
    private readonly records: ReplicationRecords,
    private readonly registry: Registry,
  ) {}

  /** Reads what is new since the cursor (a bounded number of pages per call). */
  async follow(p: FollowedPolicy, deliver: (specs: TaskSpec[]) => Promise<void>): Promise<void> {
    let cursor = this.cursor ?? (await this.start(p.policy));
    for (let pages = 0; pages < PAGES_PER_CALL; pages++) {
      const events = await this.meta.readOutbox(cursor, PAGE);
      if (events.length === 0) return;
      const specs = new Map<string, TaskSpec>();
      for (const e of events) {
        this.lineage.track(e);
        const spec = await this.taskFor(p, e);
        if (!spec) continue;
        const key = spec.tag !== null ? `t\0${spec.src_repository}\0${spec.tag}` : `m\0${spec.src_repository}\0${spec.digest}\0${spec.operation}`;
        specs.delete(key); // keep the newest last, in order
        specs.set(key, spec);
      }
      if (specs.size > 0) await deliver([...specs.values()]);
      cursor = this.cursor = events[events.length - 1]!.seq;
      await this.records.saveCursor(p.policy.id, cursor);
      if (events.length < PAGE) return;
    }
  }

  /** Sets the cursor: the saved one, else (a new policy) the changes made since the policy was created;
   *  what existed before is copied by anti-entropy or a manual execution. */
  private async start(policy: PolicyRecord): Promise<number> {
    const saved = await this.records.cursor(policy.id);
    if (saved) {
      this.cursor = saved.seq;
      await this.rebuildLineage(saved.seq);
      return saved.seq;
    }
    this.lineage.complete = true;
    this.cursor = await this.cursorAt(Date.parse(policy.creation_time));
    await this.records.saveCursor(policy.id, this.cursor);
    return this.cursor;
  }

  /** The seq of the last event before `since`, reading the outbox forward once (it has no time index);
   *  tracks lineage on the way. */
  private async cursorAt(since: number): Promise<number> {
    let seq = 0;
    for (;;) {
      const events = await this.meta.readOutbox(seq, SCAN_PAGE);
      for (const e of events) {
        if (e.at >= since) return seq;
        this.lineage.track(e);
        seq = e.seq;
      }
      if (events.length < SCAN_PAGE) return seq;
    }
  }

  /** After a restart: the tags' recent history, from the outbox up to the cursor. */
  private async rebuildLineage(upTo: number): Promise<void> {
    const from = Math.max(0, upTo - LINEAGE_EVENTS);
    this.lineage.complete = from === 0;
    let seq = from;
    while (seq < upTo) {
      const events = await this.meta.readOutbox(seq, SCAN_PAGE);
      if (events.length === 0) break;
      for (const e of events) if (e.seq <= upTo) this.lineage.track(e);
      seq = events[events.length - 1]!.seq;
      if (events.length < SCAN_PAGE) break;
    }
  }

  private async taskFor(p: FollowedPolicy, e: OutboxEvent): Promise<TaskSpec | undefined> {
    const { policy, selector, destinationIdc } = p;
    // Never back where it came from, nor to the IDC that wrote it (hierarchical and dual-master topologies).
    if (destinationIdc && (e.origin === destinationIdc || e.version?.idc === destinationIdc)) return undefined;
    if (!selector.repositoryMatches(e.repository)) return undefined;
    let dst: string;
    try {
      dst = selector.destination(e.repository);
    } catch {
      return undefined;
    }
    const base = { src_repository: e.repository, dst_repository: dst, version: e.version ? formatVersion(e.version) : null, event_at: e.at };
    switch (e.type) {
      case 'tag.put':
      case 'tag.delete':
        if (!e.tag || !selector.tagMatches(e.tag)) return undefined;
        if (e.type === 'tag.delete' && !policy.replicate_deletion) return undefined;
        // Label filters: the labels the artifact carries now (for a deleted tag, the artifact it pointed to).
        if (selector.byLabel && !(e.digest && selector.labelsMatch(await this.registry.labels.namesOf(e.repository, e.digest)))) return undefined;
        return { ...base, operation: e.type === 'tag.put' ? 'copy' : 'deletion', resource_type: 'artifact', tag: e.tag, digest: e.digest ?? null };
      case 'manifest.put': {
        // Tagged manifests travel with their tag; an untagged one only matters when it refers to another
        // (signatures, SBOMs: the referrers API).
        if (!e.digest) return undefined;
        const m = await this.registry.manifests.get(e.repository, e.digest);
        if (!m?.subject) return undefined;
        return { ...base, operation: 'copy', resource_type: 'manifest', tag: null, digest: e.digest };
      }
      case 'manifest.delete':
        if (!policy.replicate_deletion || !e.digest) return undefined;
        return { ...base, operation: 'deletion', resource_type: 'manifest', tag: null, digest: e.digest };
    }
  }
}
