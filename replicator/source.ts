import type { Readable } from 'node:stream';
import type { Digest } from '../core/digest.js';
import type { OciClient } from '../core/oci-client.js';
import type { Registry } from '../registry/registry.js';
import type { RemoteRegistry } from './endpoint.js';
import type { SourceTag } from './tags.js';

// Where a replication reads from: this registry through its domain layer (push policies) or a remote registry through the
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
  /** The names of the labels an artifact carries (label filters); undefined when the source cannot tell. */
  labels(repository: string, digest: Digest): Promise<string[] | undefined>;
}

/** This registry, read through its domain layer (a blob is readable only where it is linked). */
export class LocalSource implements ArtifactSource {
  constructor(private readonly registry: Registry) {}

  async manifest(repository: string, reference: string): Promise<SourceManifest | undefined> {
    const m = await this.registry.manifests.read(repository, reference);
    return m && { bytes: m.bytes, mediaType: m.record.mediaType, digest: m.record.digest };
  }

  async openBlob(repository: string, digest: Digest, size: number, offset: number): Promise<Readable> {
    return this.registry.blobs.openLinked(repository, digest, offset > 0 ? { start: offset, end: size - 1 } : undefined);
  }

  repositories(): AsyncIterable<string> {
    return this.registry.repositories.all();
  }

  async tags(repository: string): Promise<SourceTag[]> {
    return (await this.registry.manifests.tagRecords(repository)).map((r) => ({ name: r.name, digest: r.digest, version: r.version }));
  }

  async tag(repository: string, tag: string): Promise<SourceTag | undefined> {
    const live = await this.registry.manifests.tag(repository, tag);
    if (live) return { name: tag, digest: live.digest, version: live.version };
    const rec = (await this.registry.manifests.tagRecords(repository)).find((r) => r.name === tag);
    return rec && { name: tag, digest: rec.digest, version: rec.version };
  }

  labels(repository: string, digest: Digest): Promise<string[]> {
    return this.registry.labels.namesOf(repository, digest);
  }

  /** Repositories here that hold `digest` (candidates for a cross-repository mount). */
  async holders(digest: Digest, limit: number): Promise<string[]> {
    return this.registry.blobs.holders(digest, limit);
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

  labels(repository: string, digest: Digest): Promise<string[] | undefined> {
    return this.remote.artifactLabels(repository, digest);
  }
}
