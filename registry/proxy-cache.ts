import { LRUCache } from 'lru-cache';
import { digestOf, type Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { parseManifest } from '../core/manifest.js';
import type { OciClient } from '../core/oci-client.js';
import type { BlobInfo } from '../storage-adapters/blob/blob-store.js';
import type { ManifestRecord } from '../storage-adapters/meta/meta-store.js';
import type { LinkedBlobs } from './linked-blobs.js';
import { manifestRecordOf, type ManifestReference, type Manifests, type StoredManifest } from './manifests.js';
import type { TagVersions } from './tag-versions.js';
import type { Uploads } from './uploads.js';

// Proxy-cache projects (Harbor's registry_id on a project): a pull of what the project lacks is answered from
// its upstream registry and cached — blobs as they are fetched, a manifest once everything it references is
// here — so later pulls are local, and a tag is re-checked upstream (a HEAD, which Docker Hub does not count)
// at most every `ttlMs`. When the upstream cannot be reached, the cached copy is served.

/** The upstream registry of a proxy-cache project. */
export interface Upstream {
  client: OciClient;
  /** Its name, for messages. */
  name: string;
  /** Docker Hub keeps one-component names under `library/`. */
  dockerHub: boolean;
}

/** Where the proxy cache learns which projects are proxies and of what (composed by the process: projects live
 *  with access control, registry endpoints with replication). */
export interface UpstreamSource {
  /** The registry endpoint id a proxy-cache project reads from; undefined for an ordinary project. */
  registryIdOf(project: string): Promise<number | undefined>;
  /** The upstream for endpoint `id`; undefined when no such endpoint exists. */
  upstream(id: number): Promise<Upstream | undefined>;
}

export class ProxyCache {
  private source: UpstreamSource | undefined;
  /** `project` → its endpoint id (0: not a proxy), briefly, so a manifest GET costs no project read. */
  private readonly projects = new LRUCache<string, number>({ max: 4096, ttl: 5_000 });
  /** `repository:tag` → when the tag was last found current upstream. */
  private readonly checked: LRUCache<string, true>;
  /** Fetches under way, one per repository and digest, shared by the manifest's caching and the clients. */
  private readonly inflight = new Map<string, Promise<BlobInfo>>();
  /** Manifests being cached (waiting for their blobs), so a second pull does not start a second caching. */
  private readonly caching = new Set<string>();

  constructor(
    private readonly parts: { blobs: LinkedBlobs; uploads: Uploads; manifests: Manifests; versions: TagVersions },
    private readonly log: Logger,
    ttlMs: number,
  ) {
    this.checked = new LRUCache<string, true>({ max: 65_536, ttl: Math.max(1, ttlMs) });
  }

  /** Turns proxying on (the process calls this once its projects and registry endpoints can be read). */
  use(source: UpstreamSource): void {
    this.source = source;
  }

  /** Whether endpoint `id` exists, for a project about to name it as its upstream. */
  async hasUpstream(id: number): Promise<boolean> {
    return (await this.source?.upstream(id)) !== undefined;
  }

  /** Pushes into a proxy-cache project are refused: its content is the upstream's. */
  async refusePush(repository: string): Promise<void> {
    const up = await this.upstreamOf(repository);
    if (!up) return;
    const project = projectOf(repository);
    throw new RegistryError('DENIED', `project ${project} is a proxy cache of ${up.upstream.name}: pushes are not allowed`, {
      detail: { project, upstream: up.upstream.name },
    });
  }

  /**
   * The manifest to serve for `ref` in a proxy-cache repository, given what is stored locally (`local`):
   * undefined for an ordinary repository (serve `local`), else the local copy when current, or the upstream's
   * (being cached in the background), or the local copy when the upstream is unreachable. MANIFEST_UNKNOWN
   * when neither has it.
   */
  async manifest(repository: string, ref: ManifestReference, local: ManifestRecord | undefined): Promise<StoredManifest | 'local' | undefined> {
    if (local && ref.kind === 'digest') return 'local';
    const up = await this.upstreamOf(repository);
    if (!up) return undefined;
    const key = ref.kind === 'tag' ? `${repository}:${ref.tag}` : '';
    if (local && this.checked.has(key)) return 'local';
    const reference = ref.kind === 'tag' ? ref.tag : ref.digest;
    try {
      if (local) {
        const head = await up.upstream.client.headManifest(up.remote, reference);
        if (head?.digest === local.digest) {
          this.checked.set(key, true);
          return 'local';
        }
        if (!head) return notFound(reference, up.upstream.name);
      }
      const got = await up.upstream.client.getManifest(up.remote, reference);
      if (!got) return notFound(reference, up.upstream.name);
      const stored = this.verify(got.bytes, got.mediaType, ref, got.digest);
      if (ref.kind === 'tag') this.checked.set(key, true);
      if (local?.digest === stored.record.digest) return 'local';
      this.cacheManifest(repository, stored, ref.kind === 'tag' ? [ref.tag] : [], up);
      return stored;
    } catch (e) {
      if (e instanceof RegistryError) throw e;
      if (local) {
        // Asked again only after the TTL: a dead upstream costs one failed check per tag and TTL, not every pull.
        if (ref.kind === 'tag') this.checked.set(key, true);
        this.log.warn({ repository, reference, upstream: up.upstream.name, err: (e as Error).message }, 'proxy cache: upstream unreachable, serving the cached copy');
        return 'local';
      }
      throw new RegistryError('UNAVAILABLE', `the upstream registry ${up.upstream.name} of this proxy-cache project cannot be reached`, {
        detail: { reference, upstream: up.upstream.name, error: (e as Error).message },
      });
    }
  }

  /** A blob of a proxy-cache repository that is not here yet: fetched from the upstream and cached (its digest
   *  verified before it is visible); undefined for an ordinary repository or when the upstream lacks it. */
  async blob(repository: string, digest: Digest): Promise<BlobInfo | undefined> {
    const up = await this.upstreamOf(repository);
    if (!up) return undefined;
    try {
      return await this.fetchBlob(repository, digest, up);
    } catch (e) {
      if (e instanceof RegistryError) throw e;
      throw new RegistryError('UNAVAILABLE', `the upstream registry ${up.upstream.name} of this proxy-cache project cannot be reached`, {
        detail: { digest, upstream: up.upstream.name, error: (e as Error).message },
      });
    }
  }

  /** A HEAD of a blob the proxy-cache repository lacks: the upstream's size, without fetching the bytes. */
  async blobSize(repository: string, digest: Digest): Promise<number | undefined> {
    const up = await this.upstreamOf(repository);
    if (!up) return undefined;
    return up.upstream.client.headBlob(up.remote, digest).catch(() => undefined);
  }

  private async upstreamOf(repository: string): Promise<{ upstream: Upstream; remote: string } | undefined> {
    if (!this.source || !repository.includes('/')) return undefined;
    const project = projectOf(repository);
    let id = this.projects.get(project);
    if (id === undefined) {
      id = (await this.source.registryIdOf(project)) ?? 0;
      this.projects.set(project, id);
    }
    if (!id) return undefined;
    const upstream = await this.source.upstream(id);
    if (!upstream) return undefined;
    let remote = repository.slice(project.length + 1);
    if (upstream.dockerHub && !remote.includes('/')) remote = `library/${remote}`;
    return { upstream, remote };
  }

  /** The upstream's bytes as a record, after checking they are what was asked for. */
  private verify(bytes: Buffer, mediaType: string, ref: ManifestReference, claimed: string | null): StoredManifest {
    const parsed = parseManifest(bytes, mediaType || undefined);
    const digest = digestOf(bytes, 'sha256');
    const expected = ref.kind === 'digest' ? ref.digest : claimed;
    if (expected && expected.startsWith('sha256:') && expected !== digest) {
      throw new RegistryError('UNAVAILABLE', 'the upstream registry sent a manifest that does not match its digest', { detail: { expected, digest } });
    }
    return { record: manifestRecordOf(parsed, digest, bytes.length), bytes };
  }

  /** In the background: the manifest's blobs fetched, then the manifest stored and tagged (an index without
   *  waiting for its children: each is cached when a client pulls it). Failures are logged; the next pull retries. */
  private cacheManifest(repository: string, stored: StoredManifest, tags: string[], up: { upstream: Upstream; remote: string }): void {
    const key = `${repository}@${stored.record.digest}:${tags.join(',')}`;
    if (this.caching.has(key)) return;
    this.caching.add(key);
    void (async () => {
      try {
        for (const digest of stored.record.blobs) await this.fetchBlob(repository, digest, up);
        await this.parts.manifests.put(repository, stored.record, stored.bytes, tags, this.parts.versions.of(undefined), { childrenMayBeAbsent: true });
        this.log.info({ repository, digest: stored.record.digest, tags, upstream: up.upstream.name }, 'proxy cache: manifest cached');
      } catch (e) {
        this.log.warn({ repository, digest: stored.record.digest, err: (e as Error).message }, 'proxy cache: caching the manifest failed');
      } finally {
        this.caching.delete(key);
      }
    })();
  }

  private fetchBlob(repository: string, digest: Digest, up: { upstream: Upstream; remote: string }): Promise<BlobInfo> {
    const key = `${repository}@${digest}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchBlobOnce(repository, digest, up).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetchBlobOnce(repository: string, digest: Digest, up: { upstream: Upstream; remote: string }): Promise<BlobInfo> {
    const here = await this.parts.blobs.stat(repository, digest);
    if (here) return here;
    const { blobs, uploads } = this.parts;
    // Bytes already stored for another repository: once the upstream confirms it holds the blob, a link will do.
    if (await blobs.stored(digest)) {
      const size = await up.upstream.client.headBlob(up.remote, digest);
      const linked = size !== undefined && (await blobs.mount(repository, digest, await blobs.holders(digest, 16), async () => true));
      if (linked) return linked;
    }
    const res = await up.upstream.client.getBlob(up.remote, digest).catch((e: unknown) => {
      if ((e as { status?: number }).status === 404) return undefined;
      throw e;
    });
    if (!res) throw new RegistryError('BLOB_UNKNOWN', `the upstream registry ${up.upstream.name} has no such blob`, { detail: { digest } });
    return uploads.putWhole(repository, digest, (id) => uploads.append(id, 0, res.stream));
  }
}

function projectOf(repository: string): string {
  return repository.slice(0, repository.indexOf('/'));
}

function notFound(reference: string, upstream: string): never {
  throw new RegistryError('MANIFEST_UNKNOWN', `neither this proxy cache nor its upstream ${upstream} has ${reference}`, { detail: { reference, upstream } });
}
