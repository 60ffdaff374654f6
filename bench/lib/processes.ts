// Child processes for the bench: free ports, spawning with a readiness probe, apt installs, and RSS sampling.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (bound then released). */
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

/** True when `command` resolves on PATH. */
export function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Installs a Debian package when its binary is missing; `apt-get update` only if the first try fails. */
export function ensureAptPackage(binary: string, pkg: string): void {
  if (onPath(binary)) return;
  console.error(`bench: ${binary} missing, installing ${pkg} with apt-get`);
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { stdio: 'inherit' });
  if (install().status === 0 && onPath(binary)) return;
  spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  if (install().status !== 0 || !onPath(binary)) throw new Error(`could not install ${pkg} (needed for ${binary})`);
}

/** Runs a command to completion; rejects with its output when it exits non-zero. */
export function runCommand(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}:\n${tail(out)}`));
    });
  });
}

export function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export interface Service {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Output so far (stdout + stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process has exited. */
  stop(): Promise<void>;
}

export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Resolves true once the service answers; polled every 50 ms. */
  ready: () => Promise<boolean>;
  timeoutMs?: number;
}

/** Thrown when a service exits or times out before it is ready; carries its output for the report. */
export class ServiceStartError extends Error {
  constructor(
    readonly service: string,
    readonly reason: string,
    readonly output: string,
  ) {
    super(`${service} ${reason}${output.trim() ? `:\n${tail(output)}` : ''}`);
  }
}

/**
 * Owns every child the bench starts and every scratch directory (all under one root in the temp dir), so an
 * interrupted or failed bench leaves neither registries listening nor gigabytes of blobs behind.
 * One per bench run; passed to whatever starts services.
 */
export class ServicePool {
  private readonly children = new Set<ChildProcess>();
  private readonly root = mkdtempSync(join(tmpdir(), 'berth-bench-'));

  constructor() {
    const cleanUp = () => {
      for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      try {
        // A killed registry may still be flushing a write for a moment: retry on ENOTEMPTY.
        rmSync(this.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      } catch (e) {
        console.error(`bench: could not remove ${this.root}: ${(e as Error).message}`);
      }
    };
    process.on('exit', cleanUp);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        cleanUp();
        process.exit(130);
      });
    }
  }

  /** A new empty directory under the bench's scratch root. */
  freshDir(prefix: string): Promise<string> {
    return mkdtemp(join(this.root, `${prefix}-`));
  }

  async start(spec: ServiceSpec): Promise<Service> {
    let out = '';
    const child = spawn(spec.command, spec.args, { env: spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    void exited.then(() => this.children.delete(child));
    // Keep only the last 64 KiB: a chatty service must not grow the bench's own RSS.
    const keep = (b: Buffer) => {
      out += b.toString();
      if (out.length > 65536) out = out.slice(-65536);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let spawnError: Error | undefined;
    child.once('error', (e) => (spawnError = e));

    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    };
    const timeoutMs = spec.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (spawnError) throw new ServiceStartError(spec.name, `could not be started (${spawnError.message})`, out);
      if (child.exitCode !== null || child.signalCode !== null) {
        await new Promise((r) => setTimeout(r, 100)); // let the last output arrive
        throw new ServiceStartError(spec.name, `exited with ${child.exitCode ?? child.signalCode} before it was ready`, out);
      }
      if (await spec.ready().catch(() => false)) break;
      if (Date.now() > deadline) {
        await stop();
        throw new ServiceStartError(spec.name, `was not ready within ${timeoutMs / 1000} s`, out);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return { name: spec.name, child, pid: child.pid!, output: () => out, stop };
  }
}

/** GET `url` and answer whether it returned `status`. */
export async function answers(url: string, status = 200): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === status;
}

/** The process and all its descendants (cluster workers, worker processes). */
export async function processTree(pid: number): Promise<number[]> {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    const tasks = await readdir(`/proc/${all[i]}/task`).catch(() => [] as string[]);
    for (const t of tasks) {
      const kids = await readFile(`/proc/${all[i]}/task/${t}/children`, 'utf8').catch(() => '');
      for (const k of kids.split(' ')) if (k.trim()) all.push(Number(k));
    }
  }
  return all;
}

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM); 0 once the process is gone. */
export async function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Samples the resident memory of a process tree until stopped. The peak is the larger of the highest sampled sum
 * over the tree and the kernel's own high-water mark of any single process (which catches spikes between samples).
 */
export function sampleRss(roots: number[], everyMs = 20): { stop(): Promise<number> } {
  let peakSum = 0;
  let done = false;
  const loop = (async () => {
    while (!done) {
      const pids = (await Promise.all(roots.map(processTree))).flat();
      let sum = 0;
      for (const p of pids) sum += await statusBytes(p, 'VmRSS');
      peakSum = Math.max(peakSum, sum);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      done = true;
      await loop;
      let hwm = 0;
      for (const p of (await Promise.all(roots.map(processTree))).flat()) hwm = Math.max(hwm, await statusBytes(p, 'VmHWM'));
      return Math.max(peakSum, hwm);
    },
  };
}

/**
 * CPU time (user + system, seconds) used so far by a process tree. Unlike throughput this barely moves when other
 * work shares the machine, so it shows a registry's cost per byte even on a busy box. Ticks are USER_HZ, 100 on Linux.
 */
export async function cpuSeconds(roots: number[]): Promise<number> {
  let ticks = 0;
  for (const p of (await Promise.all(roots.map(processTree))).flat()) {
    const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks / 100;
}
