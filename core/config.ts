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

export const serverSchema = z
  .object({
    addr: hostPort.default('0.0.0.0:5000'),
    data_dir: z.string().min(1).default('./data'),
    auth: z.enum(['none', 'token']).default('none'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** The URL clients use to reach this registry (token realm, P2P URLs); derived from addr when unset. */
    public_url: z.string().url().optional(),
    idc: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('default'),

    storage: z.enum(['fs', 's3']).default('fs'),
    fsync: bool.default(false),
    s3_endpoint: z.string().url().optional(),
    s3_bucket: z.string().optional(),
    s3_region: z.string().default('us-east-1'),
    s3_access_key: z.string().optional(),
    s3_secret_key: z.string().optional(),
    s3_prefix: z.string().default(''),
    s3_redirect: bool.default(false),

    meta: z.enum(['sqlite', 'redis']).default('sqlite'),
    redis_url: z.string().optional(),
    redis_prefix: z.string().default('berth:'),

    /** Largest manifest accepted, bytes (spec: registries should accept at least 4 MiB). */
    max_manifest_bytes: int(4 * 1024 * 1024).default(4 * 1024 * 1024),
    /** Largest blob accepted, bytes (0: no limit). */
    max_blob_bytes: int(0).default(0),
    /** A blob or manifest younger than this survives GC even when unreferenced (pushes in flight). */
    gc_grace_seconds: int(0).default(3600),
    /** Upload sessions idle longer than this are purged by GC. */
    upload_ttl_seconds: int(60).default(24 * 3600),
    /** Run GC inside `berth serve` every N seconds (0: never; use `berth gc`). */
    gc_interval_seconds: int(0).default(0),
    /** HTTP worker processes (node cluster); 1 runs in-process. */
    workers: int(1, 64).default(1),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.storage === 's3' && !c.s3_bucket) ctx.addIssue({ code: 'custom', path: ['s3_bucket'], message: 'required when storage is s3' });
    if (c.meta === 'redis' && !c.redis_url) ctx.addIssue({ code: 'custom', path: ['redis_url'], message: 'required when meta is redis' });
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

/** Splits "host:port" (IPv6 in brackets); an empty host means all interfaces. */
export function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  let host = addr.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host || '0.0.0.0', port: Number(addr.slice(i + 1)) };
}
