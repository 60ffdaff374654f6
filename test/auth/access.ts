// Helpers for the access-control tests: a token-mode `berth serve`, the admin API, the token dance done by
// hand (so each step can be asserted), and image pushes/pulls over raw HTTP.
import type { Test } from 'tap';
import { startBerth, watchSecret, type BerthProcess } from '../helpers/berth-process.js';
import { image, type Image } from '../helpers/oci-fixtures.js';

export const ADMIN_PASSWORD = 'Admin12345';

export interface Creds {
  username: string;
  password: string;
}

export const admin: Creds = { username: 'admin', password: ADMIN_PASSWORD };

export async function startTokenBerth(t: Test, env: Record<string, string> = {}): Promise<BerthProcess> {
  const berth = await startBerth({ env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD, ...env } });
  t.teardown(() => berth.stop());
  return berth;
}

export function basic(c: Creds): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export async function http(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  const r = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body });
  const text = await r.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

/** The admin API as one caller (or anonymous). */
export class AdminApi {
  constructor(
    private readonly base: string,
    private readonly as?: Creds,
  ) {}

  call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const h: Record<string, string> = { ...headers };
    if (this.as) h.Authorization = basic(this.as);
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['Content-Type'] ??= 'application/json';
    }
    return http(`${this.base}/api/v2.0${path}`, { method, headers: h, ...(payload !== undefined && { body: payload }) });
  }

  get = (path: string) => this.call('GET', path);
  post = (path: string, body?: unknown) => this.call('POST', path, body);
  put = (path: string, body?: unknown) => this.call('PUT', path, body);
  del = (path: string) => this.call('DELETE', path);

  async createUser(username: string, password: string): Promise<number> {
    watchSecret(password);
    const r = await this.post('/users', { username, password, email: `${username}@example.test`, realname: username });
    if (r.status !== 201) throw new Error(`create user ${username}: ${r.status} ${r.text}`);
    return Number(r.headers.get('location')!.split('/').pop());
  }

  async createProject(name: string, isPublic: boolean): Promise<number> {
    const r = await this.post('/projects', { project_name: name, metadata: { public: String(isPublic) } });
    if (r.status !== 201) throw new Error(`create project ${name}: ${r.status} ${r.text}`);
    return Number(r.headers.get('location')!.split('/').pop());
  }

  async addMember(project: string, username: string, roleId: number): Promise<number> {
    const r = await this.post(`/projects/${project}/members`, { role_id: roleId, member_user: { username } });
    if (r.status !== 201) throw new Error(`add ${username} to ${project}: ${r.status} ${r.text}`);
    return Number(r.headers.get('location')!.split('/').pop());
  }

  async createRobot(body: Record<string, unknown>): Promise<{ id: number; name: string; secret: string }> {
    const r = await this.post('/robots', body);
    if (r.status !== 201) throw new Error(`create robot: ${r.status} ${r.text}`);
    watchSecret(r.json.secret);
    return r.json;
  }
}

/** GET /service/token with Basic credentials (or none) for the scopes; the whole reply. */
export function tokenReply(base: string, who: Creds | undefined, scopes: string[], extra: Record<string, string> = {}): Promise<Reply> {
  const u = new URL(`${base}/service/token`);
  u.searchParams.set('service', 'berth');
  for (const s of scopes) u.searchParams.append('scope', s);
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
  return http(u.toString(), { headers: who ? { Authorization: basic(who) } : {} });
}

export async function token(base: string, who: Creds | undefined, scopes: string[]): Promise<string> {
  const r = await tokenReply(base, who, scopes);
  if (r.status !== 200) throw new Error(`token for ${who?.username ?? 'anonymous'}: ${r.status} ${r.text}`);
  return r.json.token as string;
}

export function decodeJwt(jwt: string): { header: any; payload: any } {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) };
}

/**
 * Pushes `img` to repo:tag the way a client does (monolithic blob uploads, then the manifest) and answers the
 * status of the first step that failed, or of the manifest PUT (201).
 */
export async function pushImage(base: string, repo: string, tag: string, authorization: string | undefined, img: Image = image({ layers: 1, layerSize: 512 })): Promise<number> {
  const auth: Record<string, string> = authorization ? { Authorization: authorization } : {};
  for (const b of img.blobs) {
    const r = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(b.digest)}`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/octet-stream', 'Content-Length': String(b.size) },
      body: b.bytes,
    });
    await r.arrayBuffer();
    if (r.status !== 201) return r.status;
  }
  const r = await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...auth, 'Content-Type': img.manifest.mediaType },
    body: img.manifest.bytes,
  });
  await r.arrayBuffer();
  return r.status;
}

export async function pullManifest(base: string, repo: string, ref: string, authorization: string | undefined): Promise<number> {
  const r = await fetch(`${base}/v2/${repo}/manifests/${ref}`, {
    headers: { ...(authorization && { Authorization: authorization }), Accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  await r.arrayBuffer();
  return r.status;
}

export async function deleteTag(base: string, repo: string, tag: string, authorization: string | undefined): Promise<number> {
  const r = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'DELETE', headers: authorization ? { Authorization: authorization } : {} });
  await r.arrayBuffer();
  return r.status;
}

export const bearer = (jwt: string) => `Bearer ${jwt}`;

/** Setup checks outside subtests throw: a top-level assertion would end tap's root test early. */
export function must(condition: boolean, what: string): void {
  if (!condition) throw new Error(`setup failed: ${what}`);
}
