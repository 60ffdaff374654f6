import type { ServerConfig } from '../../core/config.js';
import type { HybridLogicalClock, TagVersion } from '../../core/hlc.js';
import type { Logger } from '../../core/log.js';
import type { BlobStore } from '../../storage-adapters/blob/blob-store.js';
import type { MetaStore } from '../../storage-adapters/meta/meta-store.js';
import type { Authorizer } from '../auth/authorizer.js';
import type { ServerMetrics } from '../metrics.js';
import type { ManifestCache } from './manifest-cache.js';
import type { UploadLocks } from './upload-locks.js';

/** What the OCI routes need; built once per app by server/app.ts. */
export interface RegistryDeps {
  config: ServerConfig;
  log: Logger;
  metrics: ServerMetrics;
  blobs: BlobStore;
  meta: MetaStore;
  authorizer: Authorizer;
  clock: HybridLogicalClock;
  manifests: ManifestCache;
  uploadLocks: UploadLocks;
}

/** The version of a local tag write: now on this IDC's clock. */
export function localVersion(deps: RegistryDeps): TagVersion {
  return { ...deps.clock.tick(), idc: deps.config.idc };
}
