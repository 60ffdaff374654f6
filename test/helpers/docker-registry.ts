// CNCF distribution 2.8 (Debian's docker-registry) on loopback: the reference registry the conformance suite checks
// its expectations against and replication copies to and from. Filesystem storage, deletes on.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { freePort } from './berth-process.js';

export interface DockerRegistry {
  url: string;
  port: number;
  dataDir: string;
  output(): string;
  /** SIGKILL (crash); the data directory stays for a restart on it. */
  kill(): Promise<void>;
  /** SIGTERM; removes the data directory when it was made here. */
  stop(): Promise<void>;
}

export interface DockerRegistryOptions {
  port?: number;
  dataDir?: string;
  /** PEM files: serve HTTPS with this certificate (http.tls) instead of plain HTTP. */
  tls?: { certificate: string; key: string };
}

export async function startDockerRegistry(opts: DockerRegistryOptions = {}): Promise<DockerRegistry> {
  const created = !opts.dataDir;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-distribution-')));
  const port = opts.port ?? (await freePort());
  const config = join(dataDir, 'config.yml');
  // A fixed http.secret keeps upload-state tokens valid across a restart (resumable uploads after a crash).
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dataDir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '  secret: berth-test-fixed-secret',
      ...(opts.tls ? ['  tls:', `    certificate: ${opts.tls.certificate}`, `    key: ${opts.tls.key}`] : []),
      '',
    ].join('\n'),
  );
  let out = '';
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  // The readiness probe only asks whether it listens; the test decides what to make of the certificate.
  const probe = opts.tls ? new Agent({ connect: { rejectUnauthorized: false } }) : undefined;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}:\n${out}`);
    try {
      const r = await fetch(`${url}/v2/`, probe ? ({ dispatcher: probe } as RequestInit) : {});
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await probe?.close();
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    url,
    port,
    dataDir,
    output: () => out,
    kill: async () => {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (running()) child.kill('SIGTERM');
      await exited;
      if (created) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
