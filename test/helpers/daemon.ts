// What the real-client tests share: running a client tool for its exit code and output, and a daemon of the
// test's own (dockerd, containerd) started, waited for, and stopped.
import { execFile, spawn, type ChildProcess } from 'node:child_process';

export interface ToolResult {
  code: number;
  /** stdout then stderr. */
  out: string;
}

/** Runs `cmd`; resolves with its exit code and output, never rejects. stdin gets `input`, or is closed at once
 *  (a tool waiting for stdin would otherwise hang until the timeout). */
export function runTool(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): Promise<ToolResult> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { env: opts.env ?? process.env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
    p.stdin!.end(opts.input);
  });
}

export interface Daemon {
  log(): string;
  stop(): Promise<void>;
}

/** Spawns `cmd` and resolves once `ready()` answers true; fails with the daemon's log if it exits or takes longer. */
export async function startDaemon(name: string, cmd: string, args: string[], ready: () => Promise<boolean>, timeoutMs: number): Promise<Daemon> {
  let log = '';
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${log}`);
    if (await ready()) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start in ${timeoutMs / 1000} s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
