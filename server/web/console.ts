import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from '../../core/log.js';

// The web console's static files (built by Vite into dist/console) at `/`. They are read once at start, kept in
// memory with a gzip copy (a few hundred kB at most), and served only by exact name, so no request path ever
// reaches the file system. Hashed assets are cached for good; index.html is revalidated each time, and is the
// answer to any browser navigation (Accept: text/html) to a client route. The APIs keep their paths.

/** Paths the console never answers: everything else Berth serves. */
const RESERVED = ['/v2', '/api', '/service', '/p2p', '/metrics', '/healthz', '/readyz', '/c'];

interface StaticFile {
  body: Buffer;
  gzip?: Buffer;
  type: string;
  etag: string;
  immutable: boolean;
}

// Scripts and styles only from this origin; no framing (clickjacking); images may be inline SVG/data URLs.
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Where Vite put the console: dist/console, whether this module runs from dist/ or from the sources. */
export function consoleDir(): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return basename(root) === 'dist' ? join(root, 'console') : join(root, 'dist', 'console');
}

export function consoleFiles(log: Logger, dir = consoleDir()): Middleware {
  const files = load(dir);
  const index = files.get('/index.html');
  if (!index) {
    log.warn({ dir }, 'web console not built (npm run build); / is not served');
    return (_ctx, next) => next();
  }
  return async (ctx: Context, next: Next) => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || RESERVED.some((p) => ctx.path === p || ctx.path.startsWith(p + '/'))) return next();
    let file = files.get(ctx.path);
    // Browsers navigating ask for text/html first; API clients (Accept */* or JSON) keep their 404s.
    if (!file && ctx.get('Accept').includes('text/html')) file = index;
    if (!file) return next();
    send(ctx, file);
  };
}

function send(ctx: Context, file: StaticFile): void {
  ctx.set('Cache-Control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  ctx.set('ETag', file.etag);
  ctx.set('Vary', 'Accept-Encoding');
  ctx.set('X-Content-Type-Options', 'nosniff');
  if (file.type.startsWith('text/html')) {
    ctx.set('Content-Security-Policy', CSP);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'same-origin');
  }
  ctx.type = file.type;
  if (ctx.get('If-None-Match') === file.etag) {
    ctx.status = 304;
    return;
  }
  if (file.gzip && ctx.acceptsEncodings('gzip', 'identity') === 'gzip') {
    ctx.set('Content-Encoding', 'gzip');
    ctx.body = file.gzip;
  } else ctx.body = file.body;
}

function load(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(dir)) return files;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const abs = join(d, name);
      if (statSync(abs).isDirectory()) {
        walk(abs);
        continue;
      }
      const body = readFileSync(abs);
      const urlPath = '/' + relative(dir, abs).split(sep).join('/');
      const gzip = body.length > 512 ? gzipSync(body, { level: 9 }) : undefined;
      files.set(urlPath, {
        body,
        ...(gzip && gzip.length < body.length && { gzip }),
        type: typeOf(extname(name)),
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
        // Vite names what it builds under assets/ by content hash.
        immutable: urlPath.startsWith('/assets/'),
      });
    }
  };
  walk(dir);
  return files;
}

function typeOf(ext: string): string {
  const types: Record<string, string> = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.svg': 'image/svg+xml',
    '.png': 'image/png',
    '.ico': 'image/x-icon',
    '.json': 'application/json',
    '.txt': 'text/plain; charset=utf-8',
    '.webmanifest': 'application/manifest+json',
  };
  return types[ext] ?? 'application/octet-stream';
}
