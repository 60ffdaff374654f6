import type { LocalAccess } from '../core/local-access.js';
import type { Digest } from '../core/digest.js';
import { OciClient } from '../core/oci-client.js';
import type { RemoteRegistry } from './endpoint.js';
import { PermanentError } from './failures.js';
import type { Destination } from './route.js';
import type { LocalSource } from './source.js';
import type { SourceTag } from './tags.js';
import type { DestinationClient } from './transfer.js';

// The two kinds of destination: a remote registry (push policies) and this registry (pull policies). Both are
// written through the OCI client, so the receiving registry validates and versions the writes like any push.

/** A remote registry: Berth peers answer tag records with versions and tombstones, others by name + HEAD. */
export class RemoteDestination implements Destination {
  constructor(private readonly remote: RemoteRegistry) {}

  get isBerth(): boolean {
    return this.remote.isBerth;
  }

  get idc(): string | null {
    return this.remote.idc;
  }

  async client(): Promise<DestinationClient> {
    return this.remote.client;
  }

  prepare(repository: string): Promise<void> {
    return this.remote.ensureProject(repository);
  }

  async tags(repository: string, wanted: SourceTag[]): Promise<Map<string, SourceTag>> {
    if (this.remote.isBerth) {
      const records = await this.remote.tagRecords(repository);
      if (records) return new Map(records.map((r) => [r.name, r]));
    }
    const names = new Set((await this.remote.client.listTags(repository)) ?? []);
    const out = new Map<string, SourceTag>();
    for (const t of wanted) {
      if (!names.has(t.name)) continue;
      const head = await this.remote.client.headManifest(repository, t.name);
      if (head) out.set(t.name, { name: t.name, digest: head.digest });
    }
    return out;
  }

  async tagDigest(repository: string, tag: string): Promise<Digest | undefined> {
    return (await this.remote.client.headManifest(repository, tag))?.digest;
  }

  async holders(): Promise<string[]> {
    return [];
  }
}

/** What pull policies need from this registry's access control to write into it (wired by the process). */
export interface LocalDestinationOptions {
  /** This registry's own OCI endpoint. */
  url: string;
  idc: string;
  /** Reads of what is already here. */
  local: LocalSource;
  access?: LocalAccess;
  /** Access control is on: without `access` nothing can be written. */
  accessRequired: boolean;
}

/** This registry, written through its own OCI endpoint like any client. */
export class LocalDestination implements Destination {
  readonly isBerth = true;

  constructor(private readonly o: LocalDestinationOptions) {}

  get idc(): string {
    return this.o.idc;
  }

  async client(repository: string): Promise<DestinationClient> {
    if (this.o.accessRequired && !this.o.access) {
      throw new PermanentError('pull policies cannot write into this registry: access control is on and no local access was wired');
    }
    const auth = await this.o.access?.authorization(repository);
    return new OciClient({ baseUrl: this.o.url, userAgent: 'berth-replicator', ...(auth && { headers: { Authorization: auth } }) });
  }

  async prepare(repository: string): Promise<void> {
    if (repository.includes('/')) await this.o.access?.ensureProject(repository.split('/')[0]!);
  }

  async tags(repository: string): Promise<Map<string, SourceTag>> {
    return new Map((await this.o.local.tags(repository)).map((t) => [t.name, t]));
  }

  async tagDigest(repository: string, tag: string): Promise<Digest | undefined> {
    return (await this.o.local.tag(repository, tag))?.digest ?? undefined;
  }

  holders(digest: Digest): Promise<string[]> {
    return this.o.local.holders(digest, 4);
  }
}
