// Helpers for the replication tests: Berth instances as IDCs, a CNCF `docker-registry`, the replication API,
// pushing images through the OCI client, and reading every tag → digest of a registry.
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { digestOf, type Digest } from '../../core/digest.js';
import { OciClient } from '../../core/oci-client.js';
import { startBerth, type BerthProcess, type StartOptions } from './berth-process.js';

/** Fast intervals so a test sees replication within a second or two. */
export const fastReplication: Record<string, string> = {
  BERTH_REPLICATION_POLL_MS: '100',
  BERTH_REPLICATION_RECONCILE_SECONDS: '3',
  BERTH_REPLICATION_MAX_ATTEMPTS: '20',
  BERTH_REPLICATION_IDLE_TIMEOUT_SECONDS: '20',
};

export async function startIdc(idc: string, opts: StartOptions = {}): Promise<BerthProcess> {
  return startBerth({ ...opts, env: { BERTH_IDC: idc, ...fastReplication, ...opts.env } });
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

export async function api(base: string, method: string, path: string, body?: unknown, auth?: string): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth) headers.Authorization = auth;
  const r = await fetch(`${base}/api/v2.0${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* text */
  }
  return { status: r.status, headers: r.headers, body: parsed };
}

function idFromLocation(r: ApiResponse): number {
  const loc = r.headers.get('location');
  if (r.status !== 201 || !loc) throw new Error(`expected 201 with Location, got ${r.status}: ${JSON.stringify(r.body)}`);
  return Number(loc.split('/').pop());
}

export async function addRegistry(on: string, name: string, url: string, type = 'berth', credential?: { access_key: string; access_secret: string }, auth?: string): Promise<number> {
  return idFromLocation(await api(on, 'POST', '/registries', { name, url, type, insecure: true, ...(credential && { credential: { type: 'basic', ...credential } }) }, auth));
}

export interface PolicyOptions {
  name: string;
  dest?: number;
  src?: number;
  trigger?: 'manual' | 'scheduled' | 'event_based';
  cron?: string;
  filters?: { type: 'name' | 'tag' | 'label'; value: string | string[]; decoration?: string }[];
  deletion?: boolean;
  override?: boolean;
  speed?: number;
  dest_namespace?: string;
  dest_namespace_replace_count?: number;
}

export async function addPolicy(on: string, p: PolicyOptions, auth?: string): Promise<number> {
  return idFromLocation(
    await api(
      on,
      'POST',
      '/replication/policies',
      {
        name: p.name,
        ...(p.dest !== undefined && { dest_registry: { id: p.dest } }),
        ...(p.src !== undefined && { src_registry: { id: p.src } }),
        trigger: { type: p.trigger ?? 'event_based', trigger_settings: { cron: p.cron ?? '' } },
        filters: p.filters ?? [],
        replicate_deletion: p.deletion ?? true,
        override: p.override ?? true,
        speed: p.speed ?? -1,
        enabled: true,
        dest_namespace: p.dest_namespace ?? '',
        dest_namespace_replace_count: p.dest_namespace_replace_count ?? -1,
      },
      auth,
    ),
  );
}

export async function startExecution(on: string, policyId: number, auth?: string): Promise<number> {
  return idFromLocation(await api(on, 'POST', '/replication/executions', { policy_id: policyId }, auth));
}

export async function waitExecution(on: string, id: number, timeoutMs = 30_000, auth?: string): Promise<any> {
  return waitFor(async () => {
    const r = await api(on, 'GET', `/replication/executions/${id}`, undefined, auth);
    return r.body?.status !== 'InProgress' ? r.body : undefined;
  }, timeoutMs);
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface PushedImage {
  digest: Digest;
  manifest: Buffer;
  blobs: { digest: Digest; bytes: Buffer }[];
}

const manifestType = 'application/vnd.oci.image.manifest.v1+json';

/** Pushes a small image (config + `layers` random layers) under `tag`; returns its manifest digest. */
export async function pushImage(base: string, repository: string, tag: string, opts: { layerSize?: number; layers?: number; client?: OciClient } = {}): Promise<PushedImage> {
  const client = opts.client ?? new OciClient({ baseUrl: base });
  const layers = Array.from({ length: opts.layers ?? 1 }, () => randomBytes(opts.layerSize ?? 512));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', tag, nonce: randomBytes(6).toString('hex') }));
  const blobs = [config, ...layers].map((bytes) => ({ bytes, digest: digestOf(bytes) }));
  for (const b of blobs) await client.uploadBlob(repository, b.digest, b.bytes.length, async (o) => Readable.from([b.bytes.subarray(o)]));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blobs[0]!.digest, size: config.length },
      layers: blobs.slice(1).map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: b.digest, size: b.bytes.length })),
    }),
  );
  const digest = await client.putManifest(repository, tag, manifest, manifestType);
  return { digest, manifest, blobs };
}

/** Points `tag` at an already pushed manifest. */
export async function retag(base: string, repository: string, tag: string, img: PushedImage, client = new OciClient({ baseUrl: base })): Promise<void> {
  await client.putManifest(repository, tag, img.manifest, manifestType);
}

export async function deleteTag(base: string, repository: string, tag: string): Promise<boolean> {
  return new OciClient({ baseUrl: base }).deleteManifest(repository, tag);
}

/** `repo:tag` → digest for every tag of the given repositories. */
export async function tagMap(base: string, repositories: string[]): Promise<Map<string, string>> {
  const client = new OciClient({ baseUrl: base });
  const out = new Map<string, string>();
  for (const repo of repositories) {
    for (const tag of ((await client.listTags(repo)) ?? []).sort()) {
      const head = await client.headManifest(repo, tag);
      if (head) out.set(`${repo}:${tag}`, head.digest);
    }
  }
  return out;
}

export async function digestOfTag(base: string, repository: string, tag: string): Promise<string | undefined> {
  return (await new OciClient({ baseUrl: base }).headManifest(repository, tag))?.digest;
}

/** The highest outbox-driven counter we can see from outside: the number of tag events, via /metrics is not
 *  exposed, so tests read the data dir's outbox through a second, read-only sqlite handle. */
export async function outboxLength(dataDir: string): Promise<number> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(dataDir, 'meta.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

export { startDockerRegistry, type DockerRegistry } from './docker-registry.js';

/**
 * A TCP proxy in front of a registry: replication is pointed at it so a test can partition the link (every
 * connection dropped, new ones refused until healed) or cut one transfer after some bytes.
 */
export class LinkProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private partitioned = false;
  private stalled = false;
  private cutAfter: number | undefined;
  /** Bytes that went client → target (uploads). */
  upstreamBytes = 0;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => {
      if (this.partitioned) {
        client.destroy();
        return;
      }
      const upstream = connect(this.targetPort, '127.0.0.1');
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('data', (b: Buffer) => {
        if (this.stalled) {
          // Swallow the bytes without answering: a hung peer.
          client.pause();
          return;
        }
        this.upstreamBytes += b.length;
        if (this.cutAfter !== undefined && this.upstreamBytes >= this.cutAfter) {
          this.cutAfter = undefined;
          drop();
          return;
        }
        if (!upstream.write(b)) client.pause();
      });
      upstream.on('drain', () => client.resume());
      upstream.on('data', (b: Buffer) => {
        if (!client.write(b)) upstream.pause();
      });
      client.on('drain', () => upstream.resume());
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  partition(): void {
    this.partitioned = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  heal(): void {
    if (this.stalled) {
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
    }
    this.partitioned = false;
    this.stalled = false;
  }

  /** Connections stay open but nothing more goes through (a peer that hangs); heal() drops them. */
  stall(): void {
    this.stalled = true;
  }

  /** Drops the connection carrying the upload once `n` more bytes have gone through. */
  cutAfterBytes(n: number): void {
    this.cutAfter = this.upstreamBytes + n;
  }

  async close(): Promise<void> {
    this.partition();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
