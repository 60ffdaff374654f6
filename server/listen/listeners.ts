import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { ConfigError, splitHostPort, type ServerConfig } from '../../core/config.js';
import type { Logger } from '../../core/log.js';
import { loadPair, watchPair } from './tls.js';

// The registry's sockets: `addr` (TLS when a certificate is configured, HTTP/2 optional), and `http_addr`, a
// plain-HTTP listener beside it for a proxy in front. Every listener serves the same app.

type Handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;
type ClientErrorHandler = (err: Error & { code?: string }, socket: Duplex) => void;

export interface Listeners {
  /** The listener on `addr` (its address() gives the bound port). */
  main: Server;
  /** The plain-HTTP listener on `http_addr`, when configured. */
  plain?: Server;
  close(): Promise<void>;
}

export async function openListeners(config: ServerConfig, handler: Handler, onClientError: ClientErrorHandler, log: Logger): Promise<Listeners> {
  let stopWatching = () => undefined as void;
  let main: Server;
  if (config.tls_cert_file && config.tls_key_file) {
    const files = { certFile: config.tls_cert_file, keyFile: config.tls_key_file, minVersion: config.tls_min_version };
    // A certificate that does not load at start is a configuration error, told as one.
    const pair = await loadPair(files).catch((e: Error) => {
      throw new ConfigError(e.message);
    });
    const secure = config.http2
      ? createSecureServer({ ...pair.options, allowHTTP1: true, maxSessionMemory: 64 }, handler)
      : createHttpsServer({ ...pair.options, maxHeaderSize: config.max_header_bytes }, handler as (req: IncomingMessage, res: ServerResponse) => void);
    // Same shape as an http.Server for what the rest of Berth uses (address, close, connection bookkeeping).
    main = secure as unknown as Server;
    secure.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      log.debug({ code: err.code, remote: socket.remoteAddress }, 'TLS handshake failed');
    });
    stopWatching = watchPair(files, pair, config.tls_reload_seconds * 1000, (next) => secure.setSecureContext(next.options), log);
    log.info({ subject: pair.subject, validTo: pair.validTo, minVersion: config.tls_min_version, http2: config.http2 }, 'TLS enabled');
  } else {
    main = createServer({ maxHeaderSize: config.max_header_bytes }, handler as (req: IncomingMessage, res: ServerResponse) => void);
  }
  const plain = config.http_addr ? createServer({ maxHeaderSize: config.max_header_bytes }, handler as (req: IncomingMessage, res: ServerResponse) => void) : undefined;
  for (const server of [main, plain]) {
    if (!server) continue;
    server.on('clientError', onClientError);
    // Large blobs over slow links: no request timeout; idle keep-alive sockets are closed after a while.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 65_000;
  }
  await listen(main, config.addr);
  if (plain) await listen(plain, config.http_addr!);
  return {
    main,
    ...(plain && { plain }),
    close: async () => {
      stopWatching();
      await Promise.all([main, plain].map((s) => (s ? closeServer(s) : undefined)));
    },
  };
}

function listen(server: Server, addr: string): Promise<void> {
  const { host, port } = splitHostPort(addr);
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections?.();
  });
}
