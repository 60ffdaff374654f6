// The console's only way to the server: /api/v2.0 (Harbor's shapes) and the login at /c/. The session is an
// HttpOnly cookie the page cannot read; the CSRF token comes back on every answer to the session and is kept in
// memory only, then sent on every request that changes something.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const CSRF_HEADER = 'X-Harbor-CSRF-Token';
let csrfToken = '';
let onSignedOut: () => void = () => {};

/** Called when the server answers 401: the session ended or never began. */
export function whenSignedOut(f: () => void): void {
  onSignedOut = f;
}

export interface Page<T> {
  items: T[];
  /** X-Total-Count when the API sends it. */
  total?: number;
}

async function send(method: string, url: string, body?: BodyInit, type?: string): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (type) headers['Content-Type'] = type;
  if (method !== 'GET' && csrfToken) headers[CSRF_HEADER] = csrfToken;
  const r = await fetch(url, { method, headers, credentials: 'same-origin', ...(body !== undefined && { body }) });
  const token = r.headers.get(CSRF_HEADER);
  if (token) csrfToken = token;
  if (!r.ok) {
    const text = await r.text();
    let message = `${r.status} ${r.statusText}`;
    try {
      const e = JSON.parse(text) as { errors?: { message?: string }[] };
      if (e.errors?.[0]?.message) message = e.errors[0].message;
    } catch {
      /* not JSON */
    }
    if (r.status === 401 && !url.startsWith('/c/')) onSignedOut();
    throw new ApiError(r.status, message);
  }
  return r;
}

async function json<T>(r: Response): Promise<T> {
  const text = await r.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function get<T>(path: string): Promise<T> {
  return json<T>(await send('GET', `/api/v2.0${path}`));
}

/** A plain-text answer (job and task logs). */
export async function text(path: string): Promise<string> {
  return (await send('GET', `/api/v2.0${path}`)).text();
}

export async function list<T>(path: string): Promise<Page<T>> {
  const r = await send('GET', `/api/v2.0${path}`);
  const total = r.headers.get('X-Total-Count');
  return { items: (await json<T[]>(r)) ?? [], ...(total !== null && { total: Number(total) }) };
}

/** POST/PUT/DELETE/PATCH with a JSON body; answers the parsed body (if any) and the Location header. */
export async function change<T = unknown>(method: string, path: string, body?: unknown): Promise<{ body: T; location: string | null }> {
  const r = await send(method, `/api/v2.0${path}`, body === undefined ? undefined : JSON.stringify(body), body === undefined ? undefined : 'application/json');
  return { body: await json<T>(r), location: r.headers.get('Location') };
}

/** The id at the end of a 201's Location header. */
export function idOf(location: string | null): number {
  return Number(location?.split('/').pop());
}

export interface Me {
  username: string;
  sysadmin_flag: boolean;
  /** Access control is off (auth none): nobody logs in or out. */
  open?: boolean;
}

export async function logIn(principal: string, password: string): Promise<Me> {
  const r = await send('POST', '/c/login', new URLSearchParams({ principal, password }).toString(), 'application/x-www-form-urlencoded');
  return json<Me>(r);
}

export async function logOut(): Promise<void> {
  await send('POST', '/c/log_out');
  csrfToken = '';
}

/** A repository name inside its project, as Harbor's path parameter wants it (slashes encoded twice). */
export function repoParam(repositoryInProject: string): string {
  return encodeURIComponent(encodeURIComponent(repositoryInProject));
}
