// A Docker engine of the test's own: Debian's dockerd in a network namespace (nsenter --net, so it still sees the
// cgroup mounts), vfs storage, no iptables or bridge, its own data and exec roots and socket; the CLI talks to it
// over that socket with a config directory of its own (credentials stored there, nothing global touched).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Dockerd {
  /** Runs the docker CLI against this engine; resolves with stdout+stderr and the exit code (never rejects). */
  docker(args: string[], opts?: { input?: Buffer | string }): Promise<{ code: number; out: string }>;
  log(): string;
  stop(): Promise<void>;
}

export function dockerAvailable(): boolean {
  return existsSync('/usr/sbin/dockerd') && ['/usr/bin/docker', '/usr/local/bin/docker'].some((p) => existsSync(p));
}

export async function startDockerd(netns: string): Promise<Dockerd> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-dockerd-'));
  const socket = join(dir, 'docker.sock');
  let log = '';
  const child: ChildProcess = spawn(
    'nsenter',
    [`--net=/var/run/netns/${netns}`, 'dockerd', '--storage-driver=vfs', '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'docker.pid'), '-H', `unix://${socket}`, '--iptables=false', '--ip6tables=false', '--bridge=none'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const config = join(dir, 'cli');
  const docker: Dockerd['docker'] = (args, opts = {}) =>
    new Promise((resolve) => {
      const p = execFile('docker', ['-H', `unix://${socket}`, ...args], { env: { ...process.env, DOCKER_CONFIG: config }, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
      });
      if (opts.input !== undefined) p.stdin!.end(opts.input);
    });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}:\n${log}`);
    if (existsSync(socket) && (await docker(['version', '--format', '{{.Server.Version}}'])).code === 0) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`dockerd did not start in 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    docker,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      // vfs layers are plain directories; the engine is gone, so they can go too.
      await rm(dir, { recursive: true, force: true });
    },
  };
}
