import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import { sendRegistryError } from './error-response.js';
import { originTransport, type OriginTransport } from './origin-transport.js';

// What the agent asks of the origin on a client's behalf. The client's own credentials travel with each call
// (the token dance happens between the client and the origin's token service, the agent only relays), so the
// origin decides every access: a cached blob is served only after the origin said this client may pull it.

/** Request headers worth passing to the origin. */
const forwarded = ['authorization', 'accept', 'user-agent', 'range', 'if-none-match', 'accept-encoding'];
/** Hop-by-hop headers never relayed (RFC 9110 §7.6.1). */
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

export interface BlobHead {
  status: number;
  headers: Headers;
  size: number | undefined;
}

export class OriginClient {
  readonly base: URL;

  constructor(
    baseUrl: string,
    readonly transport: OriginTransport = originTransport(),
  ) {
    this.base = new URL(baseUrl.replace(/\/+$/, '') + '/');
  }

  /** HEAD of a blob with the client's credentials: whether it exists for them, and its size. */
  async headBlob(repository: string, digest: Digest, headers: IncomingHttpHeaders): Promise<BlobHead> {
    const r = await this.transport.fetch(new URL(`v2/${repository}/blobs/${digest}`, this.base), {
      method: 'HEAD',
      headers: pick(headers, ['authorization', 'user-agent']),
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
    const len = r.headers.get('content-length');
    return { status: r.status, headers: r.headers, size: len !== null && /^\d+$/.test(len) ? Number(len) : undefined };
  }

  /** The blob's .torrent, fetched with `authorization` (the client's, or the seed agent's own). */
  async torrent(repository: string, digest: Digest, authorization: string | undefined): Promise<Buffer> {
    const u = new URL(`p2p/v1/blobs/${digest}/torrent`, this.base);
    u.searchParams.set('repository', repository);
    const r = await this.transport.fetch(u, { headers: authorization ? { authorization } : {}, signal: AbortSignal.timeout(60_000) });
    const body = Buffer.from(await r.arrayBuffer());
    if (r.status !== 200) throw new OriginRefused(r.status, `torrent for ${digest}: origin answered ${r.status} ${body.toString('utf8').slice(0, 200)}`);
    return body;
  }

  /** GET with Basic credentials (the seed role's preheat long-poll). */
  async getJson<T>(path: string, authorization: string | undefined, timeoutMs: number): Promise<T> {
    const r = await this.transport.fetch(new URL(path.replace(/^\//, ''), this.base), { headers: authorization ? { authorization } : {}, signal: AbortSignal.timeout(timeoutMs) });
    if (r.status !== 200) {
      await r.body?.cancel();
      throw new OriginRefused(r.status, `${path}: origin answered ${r.status}`);
    }
    return (await r.json()) as T;
  }

  /** POST a small JSON body with Basic credentials (the seed role's preheat reports); the status. */
  async postJson(path: string, body: unknown, authorization: string | undefined, timeoutMs: number): Promise<number> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(authorization && { authorization }) };
    const r = await this.transport.fetch(new URL(path.replace(/^\//, ''), this.base), { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    await r.body?.cancel();
    return r.status;
  }

  /** Relays a client request to the origin as is and its answer back (manifests, tags, small blobs, errors). */
  proxy(req: IncomingMessage, res: ServerResponse, onBodyBytes?: (n: number) => void): void {
    const target = new URL(req.url!.replace(/^\//, ''), this.base);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstream = send(
      target,
      { method: req.method, headers: { ...pick(req.headers, forwarded), host: target.host }, ...(this.transport.httpsAgent && target.protocol === 'https:' && { agent: this.transport.httpsAgent }) },
      (answer) => {
        const headers: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !hopByHop.has(k)) headers[k] = v;
        res.writeHead(answer.statusCode ?? 502, headers);
        if (onBodyBytes) answer.on('data', (c: Buffer) => onBodyBytes(c.length));
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.setTimeout(60_000, () => upstream.destroy(new Error('origin timed out')));
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendRegistryError(res, new RegistryError('UNAVAILABLE', `origin unreachable: ${err.message}`, { status: 502 }));
    });
    res.on('close', () => upstream.destroy());
    upstream.end();
  }
}

export class OriginRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function pick(headers: IncomingHttpHeaders, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = headers[n];
    if (typeof v === 'string') out[n] = v;
    else if (Array.isArray(v)) out[n] = v.join(', ');
  }
  return out;
}
