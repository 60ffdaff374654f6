import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, type ServerConfig } from '../core/config.js';
import type { BlobStore } from './blob/blob-store.js';
import type { MetaStore } from './meta/meta-store.js';

// Chooses the adapters the configuration names. S3 and Redis load only when asked for.

export async function openBlobStore(config: ServerConfig): Promise<BlobStore> {
  if (config.storage === 'fs') {
    const { FsBlobStore } = await import('./blob/fs.js');
    const root = resolve(config.data_dir);
    await mkdir(root, { recursive: true });
    return new FsBlobStore({ root, fsync: config.fsync });
  }
  throw new ConfigError(`storage ${config.storage} is not available in this build`);
}

export async function openMetaStore(config: ServerConfig): Promise<MetaStore> {
  if (config.meta === 'sqlite') {
    const { SqliteMetaStore } = await import('./meta/sqlite.js');
    const dir = resolve(config.data_dir);
    await mkdir(dir, { recursive: true });
    return SqliteMetaStore.open({ path: join(dir, 'meta.db') });
  }
  throw new ConfigError(`meta ${config.meta} is not available in this build`);
}
