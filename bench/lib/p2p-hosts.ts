// The bench's side of a host process (bench/p2p-host.ts): forked here, or inside a network namespace.
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostReply, HostRequest } from '../p2p-host.js';

const hostScript = join(dirname(fileURLToPath(import.meta.url)), '..', 'p2p-host.js');

export class Host {
  readonly child: ChildProcess;
  private waiting: ((m: HostReply) => void) | undefined;

  /** `ns`: run inside this network namespace (`ip netns exec`, which keeps the IPC channel). */
  constructor(ns?: string, env?: NodeJS.ProcessEnv) {
    // BENCH_PROFILE=<dir> writes a CPU profile per host process there.
    const prof = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
    const inNs = ns ? { execPath: 'ip', execArgv: ['netns', 'exec', ns, process.execPath, ...prof] } : { execArgv: prof };
    this.child = fork(hostScript, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...inNs, ...(env && { env }) });
    this.child.on('message', (m: HostReply) => {
      if (m.kind === 'error') {
        console.error(`host ${this.child.pid}: ${m.message}`);
        process.exit(1);
      }
      const w = this.waiting;
      this.waiting = undefined;
      w?.(m);
    });
  }

  ask(m: HostRequest): Promise<HostReply> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.child.once('exit', (code) => reject(new Error(`host ${this.child.pid} exited (${code})`)));
      this.child.send(m);
    });
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ kind: 'stop' } satisfies HostRequest);
    return exited;
  }
}
