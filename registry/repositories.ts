import type { Digest } from '../core/digest.js';
import type { Collection, ManifestRecord, MetaStore, Page } from '../storage-adapters/meta/meta-store.js';
import type { Immutability } from './immutability.js';
import type { Quotas } from './quotas.js';
import type { TagVersions } from './tag-versions.js';
import { upsert } from '../storage-adapters/meta/upsert.js';

// Repositories as a whole: the catalog, the referrers of a subject, what people wrote about one, deleting one.

/** Harbor's editable repository fields (its description), kept apart from the content. */
export interface RepositoryInfoRecord {
  id: number;
  repository: string;
  description: string;
  /** ISO time of the last edit. */
  update_time: string;
}

const PAGE = 1000;

export class Repositories {
  private readonly infos: Collection<RepositoryInfoRecord>;

  constructor(
    private readonly meta: MetaStore,
    private readonly versions: TagVersions,
    private readonly quotas?: Quotas,
    private readonly immutability?: Immutability,
  ) {
    this.infos = meta.collection<RepositoryInfoRecord>('repository_info', { unique: ['repository'] });
  }

  /** The description written for `repository`, when one was. */
  info(repository: string): Promise<RepositoryInfoRecord | undefined> {
    return this.infos.findOne('repository', repository);
  }

  /** Sets the description (Harbor's PUT /repositories/{name}). */
  async describe(repository: string, description: string): Promise<void> {
    const update_time = new Date().toISOString();
    await upsert(this.infos, 'repository', repository, (stored) => ({ ...stored, repository, description, update_time }));
  }

  /** Repository names in lexical order, paged. */
  list(page?: Page): Promise<string[]> {
    return this.meta.listRepositories(page);
  }

  /** Every repository, lexically, read in pages (replication's local source walks them all). */
  async *all(): AsyncIterable<string> {
    let last: string | undefined;
    for (;;) {
      const page = await this.meta.listRepositories({ ...(last !== undefined && { last }), n: PAGE });
      yield* page;
      if (page.length < PAGE) return;
      last = page[page.length - 1];
    }
  }

  /** Every repository under `project/`, lexically (names sharing a prefix are contiguous in the catalog). */
  async inProject(project: string): Promise<string[]> {
    const prefix = `${project}/`;
    const out: string[] = [];
    let last = prefix;
    for (;;) {
      const batch = await this.meta.listRepositories({ last, n: PAGE });
      for (const name of batch) {
        if (!name.startsWith(prefix)) return out;
        out.push(name);
      }
      if (batch.length < PAGE) return out;
      last = batch[batch.length - 1]!;
    }
  }

  /** Whether anything (a tag, a manifest, a link) is stored under `repository`. */
  exists(repository: string): Promise<boolean> {
    return this.meta.repositoryExists(repository);
  }

  /** The manifests stored in `repository` (the admin API's artifact count and times). */
  manifests(repository: string): Promise<ManifestRecord[]> {
    return this.meta.listManifests(repository);
  }

  /** Manifests of `repository` whose subject is `subject`, by digest. */
  async referrers(repository: string, subject: Digest): Promise<ManifestRecord[]> {
    const records = await this.meta.listReferrers(repository, subject);
    return records.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }

  /** Deletes every tag (tombstoned with a local version, so the delete replicates), manifest and link, and
   *  the description. */
  async delete(repository: string): Promise<void> {
    if (this.immutability) await this.immutability.checkDelete(repository, await this.meta.listTags(repository));
    const held = [...(await this.meta.listBlobLinks(repository)).map((l) => l.digest), ...(await this.meta.listManifests(repository)).map((m) => m.digest)];
    await this.meta.deleteRepository(repository, this.versions.local());
    await this.quotas?.release(repository, held);
    const info = await this.infos.findOne('repository', repository);
    if (info) await this.infos.delete(info.id);
  }
}
