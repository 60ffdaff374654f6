import type { ServerConfig } from '../../core/config.js';
import { parseVersion, type HybridLogicalClock, type TagVersion } from '../../core/hlc.js';
import { RegistryError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { BlobStore } from '../../storage-adapters/blob/blob-store.js';
import type { MetaStore } from '../../storage-adapters/meta/meta-store.js';
import type { Registry } from '../../registry/registry.js';
import type { Authorizer } from '../auth/authorizer.js';
import type { ServerMetrics } from '../metrics.js';
import type { ManifestCache } from './manifest-cache.js';
import type { UploadLocks } from './upload-locks.js';
import type { EgressLimiter } from '../p2p/egress.js';

/** What the OCI routes need; built once per app by server/app.ts. */
export interface RegistryDeps {
  config: ServerConfig;
  log: Logger;
  metrics: ServerMetrics;
  blobs: BlobStore;
  meta: MetaStore;
  /** The domain layer: linked blobs, manifest writes (the GC-safe write rules). */
  registry: Registry;
  authorizer: Authorizer;
  clock: HybridLogicalClock;
  manifests: ManifestCache;
  uploadLocks: UploadLocks;
  /** The origin's egress cap (BERTH_EGRESS_LIMIT), shared by blob GETs and P2P; absent: no cap. */
  egress?: EgressLimiter;
}

const MAX_CLOCK_DRIFT_MS = 5 * 60 * 1000;

/** The version of a local tag write: now on this IDC's clock. */
export function localVersion(deps: RegistryDeps): TagVersion {
  return { ...deps.clock.tick(), idc: deps.config.idc };
}

/**
 * The version a write carries. A write replicated from another Berth brings its own (`Berth-Tag-Version`) and the
 * IDC it came from (`Berth-Replicated-From`); the clock observes it so later local writes order after it.
 * Anything else is a local write, versioned now.
 */
export function writeVersion(deps: RegistryDeps, header: string, from: string): { version: TagVersion; origin?: string } {
  const remote = header ? parseVersion(header) : undefined;
  if (header && !remote) throw new RegistryError('MANIFEST_INVALID', 'malformed Berth-Tag-Version', { detail: { value: header.slice(0, 100) } });
  if (!remote) return { version: localVersion(deps) };
  // A peer whose clock runs far ahead would win every conflict and drag every clock along: refuse it.
  if (remote.wall > Date.now() + MAX_CLOCK_DRIFT_MS) {
    throw new RegistryError('MANIFEST_INVALID', 'Berth-Tag-Version is too far in the future (clock drift)', { detail: { value: header, maxDriftMs: MAX_CLOCK_DRIFT_MS } });
  }
  deps.clock.observe(remote);
  return { version: remote, origin: from || remote.idc };
}
