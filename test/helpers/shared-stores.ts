// One Redis and one S3 bucket (s3rver) for Berth instances in Redis + S3 mode, as several `berth serve` behind a
// load balancer would share them. Either can be killed and brought back on the same port with its data (Redis
// with an fsync'ed append-only file, s3rver on the same directory), for failure scenarios.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, type RedisServer } from './redis-server.js';
import { startS3, type S3Server } from './s3-server.js';

export interface SharedStores {
  readonly redis: RedisServer;
  readonly s3: S3Server;
  /** BERTH_* variables that point `berth serve` at these stores. */
  env(): Record<string, string>;
  /** SIGKILL Redis (its data stays on disk). */
  killRedis(): Promise<void>;
  /** Start Redis again on the same port with the data it had. */
  restartRedis(): Promise<void>;
  /** SIGKILL s3rver (objects stay on disk). */
  killS3(): Promise<void>;
  /** Start s3rver again on the same port and directory. */
  restartS3(): Promise<void>;
  stop(): Promise<void>;
}

export interface SharedStoresOptions {
  keyPrefix?: string;
  /** Redis keeps its data across restartRedis() (an fsync'ed append-only file); default true. */
  durable?: boolean;
}

export async function startSharedStores(opts: SharedStoresOptions = {}): Promise<SharedStores> {
  const redisDir = await mkdtemp(join(tmpdir(), 'berth-redis-data-'));
  // Later arguments win: data in our own directory (the helper removes only its own), every write fsync'ed.
  const redisArgs = opts.durable === false ? [] : ['--dir', redisDir, '--appendonly', 'yes', '--appendfsync', 'always'];
  let redis = await startRedis({ args: redisArgs });
  let s3 = await startS3();
  const { port: redisPort } = redis;
  const { port: s3Port, directory } = s3;
  return {
    get redis() {
      return redis;
    },
    get s3() {
      return s3;
    },
    env: () => ({
      BERTH_STORAGE: 's3',
      BERTH_S3_ENDPOINT: s3.endpoint,
      BERTH_S3_BUCKET: s3.bucket,
      BERTH_S3_REGION: s3.region,
      BERTH_S3_ACCESS_KEY: s3.accessKeyId,
      BERTH_S3_SECRET_KEY: s3.secretAccessKey,
      BERTH_META: 'redis',
      BERTH_REDIS_URL: redis.url,
      ...(opts.keyPrefix && { BERTH_REDIS_PREFIX: opts.keyPrefix, BERTH_S3_PREFIX: opts.keyPrefix }),
    }),
    killRedis: () => redis.kill(),
    restartRedis: async () => {
      await redis.kill();
      redis = await startRedis({ port: redisPort, args: redisArgs });
    },
    killS3: () => s3.kill(),
    restartS3: async () => {
      await s3.kill();
      s3 = await startS3({ port: s3Port, directory, bucket: s3.bucket });
    },
    stop: async () => {
      await Promise.allSettled([redis.stop(), s3.stop()]);
      await rm(redisDir, { recursive: true, force: true });
    },
  };
}
