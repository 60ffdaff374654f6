import type { HybridLogicalClock } from '../core/hlc.js';
import type { Logger } from '../core/log.js';
import type { BlobStore } from '../storage-adapters/blob/blob-store.js';
import type { MetaStore } from '../storage-adapters/meta/meta-store.js';
import { Artifacts } from './artifacts.js';
import { Labels } from './labels.js';
import { GovernanceEvents } from './governance-events.js';
import { Immutability } from './immutability.js';
import { LinkedBlobs } from './linked-blobs.js';
import { ManifestCache } from './manifest-cache.js';
import { Manifests } from './manifests.js';
import { ProxyCache } from './proxy-cache.js';
import { PullStats } from './pull-stats.js';
import { Retention } from './retention.js';
import { Quotas } from './quotas.js';
import { Repositories } from './repositories.js';
import { TagVersions } from './tag-versions.js';
import { Tags } from './tags.js';
import { Uploads } from './uploads.js';

export interface RegistryOptions {
  clock: HybridLogicalClock;
  /** This IDC's name, part of every local tag version. */
  idc: string;
  log: Logger;
  /** Bound of the in-memory manifest cache (BERTH_MANIFEST_CACHE_BYTES). */
  manifestCacheBytes?: number;
  /** How long a proxy-cache project trusts a cached tag before asking its upstream again (ms). */
  proxyTagTtlMs?: number;
}

/** The domain layer over the two stores: what the OCI handlers, the P2P origin, the admin API and (in-process)
 *  the replicator call instead of combining BlobStore and MetaStore themselves. GC is `collectGarbage` in ./gc.ts. */
export class Registry {
  readonly blobs: LinkedBlobs;
  readonly uploads: Uploads;
  readonly manifests: Manifests;
  readonly tags: Tags;
  readonly repositories: Repositories;
  readonly versions: TagVersions;
  /** Harbor's pull counts, gathered in memory and stored every few seconds (flush() at shutdown). */
  readonly pulls: PullStats;
  /** Proxy-cache projects: what they lack comes from their upstream (inert until `proxy.use(source)`). */
  readonly proxy: ProxyCache;
  /** Harbor's labels (global and per project) and the artifacts carrying them. */
  readonly labels: Labels;
  /** Artifacts as Harbor's API shows them, and its copy, tag and delete. */
  readonly artifacts: Artifacts;
  /** Tag retention: which artifacts a project's rules keep, and deleting the rest (./retention.ts). */
  readonly retention: Retention;
  /** Project storage quotas, charged on every blob link and manifest put (./quotas.ts). */
  readonly quotas: Quotas;
  /** Immutable tag rules, checked before every tag move and delete (./immutability.ts). */
  readonly immutability: Immutability;
  /** Pulls and quota events for webhooks (tag and manifest changes travel in the outbox). */
  readonly events: GovernanceEvents;

  constructor(blobStore: BlobStore, meta: MetaStore, opts: RegistryOptions) {
    this.versions = new TagVersions(opts.clock, opts.idc);
    this.events = new GovernanceEvents(opts.log);
    this.quotas = new Quotas(meta, opts.log, this.events);
    this.immutability = new Immutability(meta);
    this.blobs = new LinkedBlobs(blobStore, meta, this.quotas);
    this.uploads = new Uploads(blobStore, meta, this.blobs);
    this.manifests = new Manifests(blobStore, meta, new ManifestCache(blobStore, opts.manifestCacheBytes), opts.log, this.quotas, this.immutability);
    this.tags = new Tags(meta, opts.log, this.immutability);
    this.repositories = new Repositories(meta, this.versions, this.quotas, this.immutability);
    this.pulls = new PullStats(meta);
    this.proxy = new ProxyCache(this, opts.log.child({ component: 'proxy-cache' }), opts.proxyTagTtlMs ?? 60_000);
    this.labels = new Labels(meta);
    this.artifacts = new Artifacts(meta, this.manifests, this.blobs, this.versions, this.labels);
    this.retention = new Retention(this.artifacts, this.pulls, this.immutability);
  }
}
