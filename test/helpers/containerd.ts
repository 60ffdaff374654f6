// A containerd of the test's own: its own root, state and socket, the CRI plugin off; `ctr` talks to it over
// that socket in a namespace of its own. Debian's containerd.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool, startDaemon } from './daemon.js';

export interface Containerd {
  /** `ctr` against this daemon (namespace "berth-test"); resolves with stdout+stderr and the exit code. */
  ctr(args: string[]): Promise<{ code: number; out: string }>;
  stop(): Promise<void>;
}

export function containerdAvailable(): boolean {
  return existsSync('/usr/bin/containerd') && existsSync('/usr/bin/ctr');
}

export async function startContainerd(): Promise<Containerd> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-containerd-'));
  const socket = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '',
    ].join('\n'),
  );
  const ctr: Containerd['ctr'] = (args) => runTool('ctr', ['--address', socket, '--namespace', 'berth-test', ...args]);
  const daemon = await startDaemon('containerd', 'containerd', ['--config', config], async () => existsSync(socket) && (await ctr(['version'])).code === 0, 30_000);
  return {
    ctr,
    stop: async () => {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
