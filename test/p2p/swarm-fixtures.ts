// Fixtures for the P2P tests: an origin with an image holding a large layer, agents as real `berth agent`
// processes, and Prometheus figures read from /metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { digestOf, type Digest } from '../../core/digest.js';
import { OciClient } from '../../core/oci-client.js';
import { berthBin, freePort } from '../helpers/berth-process.js';

export const MiB = 1024 * 1024;

export interface PushedImage {
  repository: string;
  tag: string;
  manifest: Digest;
  layer: { digest: Digest; size: number; bytes: Buffer };
  config: { digest: Digest; size: number };
}

/** Pushes an image whose single layer is `layerSize` random bytes (skopeo copies layers verbatim). */
export async function pushImage(originUrl: string, repository: string, tag: string, layerSize: number, creds?: { username: string; password: string }): Promise<PushedImage> {
  const client = new OciClient({ baseUrl: originUrl, ...creds });
  const layer = randomBytes(layerSize);
  const layerDigest = digestOf(layer);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layerDigest] } }));
  const configDigest = digestOf(config);
  await client.uploadBlob(repository, layerDigest, layer.length, async (offset) => Readable.from([layer.subarray(offset)]));
  await client.uploadBlob(repository, configDigest, config.length, async (offset) => Readable.from([config.subarray(offset)]));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
    }),
  );
  const manifestDigest = await client.putManifest(repository, tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
  return { repository, tag, manifest: manifestDigest, layer: { digest: layerDigest, size: layer.length, bytes: layer }, config: { digest: configDigest, size: config.length } };
}

export interface AgentProcess {
  url: string;
  port: number;
  peerPort: number;
  dataDir: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

export interface AgentStart {
  origin: string;
  dataDir?: string;
  port?: number;
  peerPort?: number;
  env?: Record<string, string>;
  /** Remove the data directory on stop even when it was passed in (the last of a restart scenario). */
  removeData?: boolean;
}

// Safety net: a test file that dies before its teardown must not leave agents running.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Spawns `berth agent` and resolves once its /healthz answers. */
export async function startAgentProcess(o: AgentStart): Promise<AgentProcess> {
  const port = o.port ?? (await freePort());
  const peerPort = o.peerPort ?? (await freePort());
  const created = !o.dataDir || o.removeData === true;
  const dataDir = o.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-agent-')));
  let out = '';
  const child = spawn(process.execPath, [berthBin, 'agent'], {
    env: {
      ...process.env,
      BERTH_ORIGIN: o.origin,
      BERTH_AGENT_ADDR: `127.0.0.1:${port}`,
      BERTH_AGENT_PEER_PORT: String(peerPort),
      BERTH_AGENT_DATA_DIR: dataDir,
      BERTH_LOG_LEVEL: 'warn',
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  running.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      if (created) await rm(dataDir, { recursive: true, force: true });
      throw new Error(`agent exited with ${child.exitCode} before ready:\n${out}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`agent not ready in 90 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    peerPort,
    dataDir,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      if (created) await rm(dataDir, { recursive: true, force: true });
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Starts `count` agents, a few at a time (a busy machine starts twenty node processes slowly). */
export async function startAgents(count: number, o: AgentStart, batch = 4): Promise<AgentProcess[]> {
  const agents: AgentProcess[] = [];
  for (let i = 0; i < count; i += batch) {
    agents.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => startAgentProcess(o)))));
  }
  return agents;
}

/** Sum of a Prometheus metric's samples (all label sets, or those matching `labels`). */
export async function metric(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** sha256 of a blob fetched whole from `url`, and how many bytes came. */
export async function fetchDigest(url: string, headers: Record<string, string> = {}): Promise<{ status: number; digest: string; bytes: number }> {
  const r = await fetch(url, { headers });
  const h = createHash('sha256');
  let bytes = 0;
  if (r.body) {
    for await (const c of r.body as unknown as AsyncIterable<Uint8Array>) {
      h.update(c);
      bytes += c.length;
    }
  }
  return { status: r.status, digest: `sha256:${h.digest('hex')}`, bytes };
}
