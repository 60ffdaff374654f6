// Starts real `berth` processes (the built dist/cli/main.js) on free loopback ports for integration tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const berthBin = join(repoRoot, 'dist', 'cli', 'main.js');

/** A free TCP port on 127.0.0.1 (bound then released). */
/** The environment for a child process of ours: the test's own, less tap's loaders and instrumentation
 *  (NODE_OPTIONS), so the child runs — and is measured — as it runs in production. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  for (const k of Object.keys(env)) if (k === 'TAP' || k.startsWith('TAP_') || k.startsWith('_TAPJS_')) delete env[k];
  return env;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Passwords and robot secrets the tests of this file use: none may appear in a berth process's log. */
const secrets = new Set<string>();

/** Registers a password or secret; `stop()` of every berth process started here fails if its log carries it. */
export function watchSecret(secret: string): void {
  if (secret.length >= 6) secrets.add(secret);
}

/**
 * The log lines that leak a watched secret: in plain text, inside base64 (a Basic header) or as a serialized
 * Buffer's byte array (Node's parser errors carry the raw request as `rawPacket`).
 */
export function leakedSecrets(log: string, watched: Iterable<string> = secrets): string[] {
  const list = [...watched];
  if (list.length === 0) return [];
  const leaks: string[] = [];
  for (const line of log.split('\n')) {
    const views = [line];
    for (const m of line.matchAll(/\[(\d{1,3}(?:,\d{1,3}){7,})\]/g)) views.push(Buffer.from(m[1]!.split(',').map(Number)).toString('latin1'));
    for (const v of [...views]) for (const m of v.matchAll(/[A-Za-z0-9+/_-]{8,}={0,2}/g)) views.push(Buffer.from(m[0], 'base64').toString('latin1'));
    if (list.some((s) => views.some((v) => v.includes(s)))) leaks.push(line.slice(0, 300));
  }
  return leaks;
}

export interface BerthProcess {
  url: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  /** Output so far (stdout + stderr), for assertions and failure messages. */
  output(): string;
  /** SIGTERM and wait for exit; throws if the log carried a watched secret (see watchSecret). */
  stop(): Promise<void>;
  /** SIGKILL (crash) and wait for exit. */
  kill(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Reuse a data directory (restart scenarios); a fresh temp dir otherwise. */
  dataDir?: string;
  port?: number;
  args?: string[];
  /** Keep the data directory after stop (default: removed when it was created here). */
  keepData?: boolean;
  /** `addr` serves TLS (BERTH_TLS_CERT_FILE…): readiness is probed over https trusting this CA (PEM). */
  tlsCa?: Buffer;
  /** The address to listen on (default 127.0.0.1), e.g. one end of a test's veth pair. */
  host?: string;
}

/** Spawns `berth serve` and resolves once /healthz answers 200. */
export async function startBerth(opts: StartOptions = {}): Promise<BerthProcess> {
  const port = opts.port ?? (await freePort());
  for (const k of ['BERTH_ADMIN_PASSWORD', 'BERTH_S3_SECRET_KEY']) if (opts.env?.[k]) watchSecret(opts.env[k]);
  const created = !opts.dataDir;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-test-')));
  let out = '';
  const child = spawn(process.execPath, [berthBin, 'serve', ...(opts.args ?? [])], {
    env: childEnv({
      BERTH_AUTH: 'none',
      BERTH_ADDR: `${opts.host ?? '127.0.0.1'}:${port}`,
      BERTH_DATA_DIR: dataDir,
      BERTH_LOG_LEVEL: 'warn',
      ...opts.env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `${opts.tlsCa ? 'https' : 'http'}://${opts.host ?? '127.0.0.1'}:${port}`;
  const dispatcher = opts.tlsCa ? new Agent({ connect: { ca: opts.tlsCa } }) : undefined;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`berth exited with ${child.exitCode} before ready:\n${out}`);
    try {
      const r = await fetch(`${url}/healthz`, dispatcher ? ({ dispatcher } as RequestInit) : {});
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`berth did not become ready in 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await dispatcher?.close();
  const cleanup = async () => {
    if (created && !opts.keepData) await rm(dataDir, { recursive: true, force: true });
    const leaks = leakedSecrets(out);
    if (leaks.length > 0) throw new Error(`a password or secret appears in berth's log:\n${leaks.join('\n')}`);
  };
  return {
    url,
    port,
    dataDir,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await cleanup();
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
