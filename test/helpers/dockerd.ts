// A Docker engine of the test's own: Debian's dockerd in a network namespace (nsenter --net, so it still sees the
// cgroup mounts), vfs storage, no iptables or bridge, its own data and exec roots and socket; the CLI talks to it
// over that socket with a config directory of its own (credentials stored there, nothing global touched).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool, startDaemon } from './daemon.js';

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
  const config = join(dir, 'cli');
  const docker: Dockerd['docker'] = (args, opts = {}) =>
    runTool('docker', ['-H', `unix://${socket}`, ...args], { env: { ...process.env, DOCKER_CONFIG: config }, ...(opts.input !== undefined && { input: opts.input }) });
  const daemon = await startDaemon(
    'dockerd',
    'nsenter',
    [`--net=/var/run/netns/${netns}`, 'dockerd', '--storage-driver=vfs', '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'docker.pid'), '-H', `unix://${socket}`, '--iptables=false', '--ip6tables=false', '--bridge=none'],
    async () => existsSync(socket) && (await docker(['version', '--format', '{{.Server.Version}}'])).code === 0,
    60_000,
  );
  return {
    docker,
    log: daemon.log,
    stop: async () => {
      await daemon.stop();
      // vfs layers are plain directories; the engine is gone, so they can go too.
      await rm(dir, { recursive: true, force: true });
    },
  };
}
