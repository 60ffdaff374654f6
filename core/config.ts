import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

// One config loader for every process: a YAML file (snake_case keys) overridden by BERTH_<KEY> environment
// variables, validated with zod so a bad setting stops the process at start with a message naming it.

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:5000');
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
/** A byte count: a number, or a number with a unit (`64MiB`, `1.5GB`, `100MiB/s` for rates). */
const byteSize = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*(?:\/s)?\s*$/i.exec(String(v));
  if (!m) {
    ctx.addIssue({ code: 'custom', message: 'expected a byte count such as 1048576, 64MiB or 1GB' });
    return z.NEVER;
  }
  const unit = (m[2] ?? '').toUpperCase().replace(/B$/, '');
  const scale: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12, KI: 2 ** 10, MI: 2 ** 20, GI: 2 ** 30, TI: 2 ** 40 };
  return Math.round(Number(m[1]) * scale[unit]!);
});

export const serverSchema = z
  .object({
    addr: hostPort.default('0.0.0.0:5000'),
    data_dir: z.string().min(1).default('./data'),
    /** token: Docker token auth, projects and roles (default). none: no access control at all (explicit opt-out). */
    auth: z.enum(['none', 'token']).default('token'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** The URL clients use to reach this registry (token realm, P2P URLs). Unset: each request's own scheme and
     *  Host (X-Forwarded-Proto/Host when it came through a trusted proxy). */
    public_url: z.string().url().optional(),

    /** TLS on `addr`: a PEM certificate (chain after the leaf) and its key, re-read when they change. */
    tls_cert_file: z.string().min(1).optional(),
    tls_key_file: z.string().min(1).optional(),
    tls_min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    /** HTTP/2 (with HTTP/1.1 fallback) on the TLS listener. */
    http2: bool.default(false),
    /** How often the certificate files are checked for a change, seconds. */
    tls_reload_seconds: int(1, 86_400).default(30),
    /** A plain-HTTP listener as well (e.g. for a TLS-terminating proxy in front); without TLS, addr is plain HTTP. */
    http_addr: hostPort.optional(),
    /** Reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-Proto/Host/For are believed;
     *  from anyone else those headers are dropped. */
    trusted_proxies: z.string().default(''),
    /** Extra CA certificates (PEM bundle) trusted when this process calls other registries over HTTPS (replication). */
    ca_file: z.string().min(1).optional(),
    idc: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('default'),

    storage: z.enum(['fs', 's3']).default('fs'),
    fsync: bool.default(false),
    /** fs storage: sha256 of uploads on a worker thread (no faster on 2 cores, see README Performance). */
    hash_worker: bool.default(false),
    s3_endpoint: z.string().url().optional(),
    s3_bucket: z.string().optional(),
    s3_region: z.string().default('us-east-1'),
    s3_access_key: z.string().optional(),
    s3_secret_key: z.string().optional(),
    s3_prefix: z.string().default(''),
    s3_redirect: bool.default(false),

    meta: z.enum(['sqlite', 'redis']).default('sqlite'),
    redis_url: z.string().regex(/^rediss?:\/\//, 'expected redis://[:password@]host:port[/db]').optional(),
    redis_prefix: z.string().default('berth:'),
    /** Sentinel: "host:port,host:port" and the master's name (redis_url may still carry password and db). */
    redis_sentinels: z.string().optional(),
    redis_sentinel_name: z.string().default('mymaster'),
    /** Cluster: seed nodes "host:port,host:port". */
    redis_cluster: z.string().optional(),
    /** Redis mode: tag, manifest-record and blob-link lookups are cached in process for at most this long
     *  (invalidated at once across instances by pub/sub; this bounds staleness when messages are lost). 0: off. */
    meta_cache_ttl_ms: int(0, 60_000).default(1000),

    /** Largest manifest accepted, bytes (spec: registries should accept at least 4 MiB). */
    max_manifest_bytes: int(4 * 1024 * 1024).default(4 * 1024 * 1024),
    /** Largest request head (request line + headers) accepted, bytes; a token for many repositories is long. */
    max_header_bytes: byteSize.pipe(z.number().int().min(16 * 1024).max(1024 * 1024)).default(64 * 1024),
    /** Largest blob accepted, bytes (0: no limit). */
    max_blob_bytes: int(0).default(0),
    /** Storage limit of a new project (Harbor's storage_per_project): bytes, or -1 for none. */
    storage_per_project: z.union([z.literal(-1), z.literal('-1'), byteSize]).transform((v) => Number(v)).default(-1),
    /** Memory the in-process manifest cache may hold (bytes plus per-entry overhead); it fills up to this. */
    manifest_cache_bytes: byteSize.pipe(z.number().int().min(0)).default(64 * 1024 * 1024),
    /** A proxy-cache project serves a cached tag for this long before asking its upstream again (a HEAD). */
    proxy_cache_ttl_seconds: int(0).default(60),
    /** A blob or manifest younger than this survives GC even when unreferenced (pushes in flight). */
    gc_grace_seconds: int(0).default(3600),
    /** Upload sessions idle longer than this are purged by GC. */
    upload_ttl_seconds: int(60).default(24 * 3600),
    /** Run GC inside `berth serve` every N seconds (0: never; use `berth gc`). */
    gc_interval_seconds: int(0).default(0),
    /** Password of the `admin` user created at first start; unset: one is generated and printed once. */
    admin_password: z.string().min(1).optional(),
    /** Lifetime of registry bearer tokens (spec: at least 60 s). */
    token_ttl_seconds: int(60, 24 * 3600).default(900),
    /** Idle lifetime of OAuth2 refresh tokens (`docker login`'s identity token): each use renews it. */
    refresh_token_ttl_seconds: int(60).default(30 * 24 * 3600),
    /** Idle lifetime of a web console session (Harbor's session timeout, 60 min): each request renews it. */
    session_ttl_seconds: int(60).default(3600),
    /** A token signing key signs this long before a new one replaces it. */
    signing_key_rotation_seconds: int(60).default(7 * 24 * 3600),
    /** Let every user create projects (Harbor's project_creation_restriction "everyone"); else system admins only. */
    allow_user_projects: bool.default(false),
    /** Failed logins allowed per user, and per client address, in each window before further tries are refused. */
    login_max_failures_per_user: int(1).default(10),
    login_max_failures_per_address: int(1).default(100),
    login_failure_window_seconds: int(1).default(300),
    /** `nginx`: a blob GET is authorized here and answered with X-Accel-Redirect, a front nginx sends the file
     *  (sendfile, no copy through this process); fs storage only, and only behind that nginx (docs/blob-offload.md). */
    blob_offload: z.enum(['none', 'nginx']).default('none'),
    /** The internal nginx location the blob paths are appended to (`<prefix>sha256/ab/abcd…`). */
    blob_offload_prefix: z.string().regex(/^\/[A-Za-z0-9._~\/-]*\/$/, 'expected a path that starts and ends with /').default('/_berth/blobs/'),
    /** HTTP worker processes (node cluster); 1 runs in-process. */
    workers: int(1, 64).default(1),

    // P2P distribution (server/p2p): metainfo, the tracker-scheduler and the origin's own seed.
    /** Blob bytes per second the origin may send, all paths together (GET, web seed, its seeding); 0: no cap. */
    egress_limit: byteSize.default(0),
    /** Where the origin's BitTorrent seed listens; port 0 picks a free one (agents learn it from the tracker). */
    p2p_seed_addr: hostPort.default('0.0.0.0:0'),
    /** The IPv4 address agents reach the seed on; default: public_url's host when it is one, else 127.0.0.1. */
    p2p_seed_ip: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, 'expected an IPv4 address').optional(),
    /** Peers the origin's seed uploads to at once (its upload slots). */
    p2p_seed_slots: int(1, 256).default(4),
    /** Lifetime of the tracker ticket a .torrent carries (announces with it are admitted without re-checking). */
    p2p_ticket_ttl_seconds: int(60).default(12 * 3600),
    /** Lifetime of the signed web-seed URL in a .torrent. */
    p2p_webseed_ttl_seconds: int(60).default(3600),
    /** Repositories (globs, comma-separated, e.g. "library/*,team/app") whose pushed tags are preheated to seed agents. */
    p2p_preheat_on_push: z.string().default(''),

    /** `berth serve` runs the replication engine in-process unless `off` (then run `berth replicate`). */
    replicator: z.enum(['on', 'off']).default('on'),
    /** Secret that encrypts registry credentials at rest (≥ 16 chars; the same on every instance sharing a
     *  MetaStore). Unset: a random key kept in <data_dir>/replication.key. */
    replication_key: z.string().min(16).optional(),
    /** How often the replicator looks at the outbox and its queue, ms. */
    replication_poll_ms: int(20, 60_000).default(500),
    /** Anti-entropy: every N seconds each event-based push policy compares tags with its destination (0: never). */
    replication_reconcile_seconds: int(0).default(60),
    /** Transfers running at once per policy. */
    replication_concurrency: int(1, 64).default(4),
    /** Blob upload chunk size in MiB: a failed transfer resumes from the last chunk the destination holds. */
    replication_chunk_mb: int(1, 4096).default(32),
    /** Attempts per task before it fails (backoff doubles from 1 s up to 30 s). */
    replication_max_attempts: int(1, 1000).default(10),
    /** A task with no progress for this long fails (and is retried) instead of hanging. */
    replication_idle_timeout_seconds: int(1).default(60),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.storage === 's3' && !c.s3_bucket) ctx.addIssue({ code: 'custom', path: ['s3_bucket'], message: 'required when storage is s3' });
    if (c.meta === 'redis' && !c.redis_url && !c.redis_sentinels && !c.redis_cluster) {
      ctx.addIssue({ code: 'custom', path: ['redis_url'], message: 'required when meta is redis (or redis_sentinels / redis_cluster)' });
    }
    if (Boolean(c.tls_cert_file) !== Boolean(c.tls_key_file)) {
      ctx.addIssue({ code: 'custom', path: [c.tls_cert_file ? 'tls_key_file' : 'tls_cert_file'], message: 'tls_cert_file and tls_key_file go together' });
    }
    if (c.http2 && !c.tls_cert_file) ctx.addIssue({ code: 'custom', path: ['http2'], message: 'HTTP/2 needs TLS (tls_cert_file, tls_key_file)' });
    if (c.http_addr && !c.tls_cert_file) ctx.addIssue({ code: 'custom', path: ['http_addr'], message: 'without TLS, addr is already plain HTTP' });
    for (const entry of c.trusted_proxies.split(',').map((e) => e.trim()).filter(Boolean)) {
      if (!isAddressOrCidr(entry)) ctx.addIssue({ code: 'custom', path: ['trusted_proxies'], message: `not an IP address or CIDR: ${entry}` });
    }
    if (c.blob_offload === 'nginx' && c.storage !== 'fs') {
      ctx.addIssue({ code: 'custom', path: ['blob_offload'], message: 'nginx offload sends files from the data directory: storage must be fs (s3 has s3_redirect)' });
    }
    if (c.storage === 's3' && Boolean(c.s3_access_key) !== Boolean(c.s3_secret_key)) {
      ctx.addIssue({ code: 'custom', path: ['s3_secret_key'], message: 's3_access_key and s3_secret_key go together' });
    }
  });

export type ServerConfig = z.infer<typeof serverSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Reads `file` (if any), applies BERTH_* variables from `env` for the keys `schema` knows, validates.
 * Unknown keys in the file are errors; unknown BERTH_* variables are ignored (other processes own them).
 */
export function loadConfig<S extends z.ZodType>(schema: S, opts: { file?: string; env?: NodeJS.ProcessEnv; keys: string[] }): z.infer<S> {
  let raw: Record<string, unknown> = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${opts.file}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new ConfigError(`config file ${opts.file} is not valid YAML: ${(e as Error).message}`);
    }
    if (doc != null && (typeof doc !== 'object' || Array.isArray(doc))) throw new ConfigError(`config file ${opts.file} must be a mapping of settings`);
    raw = { ...(doc as Record<string, unknown>) };
  }
  const env = opts.env ?? process.env;
  for (const key of opts.keys) {
    const v = env[`BERTH_${key.toUpperCase()}`];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const key = i.path.join('.');
      const where = key ? `${key} (BERTH_${key.toUpperCase()})` : 'config';
      return `  ${where}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

export function loadServerConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): ServerConfig {
  return loadConfig(serverSchema, { ...opts, keys: Object.keys(serverSchema.shape) });
}

/** "10.0.0.1", "10.0.0.0/8", "::1", "fd00::/8". */
export function isAddressOrCidr(entry: string): boolean {
  const [addr, bits, extra] = entry.split('/');
  const family = isIP(addr ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

/** "host:port,host:port" → their parts. */
export function parseHostList(list: string): { host: string; port: number }[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(splitHostPort);
}

/** Splits "host:port" (IPv6 in brackets); an empty host means all interfaces. */
export function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  let host = addr.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host || '0.0.0.0', port: Number(addr.slice(i + 1)) };
}

/** `berth agent`: the per-node P2P agent (p2p-agent/). */
export const agentSchema = z
  .object({
    /** The local pull-only registry endpoint (docker pull 127.0.0.1:65001/<repo>:<tag>). */
    agent_addr: hostPort.default('127.0.0.1:65001'),
    /** The origin registry, e.g. http://registry.internal:5000. */
    origin: z.string().url(),
    agent_data_dir: z.string().min(1).default('./agent-data'),
    /** This node's IDC: the tracker hands out peers of the same IDC first. */
    idc: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('default'),
    /** Size limit of the blob cache (least recently used blobs go first). */
    agent_cache_max: byteSize.default(10 * 2 ** 30),
    /** TCP port peers connect to (BitTorrent wire). */
    agent_peer_port: int(0, 65535).default(6881),
    /** The IPv4 address peers reach this agent on; default: the address the tracker sees. */
    agent_peer_ip: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, 'expected an IPv4 address').optional(),
    /** seed: also fetch what the origin asks to preheat (needs agent_username/agent_password with pull rights). */
    agent_role: z.enum(['node', 'seed']).default('node'),
    agent_username: z.string().optional(),
    /** Extra CA certificates (PEM) trusted for the origin's HTTPS certificate, beside the system's. */
    agent_ca_file: z.string().min(1).optional(),
    agent_password: z.string().optional(),
    /** Blobs smaller than this are proxied to the origin instead of fetched through the swarm. */
    agent_p2p_min_bytes: byteSize.default(2 ** 20),
    /** With no piece data from peers for this long, the agent fetches from the origin (web seed). */
    agent_stall_ms: int(200, 600_000).default(5000),
    /** Connections per swarm. */
    agent_max_peers: int(1, 500).default(20),
    /** Bound what is requested from other agents at once (p2p-agent/swarm.ts); off only for A/B benchmarks. */
    agent_window: bool.default(true),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.agent_role === 'seed' && (c.agent_username === undefined) !== (c.agent_password === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['agent_password'], message: 'agent_username and agent_password go together' });
    }
  });

export type AgentConfig = z.infer<typeof agentSchema>;

export function loadAgentConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): AgentConfig {
  return loadConfig(agentSchema, { ...opts, keys: Object.keys(agentSchema.shape) });
}
