import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseHostList, type ServerConfig } from '../core/config.js';
import type { BlobStore } from './blob/blob-store.js';
import type { MetaStore } from './meta/meta-store.js';

// Chooses the adapters the configuration names. S3 and Redis load only when asked for.

export async function openBlobStore(config: ServerConfig): Promise<BlobStore> {
  if (config.storage === 's3') {
    // The SDK warns on every start that future releases will need Node 22; ours is pinned in the lockfile.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const { S3BlobStore } = await import('./blob/s3.js');
    return new S3BlobStore({
      endpoint: config.s3_endpoint,
      bucket: config.s3_bucket!,
      region: config.s3_region,
      accessKeyId: config.s3_access_key,
      secretAccessKey: config.s3_secret_key,
      prefix: config.s3_prefix,
      presignRedirect: config.s3_redirect,
    });
  }
  const { FsBlobStore } = await import('./blob/fs.js');
  const root = resolve(config.data_dir);
  await mkdir(root, { recursive: true });
  return new FsBlobStore({ root, fsync: config.fsync, hashWorker: config.hash_worker });
}

export async function openMetaStore(config: ServerConfig): Promise<MetaStore> {
  if (config.meta === 'redis') {
    const { RedisMetaStore } = await import('./meta/redis.js');
    const store = new RedisMetaStore({
      url: config.redis_url,
      keyPrefix: config.redis_prefix,
      ...(config.redis_sentinels && { sentinels: parseHostList(config.redis_sentinels), sentinelName: config.redis_sentinel_name }),
      ...(config.redis_cluster && { cluster: parseHostList(config.redis_cluster) }),
    });
    if (config.meta_cache_ttl_ms === 0) return store;
    // Hot lookups cached per instance, invalidated across instances over pub/sub (docs/scale-out.md: the bound).
    const { CachedMetaStore, RedisInvalidationBus } = await import('./meta/cached.js');
    const bus = new RedisInvalidationBus(store.duplicateConnection(), store.duplicateConnection(), `${config.redis_prefix}meta-changes`);
    return new CachedMetaStore(store, { ttlMs: config.meta_cache_ttl_ms, bus });
  }
  // SQLite is local and answers in microseconds, and cluster workers on one file would need their own
  // invalidation: no cache.
  const { SqliteMetaStore } = await import('./meta/sqlite.js');
  const dir = resolve(config.data_dir);
  await mkdir(dir, { recursive: true });
  return SqliteMetaStore.open({ path: join(dir, 'meta.db') });
}
