// Starts real `berth` processes (the built dist/cli/main.js) on free loopback ports for integration tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

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

export interface BerthProcess {
  url: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  /** Output so far (stdout + stderr), for assertions and failure messages. */
  output(): string;
  /** SIGTERM and wait for exit. */
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
}

/** Spawns `berth serve` and resolves once /healthz answers 200. */
export async function startBerth(opts: StartOptions = {}): Promise<BerthProcess> {
  const port = opts.port ?? (await freePort());
  const created = !opts.dataDir;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-test-')));
  let out = '';
  const child = spawn(process.execPath, [berthBin, 'serve', ...(opts.args ?? [])], {
    env: childEnv({
      BERTH_AUTH: 'none',
      BERTH_ADDR: `127.0.0.1:${port}`,
      BERTH_DATA_DIR: dataDir,
      BERTH_LOG_LEVEL: 'warn',
      ...opts.env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`berth exited with ${child.exitCode} before ready:\n${out}`);
    try {
      const r = await fetch(`${url}/healthz`);
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
  const cleanup = async () => {
    if (created && !opts.keepData) await rm(dataDir, { recursive: true, force: true });
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
