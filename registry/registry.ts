import type { BlobStore } from '../storage-adapters/blob/blob-store.js';
import type { MetaStore } from '../storage-adapters/meta/meta-store.js';
import { Catalog } from './catalog.js';
import { LinkedBlobs } from './linked-blobs.js';
import { Manifests } from './manifests.js';

/** The domain layer over the two stores: what the OCI handlers (and later every other path) call instead of
 *  combining BlobStore and MetaStore themselves. GC is `collectGarbage` in ./gc.ts over the same stores. */
export class Registry {
  readonly blobs: LinkedBlobs;
  readonly manifests: Manifests;
  readonly catalog: Catalog;

  constructor(blobStore: BlobStore, meta: MetaStore) {
    this.blobs = new LinkedBlobs(blobStore, meta);
    this.manifests = new Manifests(blobStore, meta);
    this.catalog = new Catalog(meta);
  }
}
