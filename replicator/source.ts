import type { Readable } from 'node:stream';
import type { Digest } from '../core/digest.js';
import { parseReference } from '../core/names.js';
import type { OciClient } from '../core/oci-client.js';
import type { BlobStore } from '../storage-adapters/blob/blob-store.js';
import type { MetaStore } from '../storage-adapters/meta/meta-store.js';
import type { RemoteRegistry } from './endpoint.js';
import type { SourceTag } from './tags.js';

// Where a replication reads from: this registry's own stores (push policies) or a remote registry through the
// OCI client (pull policies). Writes always go through the OCI client, so the receiving registry validates and
// versions them like any push.

export interface SourceManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export interface ArtifactSource {
  manifest(repository: string, reference: string): Promise<SourceManifest | undefined>;
  /** The blob's bytes from `offset` to its end (`size` bytes in all). */
  openBlob(repository: string, digest: Digest, size: number, offset: number, signal: AbortSignal): Promise<Readable>;
  /** Repositories, lexically. */
  repositories(): AsyncIterable<string>;
  /** Tags of a repository; tombstones included when the source keeps them. */
  tags(repository: string): Promise<SourceTag[]>;
  /** The current state of one tag (undefined: never known; digest null: deleted). */
  tag(repository: string, tag: string): Promise<SourceTag | undefined>;
  /** Other repositories at the source that hold `digest` (candidates for a cross-repository mount). */
  holders(digest: Digest): Promise<string[]>;
}

export class LocalSource implements ArtifactSource {
  constructor(
    private readonly meta: MetaStore,
    private readonly blobs: BlobStore,
  ) {}

  async manifest(repository: string, reference: string): Promise<SourceManifest | undefined> {
    const ref = parseReference(reference);
    const digest = ref.kind === 'tag' ? (await this.meta.getTag(repository, ref.tag))?.digest : ref.digest;
    if (!digest) return undefined;
    const record = await this.meta.getManifest(repository, digest);
    if (!record) return undefined;
    const chunks: Buffer[] = [];
    for await (const c of await this.blobs.read(digest)) chunks.push(c as Buffer);
    return { bytes: Buffer.concat(chunks), mediaType: record.mediaType, digest };
  }

  async openBlob(_repository: string, digest: Digest, size: number, offset: number): Promise<Readable> {
    return this.blobs.read(digest, offset > 0 ? { start: offset, end: size - 1 } : undefined);
  }

  async *repositories(): AsyncIterable<string> {
    let last: string | undefined;
    for (;;) {
      const page = await this.meta.listRepositories({ ...(last !== undefined && { last }), n: 1000 });
      yield* page;
      if (page.length < 1000) return;
      last = page[page.length - 1];
    }
  }

  async tags(repository: string): Promise<SourceTag[]> {
    return (await this.meta.listTagRecords(repository)).map((r) => ({ name: r.name, digest: r.digest, version: r.version }));
  }

  async tag(repository: string, tag: string): Promise<SourceTag | undefined> {
    const live = await this.meta.getTag(repository, tag);
    if (live) return { name: tag, digest: live.digest, version: live.version };
    const rec = (await this.meta.listTagRecords(repository)).find((r) => r.name === tag);
    return rec && { name: tag, digest: rec.digest, version: rec.version };
  }

  async holders(digest: Digest): Promise<string[]> {
    return this.meta.blobRepositories(digest, 8);
  }
}

export class RemoteSource implements ArtifactSource {
  constructor(private readonly remote: RemoteRegistry) {}

  private get client(): OciClient {
    return this.remote.client;
  }

  async manifest(repository: string, reference: string): Promise<SourceManifest | undefined> {
    const m = await this.client.getManifest(repository, reference);
    if (!m) return undefined;
    return { bytes: m.bytes, mediaType: m.mediaType, digest: m.digest };
  }

  async openBlob(repository: string, digest: Digest, size: number, offset: number, signal: AbortSignal): Promise<Readable> {
    const r = await this.client.getBlob(repository, digest, offset > 0 ? { start: offset, end: size - 1 } : undefined, signal);
    return r.stream;
  }

  async *repositories(): AsyncIterable<string> {
    yield* (await this.client.catalog()).sort();
  }

  async tags(repository: string): Promise<SourceTag[]> {
    if (this.remote.isBerth) {
      const records = await this.remote.tagRecords(repository);
      if (records) return records;
    }
    const names = (await this.client.listTags(repository)) ?? [];
    const out: SourceTag[] = [];
    for (const name of names) {
      const head = await this.client.headManifest(repository, name);
      if (head) out.push({ name, digest: head.digest });
    }
    return out;
  }

  async tag(repository: string, tag: string): Promise<SourceTag | undefined> {
    if (this.remote.isBerth) {
      const records = await this.remote.tagRecords(repository);
      if (records) return records.find((r) => r.name === tag);
    }
    const head = await this.client.headManifest(repository, tag);
    return head && { name: tag, digest: head.digest };
  }

  async holders(): Promise<string[]> {
    return [];
  }
}
