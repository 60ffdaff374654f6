// The bench's own HTTP calls to a registry: just the OCI distribution-spec requests the scenarios time, on node:http
// with keep-alive, streaming request bodies with backpressure and never buffering blob bytes. Every call checks the
// status the spec prescribes, so a registry that answers fast but wrong fails the bench instead of winning it.
import { createHash } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MediaType } from '../../core/media-types.js';
import type { PatternBlob } from './pattern-blob.js';

export class UnexpectedResponse extends Error {}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export class RegistryClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });

  /** `authorization`: sent with every request (a Bearer token, when the registry runs with auth). */
  constructor(
    readonly base: string,
    private readonly authorization?: string,
  ) {}

  close(): void {
    this.agent.destroy();
  }

  /** POST an upload session; answers its absolute URL (spec: 202 + Location). */
  async startUpload(repo: string): Promise<URL> {
    const r = await this.call('POST', `/v2/${repo}/blobs/uploads/`, { 'content-length': '0' });
    expect(r, 202, `POST /v2/${repo}/blobs/uploads/`);
    return this.location(r);
  }

  /** POST, then one PUT ?digest= carrying the whole body. */
  async pushMonolithic(repo: string, blob: PatternBlob): Promise<void> {
    const upload = await this.startUpload(repo);
    upload.searchParams.set('digest', blob.digest);
    const r = await this.call(
      'PUT',
      upload,
      { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      blob.chunks(),
    );
    expect(r, 201, 'PUT upload?digest=');
    checkDigestHeader(r, blob.digest);
  }

  /** POST, PATCHes of `chunkSize` with Content-Range, then an empty PUT ?digest=. */
  async pushChunked(repo: string, blob: PatternBlob, chunkSize: number): Promise<void> {
    let upload = await this.startUpload(repo);
    for (let start = 0; start < blob.size; start += chunkSize) {
      const end = Math.min(start + chunkSize, blob.size);
      const r = await this.call(
        'PATCH',
        upload,
        {
          'content-type': 'application/octet-stream',
          'content-length': String(end - start),
          'content-range': `${start}-${end - 1}`,
        },
        blob.chunks(start, end),
      );
      expect(r, 202, `PATCH ${start}-${end - 1}`);
      upload = this.location(r);
    }
    upload.searchParams.set('digest', blob.digest);
    const r = await this.call('PUT', upload, { 'content-length': '0' });
    expect(r, 201, 'PUT upload?digest= (closing a chunked upload)');
    checkDigestHeader(r, blob.digest);
  }

  /** Small blobs (configs) in one POST + PUT. */
  async pushBytes(repo: string, bytes: Buffer): Promise<string> {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const upload = await this.startUpload(repo);
    upload.searchParams.set('digest', digest);
    const r = await this.call('PUT', upload, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }, [bytes]);
    expect(r, 201, 'PUT upload?digest=');
    return digest;
  }

  async putManifest(repo: string, reference: string, manifest: Buffer, mediaType: string = MediaType.ociManifest): Promise<string> {
    const r = await this.call('PUT', `/v2/${repo}/manifests/${reference}`, { 'content-type': mediaType, 'content-length': String(manifest.length) }, [manifest]);
    expect(r, 201, `PUT manifest ${repo}:${reference}`);
    return String(r.headers['docker-content-digest'] ?? '');
  }

  /**
   * GET a blob and consume it: counts bytes always, hashes them when `hash` is set. Answers the byte count and,
   * when hashed, the sha256 digest of what arrived.
   */
  async pull(repo: string, digest: string, hash: boolean): Promise<{ bytes: number; digest?: string }> {
    const res = await this.open('GET', `/v2/${repo}/blobs/${digest}`);
    if (res.statusCode !== 200) {
      const body = await drain(res);
      throw new UnexpectedResponse(`GET blob: expected 200, got ${res.statusCode}: ${body.toString().slice(0, 300)}`);
    }
    const h = hash ? createHash('sha256') : undefined;
    let bytes = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      h?.update(chunk);
    }
    return { bytes, digest: h ? `sha256:${h.digest('hex')}` : undefined };
  }

  async deleteBlob(repo: string, digest: string): Promise<void> {
    const r = await this.call('DELETE', `/v2/${repo}/blobs/${digest}`);
    expect(r, 202, `DELETE blob ${digest}`);
  }

  private location(r: Reply): URL {
    const loc = r.headers.location;
    if (!loc) throw new UnexpectedResponse(`status ${r.status} without a Location header`);
    return new URL(loc, this.base);
  }

  private open(method: string, path: string | URL, headers: Record<string, string> = {}, body?: Iterable<Buffer>): Promise<IncomingMessage> {
    const url = typeof path === 'string' ? new URL(path, this.base) : path;
    return new Promise((resolve, reject) => {
      const all = this.authorization ? { ...headers, authorization: this.authorization } : headers;
      const req = request(url, { method, headers: all, agent: this.agent }, resolve);
      req.on('error', reject);
      if (body === undefined) req.end();
      // pipeline() waits on the socket's drain, so a slow registry slows the generator instead of queueing bytes.
      else pipeline(Readable.from(body), req).catch(reject);
    });
  }

  private async call(method: string, path: string | URL, headers: Record<string, string> = {}, body?: Iterable<Buffer>): Promise<Reply> {
    const res = await this.open(method, path, headers, body);
    return { status: res.statusCode ?? 0, headers: res.headers, body: await drain(res) };
  }
}

async function drain(res: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

function expect(r: Reply, status: number, what: string): void {
  if (r.status !== status) {
    throw new UnexpectedResponse(`${what}: expected ${status}, got ${r.status}: ${r.body.toString().slice(0, 300)}`);
  }
}

function checkDigestHeader(r: Reply, digest: string): void {
  const got = r.headers['docker-content-digest'];
  if (got !== undefined && got !== digest) throw new UnexpectedResponse(`registry stored ${String(got)}, expected ${digest}`);
}
