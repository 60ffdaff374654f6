// A client replay against a real Berth: each request sent as the client sends it (method, path and query exactly
// as it builds them, its headers, its JSON body) and each answer checked against Harbor v2.15.2's swagger.
import type { Test } from 'tap';
import { http, type Reply } from '../auth/access.js';
import { responseProblem } from './harbor-schema.js';

export interface Send {
  body?: unknown;
  headers?: Record<string, string>;
  /** The status the client requires (terraform-provider-harbor's SendRequest statusCode); any listed one if unset. */
  expect?: number;
  /** The swagger template, when the path alone cannot tell it (e.g. /projects/{project_name_or_id}/members/{mid}). */
  template?: string;
  /** Why this status may be one Harbor's swagger does not list (Harbor itself answers it), e.g. a 404 on a read. */
  undeclared?: string;
}

export class Replay {
  constructor(
    private readonly base: string,
    private readonly headers: Record<string, string>,
    /** Whether the client reads a created resource off its Location header (terraform-provider-harbor does). */
    private readonly needsLocation = false,
  ) {}

  /** `path` is what the client appends to <url>/api/v2.0, query included. */
  async send(t: Test, method: string, path: string, o: Send = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...this.headers, ...o.headers };
    if (o.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    const init: { method: string; headers: Record<string, string>; body?: string } = { method, headers };
    if (o.body !== undefined) init.body = JSON.stringify(o.body);
    const reply = await http(`${this.base}/api/v2.0${path}`, init);
    const what = `${method} ${path.split('?')[0]} → ${reply.status}`;
    // the client stops there (its SendRequest returns an error), so the replay does too
    if (o.expect !== undefined && reply.status !== o.expect) throw new Error(`${what}, the client requires ${o.expect}: ${reply.text.slice(0, 300)}`);
    if (o.undeclared !== undefined && o.expect === reply.status) {
      t.pass(`${what}: ${o.undeclared}`);
      return reply;
    }
    // a text/plain answer (GET /ping's "Pong") is judged as the string it is
    const body = reply.json ?? (reply.text !== '' ? reply.text : undefined);
    const problem = responseProblem(method, o.template ?? path, reply.status, body, this.needsLocation ? reply.headers : undefined);
    if (problem) t.fail(`${problem}\n  body: ${reply.text.slice(0, 300)}`);
    else t.pass(`${what}, as Harbor's swagger has it`);
    return reply;
  }
}

/**
 * terraform-provider-harbor's client.GetID: the Location header with every "/api" and "/v2.0" removed — the
 * resource's d.Id(), which later requests append to <url>/api/v2.0.
 */
export function providerId(reply: Reply): string {
  const location = reply.headers.get('location') ?? '';
  return location.replaceAll('/api', '').replaceAll('/v2.0', '');
}

/** Go's time.Time zero value as encoding/json writes it (the provider's and go-client's unset timestamps). */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';
/** strfmt.DateTime's zero value as the go-client writes it. */
/** A Read after Delete: Harbor answers 404 (its errors middleware) where the swagger lists none; the clients rely on it. */
export const GONE = { expect: 404, undeclared: 'gone, as Harbor answers (errors.NotFoundError), though its swagger omits 404 here' };

export const STRFMT_ZERO_TIME = '0001-01-01T00:00:00.000Z';

/**
 * A query string as go-openapi's runtime writes it (url.Values.Encode): keys sorted, values QueryEscape'd (space
 * as +, everything but letters, digits and -_.~ percent-encoded). go-swagger leaves out empty strings only.
 */
export function goQuery(params: Record<string, string | number | boolean | undefined>): string {
  const escape = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
  const parts = Object.keys(params)
    .filter((k) => params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${escape(k)}=${escape(String(params[k]))}`);
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

/** url.PathEscape, as go-openapi fills a path parameter: a `/` inside a repository name goes as %2F. */
export const goPath = (s: string) => encodeURIComponent(s).replace(/%24/g, '$').replace(/%2B/g, '+').replace(/%40/g, '@').replace(/%3A/g, ':').replace(/%3D/g, '=').replace(/%26/g, '&').replace(/%2C/g, ',');
