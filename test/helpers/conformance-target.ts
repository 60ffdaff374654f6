// The registry the conformance suite talks to, and the small HTTP client the suite speaks it with.
// CONFORMANCE_TARGET=berth (default) spawns `berth serve`; CONFORMANCE_TARGET=distribution spawns the CNCF reference
// registry (/usr/bin/docker-registry, 2.8) so the expectations themselves can be checked against a second
// implementation. Where distribution 2.8 is known to deviate from the spec, tests are marked `berthOnly`.
// CONFORMANCE_TARGET=berth-s3-redis spawns `berth serve` on S3 (s3rver) + Redis (redis-server), both started once
// per target and kept across restart() (test/conformance-s3-redis/ runs the suite that way).
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { freePort, startBerth, type BerthProcess } from './berth-process.js';
import type { Image } from './oci-fixtures.js';
import { startSharedStores } from './shared-stores.js';
import { startDockerRegistry } from './docker-registry.js';

export type TargetKind = 'berth' | 'distribution' | 'berth-s3-redis';
const kinds: readonly TargetKind[] = ['berth', 'distribution', 'berth-s3-redis'];

export function targetKind(): TargetKind {
  const v = (process.env.CONFORMANCE_TARGET ?? 'berth').toLowerCase() as TargetKind;
  if (!kinds.includes(v)) throw new Error(`CONFORMANCE_TARGET must be one of ${kinds.join(', ')}, not ${v}`);
  return v;
}

/**
 * Test options that skip a test when the target is not Berth; `reason` says where distribution 2.8 deviates.
 * CONFORMANCE_RUN_ALL=1 runs them anyway, to confirm that the deviation is real.
 */
export function berthOnly(reason: string): { skip: string | false } {
  const skip = targetKind() === 'distribution' && !process.env.CONFORMANCE_RUN_ALL;
  return { skip: skip ? `distribution 2.8 deviates: ${reason}` : false };
}

/** A running registry under test. Its data directory and port survive `restart()` (crash scenarios). */
export interface Target {
  kind: TargetKind;
  url: string;
  port: number;
  dataDir: string;
  client: RegistryClient;
  output(): string;
  /** SIGKILL: no chance to flush or clean up. */
  kill(): Promise<void>;
  /** Start again on the same port and data directory (after kill() or on its own: it kills first). */
  restart(): Promise<void>;
  /** Stop and remove the data directory. */
  stop(): Promise<void>;
}

export async function startTarget(kind: TargetKind = targetKind()): Promise<Target> {
  const dataDir = await mkdtemp(join(tmpdir(), `conformance-${kind}-`));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const stores = kind === 'berth-s3-redis' ? await startSharedStores({ durable: false }) : undefined;
  const spawnTarget = (): Promise<RunningProcess> =>
    kind === 'distribution' ? spawnDistribution(port, dataDir) : spawnBerth(port, dataDir, stores?.env());
  let proc: RunningProcess;
  try {
    proc = await spawnTarget();
  } catch (e) {
    await stores?.stop();
    throw e;
  }
  return {
    kind,
    url,
    port,
    dataDir,
    client: new RegistryClient(url),
    output: () => proc.output(),
    kill: () => proc.kill(),
    restart: async () => {
      await proc.kill();
      proc = await spawnTarget();
    },
    stop: async () => {
      await proc.stop();
      await stores?.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Starts a target for the whole test file and stops it at the end. */
export async function targetFor(t: Test): Promise<Target> {
  const target = await startTarget();
  t.teardown(async () => {
    // A failing file shows what the registry logged (an unmapped error is a 500 whose cause is only there).
    if (!t.passing()) t.comment(`registry log:\n${target.output().split('\n').slice(-40).join('\n')}`);
    await target.stop();
  });
  return target;
}

interface RunningProcess {
  output(): string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

async function spawnBerth(port: number, dataDir: string, env?: Record<string, string>): Promise<RunningProcess> {
  const p: BerthProcess = await startBerth({ port, dataDir, keepData: true, ...(env && { env }) });
  return { output: p.output, kill: p.kill, stop: p.stop };
}

async function spawnDistribution(port: number, dataDir: string): Promise<RunningProcess> {
  const p = await startDockerRegistry({ port, dataDir });
  return { output: p.output, kill: p.kill, stop: p.stop };
}

/** A fully read HTTP response. */
export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  text(): string;
  json<T = any>(): T;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Uint8Array | string | ReadableStream<Uint8Array>;
  /** Query parameters merged into the URL (kept alongside any the Location already carries). */
  query?: Record<string, string | string[]>;
}

/** HTTP against one registry, through Node's fetch. Paths or Location values, relative or absolute, are accepted. */
export class RegistryClient {
  constructor(readonly base: string) {}

  /** Resolves a path or a Location header value (relative or absolute, spec: "Location ... MAY be absolute"). */
  url(pathOrLocation: string, query: Record<string, string | string[]> = {}): URL {
    const u = new URL(pathOrLocation, this.base);
    for (const [k, v] of Object.entries(query)) {
      u.searchParams.delete(k);
      for (const one of Array.isArray(v) ? v : [v]) u.searchParams.append(k, one);
    }
    return u;
  }

  async send(method: string, pathOrLocation: string, opts: RequestOptions = {}): Promise<Reply> {
    const init: RequestInit & { duplex?: 'half' } = { method, headers: opts.headers ?? {}, redirect: 'follow' };
    if (opts.body !== undefined) {
      init.body = opts.body as RequestInit['body'];
      if (opts.body instanceof ReadableStream) init.duplex = 'half';
    }
    const res = await fetch(this.url(pathOrLocation, opts.query), init);
    const body = Buffer.from(await res.arrayBuffer());
    return {
      status: res.status,
      headers: res.headers,
      body,
      text: () => body.toString('utf8'),
      json: () => JSON.parse(body.toString('utf8')),
    };
  }

  /** POST /v2/<name>/blobs/uploads/ (end-4a; with query: end-4b, end-11). */
  startUpload(repo: string, opts: RequestOptions = {}): Promise<Reply> {
    return this.send('POST', `/v2/${repo}/blobs/uploads/`, opts);
  }

  /** Monolithic POST then PUT (spec: "POST then PUT"); throws unless the registry answers 201. */
  async pushBlob(repo: string, bytes: Uint8Array, digest: string): Promise<Reply> {
    const post = await this.startUpload(repo);
    if (post.status !== 202) throw new Error(`POST upload ${repo}: ${post.status} ${post.text()}`);
    const put = await this.send('PUT', post.headers.get('location')!, {
      query: { digest },
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    if (put.status !== 201) throw new Error(`PUT blob ${repo}@${digest}: ${put.status} ${put.text()}`);
    return put;
  }

  /** Pushes an image (its children first, then blobs not already there, then the manifest); throws unless 201. */
  async pushImage(repo: string, img: Image, reference: string = img.manifest.digest): Promise<Reply> {
    for (const child of img.children) await this.pushImage(repo, child);
    for (const b of img.blobs) {
      const head = await this.send('HEAD', `/v2/${repo}/blobs/${b.digest}`);
      if (head.status !== 200) await this.pushBlob(repo, b.bytes, b.digest);
    }
    const put = await this.putManifest(repo, reference, img.manifest.bytes, img.manifest.mediaType);
    if (put.status !== 201) throw new Error(`PUT manifest ${repo}:${reference}: ${put.status} ${put.text()}`);
    return put;
  }

  putManifest(repo: string, reference: string, bytes: Uint8Array | string, mediaType: string, query?: Record<string, string | string[]>): Promise<Reply> {
    return this.send('PUT', `/v2/${repo}/manifests/${reference}`, { headers: { 'content-type': mediaType }, body: bytes, query });
  }

  getManifest(repo: string, reference: string, accept: string | string[], method = 'GET'): Promise<Reply> {
    return this.send(method, `/v2/${repo}/manifests/${reference}`, { headers: { accept: [accept].flat().join(', ') } });
  }
}

/** Every manifest media type a modern client accepts (what skopeo/containerd send). */
export const acceptAllManifests = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

/**
 * Asserts an OCI error response: the status, a JSON body `{"errors":[{"code","message"}]}` whose codes are all
 * well formed (spec: uppercase and underscores), one of them `code` (or one of `code` when a list; '*': any).
 */
export function expectOciError(t: Test, reply: Reply, status: number | number[], code: string | string[], what = ''): void {
  const statuses = [status].flat();
  const codes = [code].flat();
  const label = what ? `${what}: ` : '';
  t.ok(statuses.includes(reply.status), `${label}status ${statuses.join('|')}`, { got: reply.status, body: reply.text().slice(0, 300) });
  t.match(reply.headers.get('content-type') ?? '', /^application\/json\b/, `${label}Content-Type is application/json`);
  let body: { errors?: { code?: unknown; message?: unknown }[] } | undefined;
  try {
    body = reply.json();
  } catch {
    t.fail(`${label}error body is JSON`, { body: reply.text().slice(0, 300), contentType: reply.headers.get('content-type') });
    return;
  }
  const errors = body?.errors;
  if (!Array.isArray(errors) || errors.length === 0) {
    t.fail(`${label}error body has a non-empty "errors" array`, { body });
    return;
  }
  t.ok(
    errors.every((e) => typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code) && (e.message === undefined || typeof e.message === 'string')),
    `${label}every error has a well-formed code and message`,
    { errors },
  );
  if (!codes.includes('*')) t.ok(errors.some((e) => codes.includes(e.code as string)), `${label}error code ${codes.join('|')}`, { errors });
}

/** The target of a `Link: <url>; rel="next"` header (RFC 5988), or undefined when there is none. */
export function nextLink(reply: Reply): string | undefined {
  const link = reply.headers.get('link');
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /\brel\s*=\s*"?next"?/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  json<T = any>(): T;
}

/**
 * One request over node:http with the path sent byte for byte. fetch normalises `..` and `%2e%2e` away and
 * always sends an Accept header, so traversal attempts and Accept-less requests go through here.
 */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: Uint8Array | string } = {},
): Promise<RawReply> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text: () => body.toString('utf8'),
          json: () => JSON.parse(body.toString('utf8')),
        });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A RawReply seen through the Reply shape, for expectOciError. */
export function asReply(raw: RawReply): Reply {
  const headers = new Headers();
  for (const [k, v] of Object.entries(raw.headers)) if (v !== undefined) headers.set(k, [v].flat().join(', '));
  return { status: raw.status, headers, body: raw.body, text: raw.text, json: raw.json };
}
