import type { Logger } from '../core/log.js';
import type { MetaStore, Page, TagWriteResult } from '../storage-adapters/meta/meta-store.js';
import type { Immutability } from './immutability.js';
import { recordConflict, recordImmutableConflict } from './tag-conflicts.js';
import type { WriteVersion } from './tag-versions.js';

// Tags of a repository: listing, and the versioned delete (a tombstone that replicates and loses to a newer write).

export class Tags {
  constructor(
    private readonly meta: MetaStore,
    private readonly log: Logger,
    private readonly immutability?: Immutability,
  ) {}

  /**
   * The repository's tags in lexical order (paged); undefined for a name never pushed to. A repository whose
   * last manifest or tag was deleted is still known (its tag tombstones, its blob links): an empty list, as
   * distribution answers.
   */
  async list(repository: string, page?: Page): Promise<string[] | undefined> {
    if (!(await this.meta.repositoryExists(repository)) && !(await this.known(repository))) return undefined;
    return this.meta.listTags(repository, page);
  }

  /** Removes the tag only (the manifest stays reachable by digest); undefined when the tag is not live. */
  async delete(repository: string, tag: string, write: WriteVersion): Promise<TagWriteResult | undefined> {
    const live = await this.meta.getTag(repository, tag);
    if (!live) return undefined;
    if (this.immutability && write.origin && (await this.immutability.isImmutable(repository, tag))) {
      await recordImmutableConflict(this.meta, this.log, { repository, tag, digest: null, version: write.version, origin: write.origin }, live);
    }
    await this.immutability?.checkDelete(repository, [tag]);
    const result = await this.meta.deleteTag(repository, tag, write.version, write.origin);
    if (write.origin) {
      await recordConflict(this.meta, this.log, { repository, tag, digest: null, version: write.version, origin: write.origin, base: write.base }, live, result);
    }
    return result;
  }

  private async known(repository: string): Promise<boolean> {
    return (await this.meta.listTagRecords(repository)).length > 0 || (await this.meta.listBlobLinks(repository)).length > 0;
  }
}
