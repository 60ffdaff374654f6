// Starts a real `redis-server` (the Debian package's binary) on a free loopback port, with nothing persisted,
// for the Redis MetaStore tests. The port can be reused to simulate Redis going away and coming back.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './berth-process.js';

export const redisServerBin = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

export interface RedisServer {
  url: string;
  port: number;
  child: ChildProcess;
  /** Output so far, for failure messages. */
  output(): string;
  /** SIGTERM, wait for exit, remove the temp dir. */
  stop(): Promise<void>;
  /** SIGKILL (crash), wait for exit, remove the temp dir. */
  kill(): Promise<void>;
}

export interface RedisStartOptions {
  /** Come back on the same address (restart scenarios). */
  port?: number;
  /** Extra server arguments, e.g. ['--cluster-enabled', 'yes']. */
  args?: string[];
}

/** Spawns redis-server and resolves once it answers PING. */
export async function startRedis(opts: RedisStartOptions = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'berth-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
  return spawnRedis(port, dir, [...args, ...(opts.args ?? [])]);
}

/** Spawns a Sentinel (redis-server --sentinel) watching the master on `masterPort` under the name `name`. */
export async function startSentinel(masterPort: number, name = 'mymaster'): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'berth-sentinel-'));
  // Sentinel rewrites its config file, so it gets its own writable copy.
  const conf = join(dir, 'sentinel.conf');
  await writeFile(
    conf,
    [`port ${port}`, 'bind 127.0.0.1', 'protected-mode no', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`, ''].join('\n'),
  );
  return spawnRedis(port, dir, [conf, '--sentinel']);
}

async function spawnRedis(port: number, dir: string, args: string[]): Promise<RedisServer> {
  let out = '';
  const child = spawn(redisServerBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${out}`);
    if (await Promise.race([pingOnce(port), spawnError])) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING in 10 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    child,
    output: () => out,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
}

/** True when a RESP PING on `port` answers +PONG. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (b) => {
      buf += b.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}
