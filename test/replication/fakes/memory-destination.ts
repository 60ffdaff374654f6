// An in-memory destination registry for in-process tests of the replication flow: it implements the endpoint
// interface the flow writes through (replicator/route.ts Destination, replicator/transfer.ts DestinationClient)
// and keeps what it was sent, what it answered and how often, so tests can assert what crossed the wire.
import type { Readable } from 'node:stream';
import { digestOf, type Digest } from '../../../core/digest.js';
import { parseManifest } from '../../../core/manifest.js';
import type { BlobSource, ResponseOptions } from '../../../core/oci-client.js';
import type { Destination } from '../../../replicator/route.js';
import type { SourceTag } from '../../../replicator/tags.js';
import type { DestinationClient } from '../../../replicator/transfer.js';

interface Repo {
  manifests: Map<string, { bytes: Buffer; mediaType: string }>;
  tags: Map<string, Digest>;
  blobs: Map<string, number>;
}

type Operation = 'headManifest' | 'putManifest' | 'deleteManifest' | 'listTags' | 'headBlob' | 'mountBlob' | 'uploadBlob';

export class MemoryDestination implements Destination, DestinationClient {
  readonly idc: string | null = null;
  readonly repos = new Map<string, Repo>();
  /** Calls per operation. */
  readonly calls: Record<Operation, number> = { headManifest: 0, putManifest: 0, deleteManifest: 0, listTags: 0, headBlob: 0, mountBlob: 0, uploadBlob: 0 };
  /** Headers of every manifest PUT and DELETE, in order. */
  readonly writeHeaders: Record<string, string>[] = [];
  private readonly failures: { op: Operation; error: Error }[] = [];

  constructor(readonly isBerth = false) {}

  /** The next call of `op` throws `error` (once). */
  failNext(op: Operation, error: Error): void {
    this.failures.push({ op, error });
  }

  tagOf(repository: string, tag: string): Digest | undefined {
    return this.repos.get(repository)?.tags.get(tag);
  }

  blobCount(repository: string): number {
    return this.repos.get(repository)?.blobs.size ?? 0;
  }

  // --- Destination ---

  async client(): Promise<DestinationClient> {
    return this;
  }

  async prepare(): Promise<void> {}

  async tags(repository: string): Promise<Map<string, SourceTag>> {
    const out = new Map<string, SourceTag>();
    for (const [name, digest] of this.repos.get(repository)?.tags ?? []) out.set(name, { name, digest });
    return out;
  }

  async tagDigest(repository: string, tag: string): Promise<Digest | undefined> {
    return this.tagOf(repository, tag);
  }

  async holders(): Promise<string[]> {
    return [];
  }

  // --- DestinationClient ---

  async headManifest(repository: string, reference: string): Promise<{ digest: Digest; mediaType: string; size: number } | undefined> {
    this.enter('headManifest');
    const r = this.repos.get(repository);
    const digest = reference.includes(':') ? reference : r?.tags.get(reference);
    const m = digest !== undefined ? r?.manifests.get(digest) : undefined;
    return m && { digest: digest as Digest, mediaType: m.mediaType, size: m.bytes.length };
  }

  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string, headers: Record<string, string> = {}, opts: ResponseOptions = {}): Promise<Digest> {
    this.enter('putManifest');
    const r = this.repo(repository);
    const parsed = parseManifest(bytes, mediaType);
    // As a registry does: every referenced blob and child must be there first.
    for (const d of [...(parsed.config ? [parsed.config] : []), ...parsed.layers]) {
      if (!r.blobs.has(d.digest)) throw new Error(`MANIFEST_BLOB_UNKNOWN ${d.digest}`);
    }
    for (const c of parsed.manifests) if (!r.manifests.has(c.digest)) throw new Error(`MANIFEST_BLOB_UNKNOWN ${c.digest}`);
    const digest = digestOf(bytes);
    r.manifests.set(digest, { bytes, mediaType });
    if (!reference.includes(':')) r.tags.set(reference, digest);
    this.writeHeaders.push(headers);
    opts.onResponse?.(new Headers());
    return digest;
  }

  async deleteManifest(repository: string, reference: string, headers: Record<string, string> = {}, opts: ResponseOptions = {}): Promise<boolean> {
    this.enter('deleteManifest');
    this.writeHeaders.push(headers);
    const r = this.repos.get(repository);
    if (!r) return false;
    let found: boolean;
    if (reference.includes(':')) {
      found = r.manifests.delete(reference);
      for (const [tag, d] of r.tags) if (d === reference) r.tags.delete(tag);
    } else {
      found = r.tags.delete(reference);
    }
    if (found) opts.onResponse?.(new Headers());
    return found;
  }

  async listTags(repository: string): Promise<string[] | undefined> {
    this.enter('listTags');
    const r = this.repos.get(repository);
    return r && [...r.tags.keys()].sort();
  }

  async headBlob(repository: string, digest: Digest): Promise<number | undefined> {
    this.enter('headBlob');
    return this.repos.get(repository)?.blobs.get(digest);
  }

  async mountBlob(repository: string, digest: Digest, from: string): Promise<boolean> {
    this.enter('mountBlob');
    const size = this.repos.get(from)?.blobs.get(digest);
    if (size === undefined) return false;
    this.repo(repository).blobs.set(digest, size);
    return true;
  }

  async uploadBlob(repository: string, digest: Digest, size: number, source: BlobSource): Promise<Digest> {
    this.enter('uploadBlob');
    const bytes = await readAll(await source(0));
    if (bytes.length !== size || digestOf(bytes) !== digest) throw new Error(`DIGEST_INVALID: got ${bytes.length} bytes for ${digest}`);
    this.repo(repository).blobs.set(digest, size);
    return digest;
  }

  private enter(op: Operation): void {
    this.calls[op]++;
    const i = this.failures.findIndex((f) => f.op === op);
    if (i >= 0) throw this.failures.splice(i, 1)[0]!.error;
  }

  private repo(name: string): Repo {
    let r = this.repos.get(name);
    if (!r) {
      r = { manifests: new Map(), tags: new Map(), blobs: new Map() };
      this.repos.set(name, r);
    }
    return r;
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
