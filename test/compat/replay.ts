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
  ) {}

  /** `path` is what the client appends to <url>/api/v2.0, query included. */
  async send(t: Test, method: string, path: string, o: Send = {}): Promise<Reply> {
    const headers = { ...this.headers, ...o.headers };
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
    const problem = responseProblem(method, o.template ?? path, reply.status, reply.json, reply.headers);
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
