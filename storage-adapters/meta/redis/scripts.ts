import type { Cluster, Redis } from 'ioredis';
import { blobScripts } from './lua-blobs.js';
import { collectionScripts } from './lua-collections.js';
import { repositoryScripts } from './lua-repository.js';
import { usageScripts } from './lua-usage.js';

/** Every Lua script of the Redis MetaStore, by the command name ioredis defines for it. */
export const scripts = {
  ...repositoryScripts,
  ...blobScripts,
  ...collectionScripts,
  ...usageScripts,
  // KEYS: lock; ARGV: owner
  berthReleaseLock: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  // KEYS: lock; ARGV: owner, ttl ms
  berthExtendLock: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
} as const;

type ScriptName = keyof typeof scripts;
/** The scripts as ioredis defines them: (numberOfKeys, ...keys, ...args). */
type Scripted = Record<ScriptName, (numKeys: number, ...args: (string | number)[]) => Promise<unknown>>;
export type Client = (Redis | Cluster) & Scripted;
