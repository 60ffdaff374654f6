import { Agent, request, type Dispatcher } from 'undici';
import { withSystemRoots } from '../../core/ca-bundle.js';

// The one HTTP client of `berth admin`: Basic credentials on every call to /api/v2.0, Harbor's error bodies turned
// into an AdminError whose kind picks the exit code.

export interface Connection {
  url: string;
  username?: string;
  password?: string;
  /** PEM bundle trusted beside the system roots (a private CA). */
  ca?: Buffer;
  /** Skip certificate verification altogether. */
  insecure?: boolean;
}

export type ErrorKind = 'refused' | 'auth' | 'not-found' | 'unreachable' | 'usage' | 'failed';

/** Exit codes, stable for scripts: 1 the server refused, 2 bad usage, 3 unreachable, 4 401/403, 5 not found. */
export const EXIT: Record<ErrorKind, number> = { failed: 1, refused: 1, usage: 2, unreachable: 3, auth: 4, 'not-found': 5 };

export class AdminError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface Reply<T> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

export class AdminClient {
  private readonly dispatcher: Dispatcher;
  private readonly base: string;

  constructor(private readonly conn: Connection) {
    this.base = conn.url.replace(/\/+$/, '');
    if (!/^https?:\/\//.test(this.base)) throw new AdminError('usage', `the URL must start with http:// or https:// (got "${conn.url}")`);
    const tls = conn.insecure ? { rejectUnauthorized: false } : conn.ca ? { ca: withSystemRoots(conn.ca) } : {};
    this.dispatcher = new Agent({ connect: tls });
  }

  get url(): string {
    return this.base;
  }

  /** One call under /api/v2.0 (`path` starts with /); a non-2xx answer throws an AdminError. */
  async call<T = unknown>(method: Dispatcher.HttpMethod, path: string, body?: unknown): Promise<Reply<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.conn.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${this.conn.username}:${this.conn.password ?? ''}`).toString('base64')}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const target = `${this.base}/api/v2.0${path}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(target, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), dispatcher: this.dispatcher, headersTimeout: 30_000, bodyTimeout: 60_000 });
    } catch (e) {
      throw new AdminError('unreachable', `cannot reach ${this.base}: ${networkReason(e)}`);
    }
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) {
      return { status: res.statusCode, headers: res.headers, body: (text && isJson(res.headers) ? JSON.parse(text) : text) as T };
    }
    throw httpError(method, path, res.statusCode, text);
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.call<T>('GET', path).then((r) => r.body);
  }

  /** Every item of a Harbor list endpoint, page by page (page_size 100, X-Total-Count says when to stop). */
  async all<T = unknown>(path: string, limit = Infinity): Promise<T[]> {
    const out: T[] = [];
    for (let page = 1; ; page++) {
      const sep = path.includes('?') ? '&' : '?';
      const r = await this.call<T[]>('GET', `${path}${sep}page=${page}&page_size=100`);
      const items = Array.isArray(r.body) ? r.body : [];
      out.push(...items);
      const total = Number(r.headers['x-total-count'] ?? NaN);
      if (items.length < 100 || out.length >= limit || (Number.isFinite(total) && out.length >= total)) return out.slice(0, limit);
    }
  }

  /** The id at the end of a 201's Location header (Harbor answers creations with no body). */
  static createdId(r: Reply<unknown>): number | undefined {
    const loc = r.headers.location;
    const m = /\/(\d+)$/.exec(Array.isArray(loc) ? (loc[0] ?? '') : (loc ?? ''));
    return m ? Number(m[1]) : undefined;
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

function isJson(headers: Reply<unknown>['headers']): boolean {
  return String(headers['content-type'] ?? '').includes('json');
}

/** Harbor's {"errors":[{code,message}]} made one readable line; a non-Harbor body is shown briefly. */
function httpError(method: string, path: string, status: number, text: string): AdminError {
  let detail = text.trim().slice(0, 300);
  try {
    const errs = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors;
    if (Array.isArray(errs) && errs.length > 0) detail = errs.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
  } catch {
    /* not JSON: keep the text */
  }
  const where = `${method} /api/v2.0${path.split('?')[0]}`;
  if (status === 401) return new AdminError('auth', `${where}: 401 ${detail || 'unauthorized'} (check the user and password: flags, BERTH_ADMIN_* or \`berth admin login\`)`, status);
  if (status === 403) return new AdminError('auth', `${where}: 403 ${detail || 'forbidden'} (this user lacks the role for it)`, status);
  if (status === 404) return new AdminError('not-found', `${where}: 404 ${detail || 'not found'}`, status);
  return new AdminError('refused', `${where}: ${status} ${detail}`, status);
}

/** The cause of a failed connection in words (undici nests the system error). */
function networkReason(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? err.code;
  const hints: Record<string, string> = {
    ECONNREFUSED: 'connection refused (is berth serve running there?)',
    ENOTFOUND: 'host not found',
    ETIMEDOUT: 'connection timed out',
    ECONNRESET: 'connection reset',
    UND_ERR_HEADERS_TIMEOUT: 'no answer within 30 s',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate (use --ca-file or --insecure)',
    SELF_SIGNED_CERT_IN_CHAIN: 'certificate signed by an unknown CA (use --ca-file)',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate signed by an unknown CA (use --ca-file)',
    ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate does not name this host',
  };
  return (code && hints[code]) ?? err.cause?.message ?? err.message ?? String(e);
}

/** For optional extras (an endpoint this server may not have): a 404 becomes undefined, anything else is thrown. */
export function absentAsUndefined(e: unknown): undefined {
  if (e instanceof AdminError && e.kind === 'not-found') return undefined;
  throw e;
}
