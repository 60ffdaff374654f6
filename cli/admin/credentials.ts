import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { readCaBundle } from '../../core/ca-bundle.js';
import { ConfigError } from '../../core/config.js';
import { AdminError, type Connection } from './client.js';

// Where `berth admin` finds its registry and credentials: flags, then BERTH_ADMIN_* variables, then the file
// `berth admin login` wrote (mode 0600, since it holds a password).

export interface GlobalOptions {
  url?: string;
  user?: string;
  password?: string;
  caFile?: string;
  insecure?: boolean;
  config?: string;
  json?: boolean;
}

export interface SavedLogin {
  url: string;
  username: string;
  password: string;
  ca_file?: string;
  insecure?: boolean;
}

export function configPath(opts: GlobalOptions): string {
  if (opts.config) return opts.config;
  if (process.env.BERTH_ADMIN_CONFIG) return process.env.BERTH_ADMIN_CONFIG;
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'berth', 'admin.yaml');
}

export async function readSaved(file: string): Promise<Partial<SavedLogin>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new AdminError('usage', `cannot read ${file}: ${(e as Error).message}`);
  }
  const doc = parse(text) as unknown;
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new AdminError('usage', `${file} is not a YAML mapping`);
  return doc as Partial<SavedLogin>;
}

/** Written to a temporary file with mode 0600 and renamed, so the password is never readable by others. */
export async function writeSaved(file: string, login: SavedLogin): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, stringify(login), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/** The connection for a command: each field from the first of flag, environment, saved login. */
export async function resolveConnection(opts: GlobalOptions): Promise<Connection> {
  const env = process.env;
  const saved = await readSaved(configPath(opts));
  const url = opts.url ?? env.BERTH_ADMIN_URL ?? saved.url;
  if (!url) throw new AdminError('usage', 'no registry URL: pass --url, set BERTH_ADMIN_URL or run `berth admin login <url>`');
  const caFile = opts.caFile ?? env.BERTH_ADMIN_CA_FILE ?? saved.ca_file;
  let ca: Buffer | undefined;
  try {
    ca = caFile ? readCaBundle(caFile, '--ca-file') : undefined;
  } catch (e) {
    if (e instanceof ConfigError) throw new AdminError('usage', e.message);
    throw e;
  }
  return {
    url,
    // BERTH_ADMIN_PASSWORD is also the first-start admin password of `berth serve`: alone, it means user admin.
    username: opts.user ?? env.BERTH_ADMIN_USER ?? saved.username ?? (opts.password ?? env.BERTH_ADMIN_PASSWORD ? 'admin' : undefined),
    password: opts.password ?? env.BERTH_ADMIN_PASSWORD ?? saved.password,
    ca,
    insecure: opts.insecure ?? (env.BERTH_ADMIN_INSECURE === 'true' || saved.insecure === true),
  };
}
