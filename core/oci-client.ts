import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { withSystemRoots } from './ca-bundle.js';
import { Agent } from 'undici';
import { OciClientError, TlsCertificateError, certificateError, drain, expectStatus, nextLink } from './oci-responses.js';
import { TokenDance, parseChallenge } from './registry-tokens.js';
import type { Digest } from './digest.js';
import type { ByteRange } from './range.js';

// One OCI distribution client for everything Berth sends to a registry — replication to Berth, CNCF distribution
// or Harbor, and the P2P agent's origin fetches. It does the Docker token dance (Bearer challenge → token
// service with Basic credentials, tokens cached per scope) or plain Basic, and speaks the spec's upload flows.

export interface OciClientOptions {
  /** e.g. http://127.0.0.1:5000 */
  baseUrl: string;
  username?: string;
  password?: string;
  /** A ready bearer token (e.g. the P2P agent forwarding its caller's). */
  bearer?: string;
  /** Per-request timeout in ms for everything but blob bodies (default 30 s). */
  timeoutMs?: number;
  userAgent?: string;
  /** Extra headers on every request (e.g. Berth-Tag-Version between Berth peers). */
  headers?: Record<string, string>;
  /** HTTPS without verifying the server's certificate (self-signed or private CA): Harbor's "Verify Remote
   *  Cert" turned off. Applies to every request of this client: token fetches and redirects included. */
  insecure?: boolean;
  /** Extra CA certificates (PEM) trusted beside the system's, for registries with a private CA. */
  ca?: string | Buffer;
}

export interface ManifestResponse {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export interface BlobResponse {
  stream: Readable;
  /** Bytes in this response (the range's length for a range). */
  length: number;
  /** The blob's whole size when the server said (Content-Range total or Content-Length). */
  size?: number;
}

export interface ResponseOptions {
  signal?: AbortSignal;
  /** Called with the response headers of a successful request. */
  onResponse?: (headers: Headers) => void;
}

/** Opens the bytes of a blob from `offset` on: upload resumption re-opens from the destination's offset. */
export type BlobSource = (offset: number) => Promise<Readable>;

// Re-exported: callers know one client module.
export { OciClientError, TlsCertificateError, nextLink, parseChallenge };

const allManifestTypes = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

export class OciClient {
  private readonly base: string;
  private readonly tokens: TokenDance;
  /** One connection pool per insecure or private-CA client (not per request), so keep-alive still works. */
  private readonly dispatcher: Agent | undefined;

  constructor(private readonly opts: OciClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    if (opts.insecure) this.dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    else if (opts.ca) this.dispatcher = new Agent({ connect: { ca: withSystemRoots(opts.ca) } });
    this.tokens = new TokenDance(opts, (url, init) => this.fetch(url, init));
  }

  /** fetch with this client's TLS settings; other requests to the same registry (its admin API, a health
   *  probe) go through here so they verify — or skip verifying — the certificate the same way. An untrusted
   *  certificate throws TlsCertificateError. */
  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(url, this.dispatcher ? ({ ...init, dispatcher: this.dispatcher } as RequestInit) : init);
    } catch (e) {
      throw certificateError(e, String(url)) ?? e;
    }
  }

  async ping(): Promise<void> {
    const r = await this.request('GET', '/v2/', { scope: undefined });
    await expectStatus(r, [200]);
  }

  async getManifest(repository: string, reference: string, accept: string[] = allManifestTypes): Promise<ManifestResponse | undefined> {
    const r = await this.request('GET', `/v2/${repository}/manifests/${reference}`, { scope: pull(repository), headers: { Accept: accept.join(', ') } });
    if (r.status === 404) return drain(r, undefined);
    await expectStatus(r, [200]);
    const bytes = Buffer.from(await r.arrayBuffer());
    return { bytes, mediaType: (r.headers.get('content-type') ?? '').split(';')[0]!.trim(), digest: r.headers.get('docker-content-digest') as Digest };
  }

  async headManifest(repository: string, reference: string): Promise<{ digest: Digest; mediaType: string; size: number } | undefined> {
    const r = await this.request('HEAD', `/v2/${repository}/manifests/${reference}`, { scope: pull(repository), headers: { Accept: allManifestTypes.join(', ') } });
    if (r.status === 404) return undefined;
    await expectStatus(r, [200]);
    return {
      digest: r.headers.get('docker-content-digest') as Digest,
      mediaType: (r.headers.get('content-type') ?? '').split(';')[0]!.trim(),
      size: Number(r.headers.get('content-length') ?? 0),
    };
  }

  /** PUT a manifest; returns the digest the registry computed. `onResponse` sees the answer's headers
   *  (e.g. Berth-Tag-Write between Berth peers). */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    headers: Record<string, string> = {},
    opts: ResponseOptions = {},
  ): Promise<Digest> {
    const r = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      scope: push(repository),
      headers: { 'Content-Type': mediaType, ...headers },
      body: bytes,
      signal: opts.signal,
    });
    await expectStatus(r, [200, 201, 202]);
    opts.onResponse?.(r.headers);
    return r.headers.get('docker-content-digest') as Digest;
  }

  /** DELETE a manifest by tag or digest; false when it was not there. */
  async deleteManifest(repository: string, reference: string, headers: Record<string, string> = {}, opts: ResponseOptions = {}): Promise<boolean> {
    const r = await this.request('DELETE', `/v2/${repository}/manifests/${reference}`, { scope: `repository:${repository}:delete`, headers, signal: opts.signal });
    if (r.status === 404) return drain(r, false);
    await expectStatus(r, [200, 202, 204]);
    opts.onResponse?.(r.headers);
    return true;
  }

  /** Every tag, following Link pagination. Undefined when the repository is unknown. */
  async listTags(repository: string, pageSize = 1000): Promise<string[] | undefined> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repository}/tags/list?n=${pageSize}`;
    while (path) {
      const r = await this.request('GET', path, { scope: pull(repository) });
      if (r.status === 404) return drain(r, tags.length ? tags : undefined);
      await expectStatus(r, [200]);
      const body = (await r.json()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      path = nextLink(r.headers.get('link'));
    }
    return tags;
  }

  async catalog(pageSize = 1000): Promise<string[]> {
    const repos: string[] = [];
    let path: string | undefined = `/v2/_catalog?n=${pageSize}`;
    while (path) {
      const r = await this.request('GET', path, { scope: 'registry:catalog:*' });
      await expectStatus(r, [200]);
      repos.push(...(((await r.json()) as { repositories?: string[] }).repositories ?? []));
      path = nextLink(r.headers.get('link'));
    }
    return repos;
  }

  /** The blob's size when the repository holds it. */
  async headBlob(repository: string, digest: Digest): Promise<number | undefined> {
    const r = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, { scope: pull(repository) });
    if (r.status === 404) return undefined;
    await expectStatus(r, [200]);
    return Number(r.headers.get('content-length'));
  }

  /** Streams a blob (or a range of it). Redirects (S3 presigned URLs) are followed. */
  async getBlob(repository: string, digest: Digest, range?: ByteRange, signal?: AbortSignal): Promise<BlobResponse> {
    const headers: Record<string, string> = range ? { Range: `bytes=${range.start}-${range.end}` } : {};
    const r = await this.request('GET', `/v2/${repository}/blobs/${digest}`, { scope: pull(repository), headers, stream: true, signal });
    await expectStatus(r, range ? [206, 200] : [200]);
    const length = Number(r.headers.get('content-length'));
    const total = /\/(\d+)$/.exec(r.headers.get('content-range') ?? '')?.[1];
    const size = total !== undefined ? Number(total) : r.status === 200 ? length : undefined;
    return { stream: Readable.fromWeb(r.body as WebReadableStream<Uint8Array>), length, size };
  }

  /** Cross-repository mount (spec end-11). True when the registry mounted it (201). */
  async mountBlob(repository: string, digest: Digest, from: string): Promise<boolean> {
    const r = await this.request('POST', `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, {
      scope: `${push(repository)} ${pull(from)}`,
    });
    await expectStatus(r, [201, 202]);
    if (r.status === 202) {
      // A session was opened as a fallback; close it so it does not linger.
      const loc = r.headers.get('location');
      if (loc) await this.request('DELETE', loc, { scope: push(repository) }).then((x) => drain(x, undefined)).catch(() => undefined);
    }
    return r.status === 201;
  }

  /**
   * Uploads a blob of `size` bytes. Small blobs go in one POST+PUT; larger ones in chunks of `chunkSize`, and
   * after a failure the upload continues from the offset the registry reports (spec end-13), re-opening `source`
   * there — up to `retries` times. Returns the digest.
   */
  async uploadBlob(repository: string, digest: Digest, size: number, source: BlobSource, opts: { chunkSize?: number; retries?: number; signal?: AbortSignal } = {}): Promise<Digest> {
    const chunkSize = opts.chunkSize ?? 64 * 1024 * 1024;
    let location = await this.startUpload(repository);
    if (size <= chunkSize) {
      const r = await this.request('PUT', withDigest(location, digest), {
        scope: push(repository),
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
        body: await source(0),
        signal: opts.signal,
      });
      await expectStatus(r, [201]);
      return digest;
    }
    let offset = 0;
    let failures = 0;
    while (offset < size) {
      const end = Math.min(size, offset + chunkSize) - 1;
      try {
        const body = limit(await source(offset), end - offset + 1);
        const r = await this.request('PATCH', location, {
          scope: push(repository),
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${end}`, 'Content-Length': String(end - offset + 1) },
          body,
          signal: opts.signal,
        });
        await expectStatus(r, [202]);
        location = r.headers.get('location') ?? location;
        offset = end + 1;
      } catch (e) {
        if (opts.signal?.aborted || ++failures > (opts.retries ?? 5)) throw e;
        await new Promise((res) => setTimeout(res, Math.min(30_000, 250 * 2 ** failures)));
        try {
          const status = await this.uploadStatus(location, repository);
          offset = status.offset;
          location = status.location;
        } catch (se) {
          // Only a session the registry no longer knows starts again from zero; when the status request itself
          // failed (the link is still down), the next round tries again from the offset we had.
          if (se instanceof OciClientError && se.status === 404) {
            location = await this.startUpload(repository);
            offset = 0;
          }
        }
      }
    }
    const r = await this.request('PUT', withDigest(location, digest), { scope: push(repository), headers: { 'Content-Length': '0' } });
    await expectStatus(r, [201]);
    return digest;
  }

  /** GET on an upload session: how many bytes the registry holds. */
  async uploadStatus(location: string, repository: string): Promise<{ offset: number; location: string }> {
    const r = await this.request('GET', location, { scope: push(repository) });
    await expectStatus(r, [204]);
    const range = /^(?:bytes=)?0-(\d+)$/.exec(r.headers.get('range') ?? '');
    const offset = range ? Number(range[1]) + 1 : 0;
    return { offset, location: r.headers.get('location') ?? location };
  }

  private async startUpload(repository: string): Promise<string> {
    const r = await this.request('POST', `/v2/${repository}/blobs/uploads/`, { scope: push(repository), headers: { 'Content-Length': '0' } });
    await expectStatus(r, [202]);
    const loc = r.headers.get('location');
    if (!loc) throw new OciClientError(r.status, 'UNKNOWN', 'upload session without Location');
    return loc;
  }

  // --- transport ---

  private async request(
    method: string,
    pathOrUrl: string,
    o: { scope: string | undefined; headers?: Record<string, string>; body?: Buffer | Readable; stream?: boolean; signal?: AbortSignal },
  ): Promise<Response> {
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.base}${pathOrUrl}`;
    const send = async (auth: string | undefined) => {
      const headers: Record<string, string> = { 'User-Agent': this.opts.userAgent ?? 'berth', ...this.opts.headers, ...o.headers };
      if (auth) headers.Authorization = auth;
      const signals = [o.signal, o.stream || o.body instanceof Readable ? undefined : AbortSignal.timeout(this.opts.timeoutMs ?? 30_000)].filter(Boolean) as AbortSignal[];
      const init: RequestInit & { duplex?: 'half' } = { method, headers, redirect: 'follow', signal: signals.length ? AbortSignal.any(signals) : undefined };
      if (o.body !== undefined) {
        init.body = o.body instanceof Readable ? (Readable.toWeb(o.body) as unknown as NonNullable<RequestInit['body']>) : o.body;
        init.duplex = 'half';
      }
      return this.fetch(url, init);
    };
    let r = await send(await this.tokens.authorization(o.scope));
    if (r.status === 401 && !(o.body instanceof Readable)) {
      const challenge = this.tokens.challenged(r.headers.get('www-authenticate'), o.scope);
      await drain(r, undefined);
      if (challenge) r = await send(await this.tokens.authorization(o.scope ?? challenge.params.scope));
    }
    return r;
  }


}

const pull = (repository: string) => `repository:${repository}:pull`;
const push = (repository: string) => `repository:${repository}:pull,push`;

function withDigest(location: string, digest: Digest): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/** The first `n` bytes of a stream. */
function limit(src: Readable, n: number): Readable {
  let left = n;
  return Readable.from(
    (async function* () {
      for await (const chunk of src) {
        const c = chunk as Buffer;
        if (c.length >= left) {
          yield c.subarray(0, left);
          left = 0;
          break;
        }
        left -= c.length;
        yield c;
      }
      src.destroy();
    })(),
  );
}

