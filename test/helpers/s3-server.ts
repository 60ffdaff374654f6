// Starts a real S3-compatible HTTP server (npm `s3rver`, in its own process) on a free loopback port with a
// fresh data directory and one bucket, for the S3 BlobStore tests. Production deployments use MinIO or S3.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './berth-process.js';

const s3rverBin = join(dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');

export interface S3Server {
  endpoint: string;
  port: number;
  bucket: string;
  region: string;
  /** s3rver's fixed development credentials. */
  accessKeyId: string;
  secretAccessKey: string;
  /** Where s3rver keeps objects (kept across a restart on the same directory). */
  directory: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for exit; removes the data directory unless `keepData`. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** SIGKILL and wait for exit; the data directory stays (restart with `directory`). */
  kill(): Promise<void>;
}

export interface S3ServerOptions {
  port?: number;
  bucket?: string;
  /** Reuse a data directory (restart scenarios). */
  directory?: string;
}

/** Spawns s3rver with `bucket` configured and resolves once it listens. */
export async function startS3(opts: S3ServerOptions = {}): Promise<S3Server> {
  const port = opts.port ?? (await freePort());
  const bucket = opts.bucket ?? 'berth-test';
  const directory = opts.directory ?? (await mkdtemp(join(tmpdir(), 'berth-s3-')));
  let out = '';
  const child = spawn(
    process.execPath,
    [s3rverBin, '-d', directory, '-a', '127.0.0.1', '-p', String(port), '--silent', '--no-vhost-buckets', '--configure-bucket', bucket],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The CLI prints "S3rver listening on …" once the bucket exists and the port is bound.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`s3rver did not start in 15 s:\n${out}`));
    }, 15_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code}:\n${out}`));
    });
  });
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    directory,
    child,
    output: () => out,
    stop: async (o = {}) => {
      await end('SIGTERM');
      if (!o.keepData) await rm(directory, { recursive: true, force: true });
    },
    kill: () => end('SIGKILL'),
  };
}
