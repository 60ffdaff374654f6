import t from 'tap';
import { startBerth, watchSecret } from '../helpers/berth-process.js';

// The console's login and files over plain HTTP against a real `berth serve`: the session cookie's flags, the
// CSRF token, cross-origin refusals, logout, and the static files' headers beside the APIs they must not shadow.

const PASSWORD = 'Console-Admin-1';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function logIn(url: string, principal: string, password: string, headers: Record<string, string> = {}) {
  return fetch(`${url}/c/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ principal, password }).toString(),
  });
}

const sidOf = (r: Response) => /sid=([^;]+)/.exec(r.headers.get('set-cookie') ?? '')?.[1];

t.test('a console session: HttpOnly SameSite=Strict cookie, CSRF on changes, logout ends it', async (t) => {
  watchSecret(PASSWORD);
  const b = await startBerth({ env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: PASSWORD, BERTH_TRUSTED_PROXIES: '127.0.0.1' } });
  t.teardown(() => b.stop());

  const wrong = await logIn(b.url, 'admin', 'nope');
  t.equal(wrong.status, 401, 'a wrong password is refused');
  t.equal(wrong.headers.get('set-cookie'), null, 'and sets no cookie');
  t.match(await wrong.json(), { errors: [{ code: 'UNAUTHORIZED' }] }, "in Harbor's error shape");

  const crossSite = await logIn(b.url, 'admin', PASSWORD, { Origin: 'http://evil.example' });
  t.equal(crossSite.status, 403, 'a login posted from another origin is refused (login CSRF)');
  t.equal(crossSite.headers.get('set-cookie'), null);

  const ok = await logIn(b.url, 'admin', PASSWORD, { Origin: b.url });
  t.equal(ok.status, 200, 'the right password from our own origin logs in');
  const cookie = ok.headers.get('set-cookie') ?? '';
  t.match(cookie, /httponly/i, 'HttpOnly: no script can read the session');
  t.match(cookie, /samesite=strict/i, 'SameSite=Strict');
  t.notMatch(cookie, /secure/i, 'not Secure over plain HTTP (the browser would drop it)');
  const sid = sidOf(ok)!;
  const csrf = ok.headers.get('x-harbor-csrf-token')!;
  t.ok(sid && csrf, 'a session id and a CSRF token');
  t.same(await ok.json(), { username: 'admin', sysadmin_flag: true });

  const asSession = (method: string, path: string, extra: Record<string, string> = {}, body?: unknown) =>
    fetch(`${b.url}/api/v2.0${path}`, {
      method,
      headers: { Cookie: `sid=${sid}`, ...(body !== undefined && { 'Content-Type': 'application/json' }), ...extra },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const me = await asSession('GET', '/users/current');
  t.equal(me.status, 200, 'the admin API takes the session');
  t.equal(((await me.json()) as { username: string }).username, 'admin');
  t.equal(me.headers.get('x-harbor-csrf-token'), csrf, 'every answer to the session carries its CSRF token');
  t.equal((await asSession('GET', '/registries')).status, 200, "replication's API takes it too (system admin)");

  const noToken = await asSession('POST', '/projects', {}, { project_name: 'by-session' });
  t.equal(noToken.status, 403, 'a change without the CSRF token is refused');
  t.match(await noToken.json(), { errors: [{ code: 'FORBIDDEN', message: 'CSRF token invalid' }] });
  t.equal((await asSession('POST', '/projects', { 'X-Harbor-CSRF-Token': 'x'.repeat(csrf.length) }, { project_name: 'by-session' })).status, 403, 'so is one with a wrong token');
  t.equal((await asSession('POST', '/projects', { 'X-Harbor-CSRF-Token': csrf }, { project_name: 'by-session' })).status, 201, 'with the token it is done');
  const logs = (await (await fetch(`${b.url}/api/v2.0/audit-logs?q=resource%3Dby-session`, { headers: { Authorization: basic('admin', PASSWORD) } })).json()) as { username: string }[];
  t.equal(logs[0]?.username, 'admin', 'the audit log names the session user');
  t.equal((await fetch(`${b.url}/api/v2.0/projects/by-session`, { headers: { Authorization: basic('admin', PASSWORD) } })).status, 200, 'Basic still works beside sessions');

  const other = await fetch(`${b.url}/api/v2.0/users/current`, { headers: { Cookie: 'sid=not-a-session' } });
  t.equal(other.status, 401, 'an unknown session id is nobody');

  const out = await fetch(`${b.url}/c/log_out`, { method: 'POST', headers: { Cookie: `sid=${sid}` } });
  t.equal(out.status, 200, 'logout');
  t.match(out.headers.get('set-cookie') ?? '', /sid=;/, 'clears the cookie');
  t.equal((await asSession('GET', '/users/current')).status, 401, 'the session is over on the server too');

  // Behind a TLS-terminating proxy we trust, the cookie is Secure.
  const viaTls = await logIn(b.url, 'admin', PASSWORD, { 'X-Forwarded-Proto': 'https' });
  t.match(viaTls.headers.get('set-cookie') ?? '', /;\s*secure/i, 'Secure when the browser came over TLS');
});

t.test('robots do not log in; a password change ends the sessions of that user', async (t) => {
  const b = await startBerth({ env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: PASSWORD } });
  t.teardown(() => b.stop());
  const admin = { Authorization: basic('admin', PASSWORD), 'Content-Type': 'application/json' };
  t.equal((await fetch(`${b.url}/api/v2.0/projects`, { method: 'POST', headers: admin, body: JSON.stringify({ project_name: 'team' }) })).status, 201);
  const robot = await fetch(`${b.url}/api/v2.0/robots`, {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({ name: 'ci', level: 'project', duration: -1, permissions: [{ kind: 'project', namespace: 'team', access: [{ resource: 'repository', action: 'pull' }] }] }),
  });
  const { name, secret } = (await robot.json()) as { name: string; secret: string };
  watchSecret(secret);
  t.equal((await logIn(b.url, name, secret)).status, 401, 'a robot cannot open a console session');

  t.equal((await fetch(`${b.url}/api/v2.0/users`, { method: 'POST', headers: admin, body: JSON.stringify({ username: 'alice', password: 'Alice-Pass-1' }) })).status, 201);
  const alice = await logIn(b.url, 'alice', 'Alice-Pass-1');
  const sid = sidOf(alice)!;
  const csrf = alice.headers.get('x-harbor-csrf-token')!;
  const meOf = () => fetch(`${b.url}/api/v2.0/users/current`, { headers: { Cookie: `sid=${sid}` } });
  const me = (await (await meOf()).json()) as { user_id: number };
  t.equal((await fetch(`${b.url}/api/v2.0/projects`, { method: 'POST', headers: { Cookie: `sid=${sid}`, 'X-Harbor-CSRF-Token': csrf, 'Content-Type': 'application/json' }, body: JSON.stringify({ project_name: 'alices' }) })).status, 403, 'a session has its user\'s rights, no more');
  const change = await fetch(`${b.url}/api/v2.0/users/${me.user_id}/password`, {
    method: 'PUT',
    headers: { Cookie: `sid=${sid}`, 'X-Harbor-CSRF-Token': csrf, 'Content-Type': 'application/json' },
    body: JSON.stringify({ old_password: 'Alice-Pass-1', new_password: 'Alice-Pass-2' }),
  });
  t.equal(change.status, 200, 'alice changes her password in her session');
  t.equal((await meOf()).status, 401, 'which ends her sessions');
});

t.test('the console files at /, beside the APIs', async (t) => {
  const b = await startBerth({ env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: PASSWORD } });
  t.teardown(() => b.stop());
  const index = await fetch(`${b.url}/`, { headers: { Accept: 'text/html' } });
  t.equal(index.status, 200);
  t.match(index.headers.get('content-type'), /text\/html/);
  t.equal(index.headers.get('cache-control'), 'no-cache', 'index.html is revalidated');
  t.match(index.headers.get('content-security-policy'), /default-src 'self'/, 'scripts only from this origin');
  t.equal(index.headers.get('x-frame-options'), 'DENY');
  const html = await index.text();
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  t.ok(script, 'the page loads one bundled script from /assets');
  t.notMatch(html, /https?:\/\//, 'and nothing from another host (no CDN)');

  const js = await fetch(`${b.url}${script}`, { headers: { 'Accept-Encoding': 'gzip' } });
  t.equal(js.status, 200);
  t.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable', 'hashed assets are cached for good');
  t.match(js.headers.get('content-type'), /javascript/);
  const etag = js.headers.get('etag')!;
  t.equal((await fetch(`${b.url}${script}`, { headers: { 'If-None-Match': etag } })).status, 304, 'revalidation by ETag');

  const route = await fetch(`${b.url}/projects/team/repositories/app`, { headers: { Accept: 'text/html,application/xhtml+xml' } });
  t.equal(route.status, 200, 'a browser opening a client route gets the page');
  t.equal(await route.text(), html);

  const api = await fetch(`${b.url}/nope`, { headers: { Accept: 'application/json' } });
  t.equal(api.status, 404, 'an API client asking for an unknown path still gets a 404');
  t.equal((await fetch(`${b.url}/v2/`, { headers: { Accept: 'text/html' } })).status, 401, '/v2/ is the registry, even for a browser');
  t.equal((await fetch(`${b.url}/api/v2.0/projects/nope`, { headers: { Accept: 'text/html' } })).status, 404, '/api stays the API');
  t.equal((await fetch(`${b.url}/healthz`, { headers: { Accept: 'text/html' } })).status, 200, '/healthz too');
  t.equal((await fetch(`${b.url}/assets/../../package.json`, { headers: { Accept: '*/*' } })).status, 404, 'only built files by exact name');
});
