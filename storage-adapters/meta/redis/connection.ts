// The Redis MetaStore's connection: standalone, Sentinel or Cluster, with its scripts defined, failing fast while
// Redis is away and mapping every "cannot reach Redis" to StorageUnavailableError.
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import { StorageUnavailableError } from '../../blob/blob-store.js';
import { scripts, type Client } from './scripts.js';

export interface RedisMetaStoreOptions {
  /** redis:// or rediss:// URL of a standalone server (also carries password and db). */
  url?: string;
  /** Sentinel: the sentinels to ask and the master's name (url may still carry password and db). */
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  /** Cluster: seed nodes. */
  cluster?: { host: string; port: number }[];
  /** Prefix of every key (default "berth:"), so several registries can share one Redis. */
  keyPrefix?: string;
  /** A command not answered within this is failed (a hung Redis), default 5 s. */
  commandTimeoutMs?: number;
  /** How long the first use waits for the initial connection, default 2 s. */
  connectTimeoutMs?: number;
}

export class RedisConnection {
  private readonly redis: Client;
  private readonly startTimeout: number;
  private closed = false;

  constructor(opts: RedisMetaStoreOptions) {
    let prefix = opts.keyPrefix ?? 'berth:';
    // Fail fast while Redis is away (503 at once, not a queue) and reconnect in the background for ever. A command
    // cut off by a lost connection is failed, never sent again behind the caller's back (an insert would repeat).
    const common: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: opts.connectTimeoutMs ?? 2000,
      commandTimeout: opts.commandTimeoutMs ?? 5000,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
      lazyConnect: true,
    };
    let client: Redis | Cluster;
    if (opts.cluster?.length) {
      if (!/\{.+\}/.test(prefix)) prefix = `{${prefix.replace(/:$/, '')}}:`;
      const url = opts.url ? new URL(opts.url) : undefined;
      client = new Cluster(opts.cluster as ClusterNode[], {
        keyPrefix: prefix,
        enableOfflineQueue: false,
        lazyConnect: true,
        clusterRetryStrategy: (times: number) => Math.min(100 * times, 1000),
        redisOptions: {
          ...common,
          ...(url?.password ? { password: decodeURIComponent(url.password) } : {}),
          ...(url?.username ? { username: decodeURIComponent(url.username) } : {}),
        },
      });
    } else if (opts.sentinels?.length) {
      const url = opts.url ? new URL(opts.url) : undefined;
      client = new Redis({
        ...common,
        keyPrefix: prefix,
        sentinels: opts.sentinels,
        name: opts.sentinelName ?? 'mymaster',
        ...(url?.password ? { password: decodeURIComponent(url.password) } : {}),
        ...(url?.username ? { username: decodeURIComponent(url.username) } : {}),
        ...(url && url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
      });
    } else {
      if (!opts.url) throw new Error('RedisMetaStore needs a url, sentinels or cluster nodes');
      client = new Redis(opts.url, { ...common, keyPrefix: prefix });
    }
    // Connection errors surface on the commands (as StorageUnavailableError); without a listener ioredis
    // would also print each reconnect failure.
    client.on('error', () => {});
    for (const [name, lua] of Object.entries(scripts)) client.defineCommand(name, { lua });
    this.redis = client as Client;
    this.startTimeout = opts.connectTimeoutMs ?? 2000;
    void this.redis.connect().catch(() => {}); // retried by the retry strategy; the first command waits for it
  }

  /** Runs commands once connected; every failure to reach Redis becomes StorageUnavailableError. */
  async run<T>(fn: (r: Client) => Promise<T>): Promise<T> {
    if (this.closed) throw new StorageUnavailableError('Redis metadata store is closed');
    try {
      await this.connected();
      return await fn(this.redis);
    } catch (e) {
      if (isUnavailable(e)) {
        throw new StorageUnavailableError(`Redis unavailable: ${(e as Error).message}`, { cause: e });
      }
      throw e;
    }
  }

  /** Before the first connection succeeds, a command waits for it (up to the connect timeout); afterwards a lost
   *  connection fails commands at once while ioredis reconnects. */
  private everReady = false;
  private async connected(): Promise<void> {
    if (this.redis.status === 'ready') {
      this.everReady = true;
      return;
    }
    if (this.everReady) return; // the command fails fast on its own (offline queue disabled)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        reject(new StorageUnavailableError(`Redis not reachable within ${this.startTimeout} ms`));
      }, this.startTimeout);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
    this.everReady = true;
  }

  /** Another connection with these settings, not yet connected (pub/sub needs one of its own). The caller
   *  connects and closes it. */
  duplicate(): Redis | Cluster {
    const r: Redis | Cluster = this.redis;
    const c = r instanceof Cluster ? r.duplicate() : r.duplicate();
    c.on('error', () => {});
    return c;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}

/** MULTI results: the first command error, if any, is thrown. */
export function execResult(res: [Error | null, unknown][] | null): unknown[] {
  if (!res) throw new StorageUnavailableError('Redis transaction aborted');
  return res.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
}

/** Redis replies that mean "not now" rather than "wrong command". */
const unavailableReplies = /^(LOADING|READONLY|CLUSTERDOWN|MASTERDOWN|TRYAGAIN|NOREPLICAS|BUSY)\b/;

function isUnavailable(e: unknown): boolean {
  if (e instanceof StorageUnavailableError) return false; // already mapped; rethrown as is by run()
  if (!(e instanceof Error)) return false;
  if (e.name === 'ReplyError') return unavailableReplies.test(e.message);
  // Connection closed, stream not writeable (offline), timeouts, MaxRetriesPerRequestError, socket errors.
  return (
    e.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|Command timed out|connect ETIMEDOUT|ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH|All sentinels are unreachable|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready/.test(
      e.message,
    ) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes((e as { code?: string }).code ?? '')
  );
}
