import type { ServerConfig } from '../../core/config.js';
import type { Logger } from '../../core/log.js';
import type { BlobStore } from '../../storage-adapters/blob/blob-store.js';
import type { MetaStore } from '../../storage-adapters/meta/meta-store.js';
import type { Registry } from '../../registry/registry.js';
import type { Authorizer } from '../auth/authorizer.js';
import type { ServerMetrics } from '../metrics.js';
import type { UploadLocks } from './upload-locks.js';
import type { Throttle } from '../../core/throttle.js';

/** What the OCI routes need; built once per app by server/app.ts. */
export interface RegistryDeps {
  config: ServerConfig;
  log: Logger;
  metrics: ServerMetrics;
  /** The stores, for readiness and the records of auth, admin and P2P; repository content goes through `registry`. */
  blobs: BlobStore;
  meta: MetaStore;
  /** The domain layer: linked blobs, uploads, manifests, versioned tag writes, repositories. */
  registry: Registry;
  authorizer: Authorizer;
  uploadLocks: UploadLocks;
  /** The origin's egress cap (BERTH_EGRESS_LIMIT), shared by blob GETs and P2P; absent: no cap. */
  egress?: Throttle;
}
