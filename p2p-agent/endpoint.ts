import { open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { isDigest, type Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import { parseRangeHeader, type ByteRange } from '../core/range.js';
import { isRecycling, RecyclingFileStream, SERVE_UNIT, writeRecycled } from '../core/recycling-file-stream.js';
import { AlreadyCached, type Agent } from './agent.js';
import { sendRegistryError } from './error-response.js';

// The node-local registry endpoint: pull-only (GET and HEAD under /v2/). Every request is first put to the
// origin with the client's credentials — the origin answers who may see what — then:
// - blobs of at least agent_p2p_min_bytes come from the cache or through the swarm, streamed as verified;
// - everything else (manifests, tags, small blobs, errors and their token challenges) is relayed as is.

const blobPath = /^\/v2\/(.+)\/blobs\/([a-z0-9]+:[a-zA-Z0-9=_-]+)$/;

export function createEndpoint(agent: Agent): Server {
  const server = createServer((req, res) => {
    handle(agent, req, res).catch((err: unknown) => {
      agent.log.warn({ err, url: req.url }, 'agent endpoint: request failed');
      if (!res.headersSent) sendRegistryError(res, new RegistryError('UNAVAILABLE', (err as Error).message, { status: 500 }));
      else res.destroy();
    });
  });
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  return server;
}

async function handle(agent: Agent, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://agent');
  const path = url.pathname;
  if (path === '/healthz') return json(res, 200, { status: 'ok' });
  if (path === '/metrics') {
    res.writeHead(200, { 'content-type': agent.metrics.registry.contentType });
    res.end(await agent.metrics.registry.metrics());
    return;
  }
  if (path === '/p2p/status') return json(res, 200, agent.status());
  if (path !== '/v2' && !path.startsWith('/v2/')) return sendRegistryError(res, new RegistryError('UNSUPPORTED', 'no such endpoint', { status: 404 }));
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    // spec: a pull-through mirror refuses writes.
    return sendRegistryError(res, new RegistryError('UNSUPPORTED', 'this is a pull-only mirror: push to the origin'));
  }
  const m = blobPath.exec(path);
  if (!m || !isDigest(m[2]!)) {
    agent.origin.proxy(req, res);
    return;
  }
  await serveBlob(agent, req, res, m[1]!, m[2] as Digest);
}

async function serveBlob(agent: Agent, req: IncomingMessage, res: ServerResponse, repository: string, digest: Digest): Promise<void> {
  const fromOrigin = (n: number) => agent.metrics.bytesFromOrigin.inc({ path: 'proxy' }, n);
  // The origin says whether this client may pull this blob here, and how big it is.
  const head = await agent.origin.headBlob(repository, digest, req.headers);
  if (head.status !== 200 || head.size === undefined || head.size < agent.config.agent_p2p_min_bytes) {
    agent.origin.proxy(req, res, fromOrigin);
    return;
  }
  const size = head.size;
  let range: ByteRange | undefined;
  try {
    range = parseRangeHeader(req.headers.range, size);
  } catch (e) {
    // RANGE_INVALID: a 416 naming the size in Content-Range.
    if (e instanceof RegistryError) return sendRegistryError(res, e);
    throw e;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'docker-content-digest': digest,
    'accept-ranges': 'bytes',
    etag: `"${digest}"`,
    'content-length': String(end - start + 1),
    'docker-distribution-api-version': 'registry/2.0',
  };
  if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  const status = range ? 206 : 200;
  if (req.method === 'HEAD') {
    res.writeHead(status, headers);
    res.end();
    return;
  }

  // A cached blob is read in large reused buffers, as the registry serves its own (core/recycling-file-stream.ts).
  const fromCache = async (): Promise<Readable> => {
    agent.metrics.cacheHits.inc();
    agent.cache.touch(digest);
    const unpin = agent.cache.pin(digest);
    try {
      const stream = new RecyclingFileStream(await open(agent.cache.blobPath(digest), 'r'), start, end, SERVE_UNIT);
      stream.once('close', unpin);
      return stream;
    } catch (e) {
      unpin();
      throw e;
    }
  };
  let body: Readable;
  if (agent.cache.has(digest)) {
    body = await fromCache();
  } else {
    try {
      body = (await agent.download(repository, digest, size, req.headers.authorization)).read(start, end);
    } catch (err) {
      if (err instanceof AlreadyCached) {
        body = await fromCache();
      } else {
        // No swarm for this blob (no torrent, origin without P2P…): the client still gets it, from the origin.
        agent.log.warn({ err, digest }, 'agent: swarm unavailable, relaying the blob from the origin');
        agent.origin.proxy(req, res, fromOrigin);
        return;
      }
    }
  }
  res.writeHead(status, headers);
  if (isRecycling(body)) return writeRecycled(res, body, (n) => agent.metrics.bytesToClients.inc(n));
  body.on('data', (c: Buffer) => agent.metrics.bytesToClients.inc(c.length));
  // On a failed download the response ends short: the client sees the error, never a wrong blob.
  pipeline(body, res, () => undefined);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
