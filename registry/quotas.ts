import type { Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Collection, MetaStore } from '../storage-adapters/meta/meta-store.js';
import type { GovernanceEvents } from './governance-events.js';

// Project storage quotas, as Harbor counts them: each digest (blob or manifest) once per project however many of
// its repositories hold it. The check and the add are one atomic MetaStore step (chargeUsage), taken before a
// blob is linked or a manifest indexed, so concurrent pushes never overshoot; a digest is released when nothing
// in the project holds it any more (unlink, manifest delete, repository delete, GC), and recount() reconciles
// the ledger with what is stored.

/** A project's quota; `hard` is the storage limit in bytes, -1 for none. */
export interface QuotaRecord {
  id: number;
  /** The project's name (the first component of its repositories' names). */
  project: string;
  project_id: number;
  hard: number;
  creation_time: string;
  update_time: string;
}

export const UNLIMITED = -1;
/** A charge younger than this may belong to a push that has not linked yet (the gap is one MetaStore call):
 *  recount() leaves it. */
export const IN_FLIGHT_MS = 10_000;


/** The project a repository belongs to: its first path component; undefined for a top-level name (no project). */
export function projectOf(repository: string): string | undefined {
  const slash = repository.indexOf('/');
  return slash > 0 ? repository.slice(0, slash) : undefined;
}

const scopeOf = (project: string) => `project:${project}`;

export function quotaRecords(meta: MetaStore): Collection<QuotaRecord> {
  return meta.collection<QuotaRecord>('quotas', { unique: ['project'] });
}

/** Human sizes for the refusal message (Harbor prints MiB with one decimal). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export class Quotas {
  readonly records: Collection<QuotaRecord>;

  constructor(
    private readonly meta: MetaStore,
    private readonly log: Logger,
    /** Told when a push meets its project's limit (QUOTA_EXCEED) or passes 85 % of it (QUOTA_WARNING). */
    private readonly events?: GovernanceEvents,
  ) {
    this.records = quotaRecords(meta);
  }

  /** The project's quota, created with `hard` when it has none yet. */
  async ensure(project: string, projectId: number, hard: number): Promise<QuotaRecord> {
    const found = await this.records.findOne('project', project);
    if (found) return found;
    const t = new Date().toISOString();
    try {
      return await this.records.insert({ project, project_id: projectId, hard, creation_time: t, update_time: t });
    } catch (e) {
      const again = await this.records.findOne('project', project); // a concurrent ensure won
      if (again) return again;
      throw e;
    }
  }

  /** Sets the project's limit (-1: none); the updated record. */
  async setHard(record: QuotaRecord, hard: number): Promise<QuotaRecord> {
    const next = { ...record, hard, update_time: new Date().toISOString() };
    await this.records.update(next);
    return next;
  }

  /** Drops the project's quota (the project went); its ledger goes with its content. */
  async remove(project: string): Promise<void> {
    const found = await this.records.findOne('project', project);
    if (found) await this.records.delete(found.id);
  }

  /** Bytes the project holds, each digest once. */
  used(project: string): Promise<number> {
    return this.meta.usageOf(scopeOf(project));
  }

  /** The project's limit; -1 when it has no quota. */
  async hard(project: string): Promise<number> {
    return (await this.records.findOne('project', project))?.hard ?? UNLIMITED;
  }

  /**
   * Counts `digest` (`size` bytes) against the project of `repository` before it is linked or indexed there;
   * DENIED naming the project, its limit and usage when it would pass the limit. Free when the project holds it.
   */
  async charge(repository: string, digest: Digest, size: number): Promise<void> {
    const project = projectOf(repository);
    if (!project) return;
    const hard = await this.hard(project);
    const r = await this.meta.chargeUsage(scopeOf(project), digest, size, hard);
    if (r.outcome === 'refused') {
      this.events?.emit({ type: 'QUOTA_EXCEED', repository, digest, size, used: r.total, hard });
      throw new RegistryError(
        'DENIED',
        `quota exceeded: project ${project} would use ${formatBytes(r.total + size)} of its ${formatBytes(hard)} storage limit (usage ${formatBytes(r.total)}, adding ${formatBytes(size)})`,
        { detail: { project, limit: hard, usage: r.total, adding: size } },
      );
    }
    if (r.outcome === 'charged' && hard > 0 && r.total >= hard * 0.85 && r.total - size < hard * 0.85) {
      this.events?.emit({ type: 'QUOTA_WARNING', repository, digest, size, used: r.total, hard });
    }
  }

  /** Uncounts `digests` from the project of `repository` where nothing in the project holds them any more. */
  async release(repository: string, digests: Iterable<Digest>): Promise<void> {
    await releaseUsage(this.meta, repository, digests);
  }

  /**
   * Makes the ledger of `project` match what its repositories hold: missing digests are charged (whatever the
   * limit: they are stored already), digests nothing holds are released unless charged in the last minute (a
   * push between charge and link). `repositories` lists the project's repositories. Usage before and after.
   */
  async recount(project: string, repositories: string[], inFlightMs = IN_FLIGHT_MS): Promise<{ before: number; after: number }> {
    const scope = scopeOf(project);
    const started = Date.now();
    const before = await this.meta.usageOf(scope);
    const held = new Map<string, number>();
    for (const repository of repositories) {
      for (const link of await this.meta.listBlobLinks(repository)) held.set(link.digest, link.size);
      for (const m of await this.meta.listManifests(repository)) held.set(m.digest, m.size);
    }
    for (const [digest, size] of held) await this.meta.chargeUsage(scope, digest, size, UNLIMITED);
    for (const item of await this.meta.usageItems(scope)) {
      if (!held.has(item.item)) await this.meta.releaseUsage(scope, item.item, `${project}/`, started - inFlightMs);
    }
    const after = await this.meta.usageOf(scope);
    if (after !== before) this.log.info({ project, before, after }, 'quota usage recounted');
    return { before, after };
  }
}

/** Releases `digests` from the project of `repository` where nothing there holds them (GC calls this directly). */
export async function releaseUsage(meta: MetaStore, repository: string, digests: Iterable<Digest>): Promise<void> {
  const project = projectOf(repository);
  if (!project) return;
  for (const digest of new Set(digests)) await meta.releaseUsage(scopeOf(project), digest, `${project}/`);
}

/** Recounts every project that has a quota (the GC job runs this after collecting); the projects that changed. */
export async function recountAll(meta: MetaStore, log: Logger): Promise<{ project: string; before: number; after: number }[]> {
  const quotas = new Quotas(meta, log);
  const changed = [];
  for (let offset = 0; ; offset += 500) {
    const { items } = await quotas.records.list({ offset, limit: 500 });
    for (const q of items) {
      const r = await quotas.recount(q.project, await repositoriesUnder(meta, `${q.project}/`));
      if (r.before !== r.after) changed.push({ project: q.project, ...r });
    }
    if (items.length < 500) return changed;
  }
}

async function repositoriesUnder(meta: MetaStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let last = prefix;
  for (;;) {
    const page = await meta.listRepositories({ last, n: 500 });
    for (const name of page) {
      if (!name.startsWith(prefix)) return out;
      out.push(name);
    }
    if (page.length < 500) return out;
    last = page[page.length - 1]!;
  }
}
