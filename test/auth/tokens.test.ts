// The token flow against a real `berth serve`: the challenge, the token response, JWKS, refresh tokens, and
// forged tokens (wrong key, alg none, HS256 with the public key, tampered claims, expired, wrong audience,
// another repository), Basic on /v2, failed-login throttling and the catalog filter.
import { join } from 'node:path';
import { createLocalJWKSet, generateKeyPair, importJWK, jwtVerify, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose';
import t from 'tap';
import { parseDigest } from '../../core/digest.js';
import { SqliteMetaStore } from '../../storage-adapters/meta/sqlite.js';
import type { RobotRecord } from '../../server/auth/records.js';
import type { SigningKeyRecord } from '../../server/auth/signing-keys.js';
import { admin, AdminApi, basic, bearer, decodeJwt, http, must, pullManifest, pushImage, startTokenBerth, token, tokenReply, type Creds } from './access.js';

const berth = await startTokenBerth(t);
const base = berth.url;
const root = new AdminApi(base, admin);
const dev: Creds = { username: 'dev', password: 'Dev-pass-1' };
const outsider: Creds = { username: 'outsider', password: 'Out-pass-1' };
await root.createUser(dev.username, dev.password);
await root.createUser(outsider.username, outsider.password);
await root.createProject('priv', false);
await root.createProject('pub', true);
await root.createProject('other', false);
await root.addMember('priv', 'dev', 2);
for (const repo of ['priv/app', 'priv/second', 'pub/app', 'other/app']) must((await pushImage(base, repo, 'v1', basic(admin))) === 201, `seed ${repo}`);

/** The private signing key as stored, read through the real MetaStore (for forging otherwise-valid tokens). */
async function storedKey(): Promise<{ kid: string; key: CryptoKey }> {
  const meta = await SqliteMetaStore.open({ path: join(berth.dataDir, 'meta.db') });
  try {
    const { items } = await meta.collection<SigningKeyRecord>('signing_keys', { unique: ['kid'] }).list();
    const r = items[items.length - 1]!;
    return { kid: r.kid, key: (await importJWK(r.private_jwk, 'ES256')) as CryptoKey };
  } finally {
    await meta.close();
  }
}

function challengeOf(r: { headers: Headers }): string {
  return r.headers.get('www-authenticate') ?? '';
}

t.test('GET /v2/ without credentials: 401 with a Bearer challenge naming the realm and service', async (t) => {
  const r = await http(`${base}/v2/`);
  t.equal(r.status, 401);
  t.equal(challengeOf(r), `Bearer realm="${base}/service/token",service="berth"`);
  t.equal(r.json.errors[0].code, 'UNAUTHORIZED');
  const m = await http(`${base}/v2/priv/app/manifests/v1`);
  t.equal(m.status, 401, 'a private pull needs credentials');
  t.match(challengeOf(m), /scope="repository:priv\/app:pull"/);
  const c = await http(`${base}/v2/_catalog`);
  t.match(challengeOf(c), /scope="registry:catalog:\*"/);
});

t.test('BERTH_PUBLIC_URL sets the realm', async (t) => {
  const other = await startTokenBerth(t, { BERTH_PUBLIC_URL: 'https://registry.example.test:8443/' });
  const r = await http(`${other.url}/v2/`);
  t.equal(challengeOf(r), 'Bearer realm="https://registry.example.test:8443/service/token",service="berth"');
});

t.test('the token response and the JWT follow the spec; JWKS verifies it', async (t) => {
  const r = await tokenReply(base, dev, ['repository:priv/app:pull,push,delete', 'repository:pub/app:pull,push', 'repository:other/app:pull']);
  t.equal(r.status, 200);
  t.same(Object.keys(r.json).sort(), ['access_token', 'expires_in', 'issued_at', 'token']);
  t.equal(r.json.access_token, r.json.token);
  t.equal(r.json.expires_in, 900);
  t.ok(Math.abs(Date.parse(r.json.issued_at) - Date.now()) < 60_000, 'issued_at is RFC 3339 and now');
  t.equal(r.headers.get('cache-control'), 'no-store');
  const { header, payload } = decodeJwt(r.json.token);
  t.equal(header.alg, 'ES256');
  t.type(header.kid, 'string');
  t.match(payload, { iss: 'berth', aud: 'berth', sub: 'dev' });
  t.equal(payload.exp - payload.iat, 900);
  t.type(payload.jti, 'string');
  t.same(
    payload.access,
    [
      { type: 'repository', name: 'priv/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'pub/app', actions: ['pull'] },
    ],
    'granted = asked ∩ allowed: developer gets no delete, public gives pull only, other project nothing',
  );
  const jwks = await http(`${base}/service/jwks.json`);
  t.ok(jwks.json.keys.some((k: JWK) => k.kid === header.kid && k.alg === 'ES256' && k.use === 'sig' && !('d' in k)), 'public key published, no private part');
  const verified = await jwtVerify(r.json.token, createLocalJWKSet(jwks.json), { issuer: 'berth', audience: 'berth' });
  t.equal(verified.payload.sub, 'dev', 'another IDC verifies the token with the JWKS alone');
});

t.test('anonymous: public pull without any token, token for public pull only; push is challenged', async (t) => {
  t.equal(await pullManifest(base, 'pub/app', 'v1', undefined), 200, 'anonymous pull from a public project');
  const r = await tokenReply(base, undefined, ['repository:pub/app:pull,push', 'repository:priv/app:pull']);
  t.equal(r.status, 200);
  t.same(decodeJwt(r.json.token).payload.access, [{ type: 'repository', name: 'pub/app', actions: ['pull'] }]);
  t.equal(decodeJwt(r.json.token).payload.sub, '');
  t.equal(await pullManifest(base, 'pub/app', 'v1', bearer(r.json.token)), 200);
  const push = await fetch(`${base}/v2/pub/app/blobs/uploads/`, { method: 'POST', headers: { Authorization: bearer(r.json.token) } });
  t.equal(push.status, 401);
  t.match(push.headers.get('www-authenticate'), /error="insufficient_scope"/);
  t.equal(await pullManifest(base, 'priv/app', 'v1', bearer(r.json.token)), 401, 'an anonymous token gets nothing private');
});

t.test('a token narrower than the request: 401 insufficient_scope when the roles allow more, 403 DENIED when not', async (t) => {
  const pullOnly = await token(base, dev, ['repository:priv/app:pull']);
  const r = await fetch(`${base}/v2/priv/app/blobs/uploads/`, { method: 'POST', headers: { Authorization: bearer(pullOnly) } });
  t.equal(r.status, 401, 'dev may push: asking for a new token will help');
  t.equal(r.headers.get('www-authenticate'), `Bearer realm="${base}/service/token",service="berth",scope="repository:priv/app:pull,push",error="insufficient_scope"`);
  const del = await fetch(`${base}/v2/priv/app/manifests/v1`, { method: 'DELETE', headers: { Authorization: bearer(pullOnly) } });
  t.equal(del.status, 403, 'dev may not delete: DENIED');
  t.equal(((await del.json()) as any).errors[0].code, 'DENIED');
});

t.test('forged and misused tokens are refused', async (t) => {
  const real = await token(base, dev, ['repository:priv/app:pull']);
  const { header, payload } = decodeJwt(real);
  const stranger = await generateKeyPair('ES256');
  const claims = { ...payload, access: [{ type: 'repository', name: 'priv/app', actions: ['pull', 'push', 'delete'] }] };
  const { kid, key } = await storedKey();
  t.equal(kid, header.kid, 'read the live signing key');
  const now = Math.floor(Date.now() / 1000);
  const forged: Record<string, string> = {
    'signed by another key, unknown kid': await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'not-ours' }).sign(stranger.privateKey),
    'signed by another key, our kid': await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: header.kid }).sign(stranger.privateKey),
    'alg none': new UnsecuredJWT(claims).encode().replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'none', kid: header.kid })).toString('base64url')),
    'HS256 keyed with our public key': await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: header.kid })
      .sign(Buffer.from(JSON.stringify((await http(`${base}/service/jwks.json`)).json.keys[0]))),
    'tampered access claim': real.split('.')[0] + '.' + Buffer.from(JSON.stringify(claims)).toString('base64url') + '.' + real.split('.')[2],
    'expired (our key)': await new SignJWT({ ...payload, iat: now - 3600, nbf: now - 3600, exp: now - 1800 }).setProtectedHeader({ alg: 'ES256', kid }).sign(key),
    'not yet valid (our key)': await new SignJWT({ ...payload, iat: now + 3600, nbf: now + 3600, exp: now + 7200 }).setProtectedHeader({ alg: 'ES256', kid }).sign(key),
    'wrong audience (our key)': await new SignJWT({ ...payload, aud: 'someone-else' }).setProtectedHeader({ alg: 'ES256', kid }).sign(key),
    'wrong issuer (our key)': await new SignJWT({ ...payload, iss: 'someone-else' }).setProtectedHeader({ alg: 'ES256', kid }).sign(key),
    'malformed access claim (our key)': await new SignJWT({ ...payload, access: 'everything' }).setProtectedHeader({ alg: 'ES256', kid }).sign(key),
    garbage: 'not.a.token',
  };
  for (const [what, jwt] of Object.entries(forged)) {
    const r = await fetch(`${base}/v2/priv/app/manifests/v1`, { headers: { Authorization: bearer(jwt) } });
    t.equal(r.status, 401, `${what}: 401`);
    t.match(r.headers.get('www-authenticate'), /error="invalid_token"/, `${what}: invalid_token`);
  }
  // The control: our key with sound claims works, so the refusals above are about what was forged.
  const sound = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid }).sign(key);
  t.equal(await pullManifest(base, 'priv/app', 'v1', bearer(sound)), 200, 'a sound token with our key is accepted');

  t.equal(await pullManifest(base, 'priv/second', 'v1', bearer(real)), 401, "a token for priv/app does not open priv/second (dev may: new token)");
  t.equal(await pullManifest(base, 'other/app', 'v1', bearer(real)), 403, 'nor other/app, where dev has no role');
  t.equal(await pushImage(base, 'priv/app', 'forged', bearer(forged['tampered access claim']!)), 401, 'tampered push refused');
  const tags = (await (await fetch(`${base}/v2/priv/app/tags/list`, { headers: { Authorization: basic(admin) } })).json()) as { tags: string[] };
  t.notOk(tags.tags.includes('forged'));
});

t.test('Basic credentials directly on /v2', async (t) => {
  t.equal(await pullManifest(base, 'priv/app', 'v1', basic(dev)), 200);
  t.equal(await pushImage(base, 'priv/app', 'basic', basic(dev)), 201);
  const wrong = await fetch(`${base}/v2/priv/app/manifests/v1`, { headers: { Authorization: basic({ ...dev, password: 'Wrong-pass-1' }) } });
  t.equal(wrong.status, 401);
  t.match(wrong.headers.get('www-authenticate'), /^Bearer realm=/);
  t.equal(await pullManifest(base, 'priv/app', 'v1', basic(outsider)), 403, 'known but not a member: DENIED');
  const failures = await root.get(`/audit-logs?q=${encodeURIComponent('operation=login,username=dev')}`);
  t.equal(failures.status, 200);
  t.ok(failures.json.length >= 1, 'the failed login is in the audit log');
  t.match(failures.json[0], { username: 'dev', operation: 'login', resource_type: 'user', operation_result: false, client_ip: /127\.0\.0\.1/ });
});

t.test('pushing into a project that does not exist is DENIED, even for a system admin', async (t) => {
  for (const repo of ['nosuch/app', 'toplevel']) {
    const r = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { Authorization: basic(admin) } });
    const body = (await r.json()) as any;
    t.equal(r.status, 403, repo);
    t.equal(body.errors[0].code, 'DENIED');
    t.match(body.errors[0].message, repo === 'toplevel' ? /<project>\/<path>/ : /project nosuch does not exist/);
  }
  const tok = await tokenReply(base, admin, ['repository:nosuch/app:pull,push']);
  t.same(decodeJwt(tok.json.token).payload.access, [], 'the token service grants nothing there either');
});

t.test('catalog lists only what the caller may pull', async (t) => {
  const list = async (c: Creds) => ((await (await fetch(`${base}/v2/_catalog`, { headers: { Authorization: basic(c) } })).json()) as { repositories: string[] }).repositories;
  t.same(await list(admin), ['other/app', 'priv/app', 'priv/second', 'pub/app']);
  t.same(await list(dev), ['priv/app', 'priv/second', 'pub/app']);
  t.same(await list(outsider), ['pub/app']);
  const devToken = await tokenReply(base, dev, ['registry:catalog:*']);
  t.same(decodeJwt(devToken.json.token).payload.access, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
  const viaToken = await fetch(`${base}/v2/_catalog?n=2`, { headers: { Authorization: bearer(devToken.json.token) } });
  t.same(((await viaToken.json()) as any).repositories, ['priv/app', 'priv/second']);
  t.match(viaToken.headers.get('link'), /last=priv%2Fsecond/);
  t.equal((await fetch(`${base}/v2/_catalog`)).status, 401, 'anonymous: sign in first');
  const anonymous = await tokenReply(base, undefined, ['registry:catalog:*']);
  const anon = await fetch(`${base}/v2/_catalog`, { headers: { Authorization: bearer(anonymous.json.token) } });
  t.same(((await anon.json()) as any).repositories, ['pub/app'], 'an anonymous token lists the public projects');
});

t.test('refresh tokens: GET offline_token, POST password and refresh_token grants', async (t) => {
  const offline = await tokenReply(base, dev, ['repository:priv/app:pull'], { offline_token: 'true', client_id: 'test' });
  t.type(offline.json.refresh_token, 'string');
  t.ok(offline.json.refresh_token.length >= 40);
  const form = (fields: Record<string, string>) =>
    http(`${base}/service/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });

  const refreshed = await form({ grant_type: 'refresh_token', refresh_token: offline.json.refresh_token, service: 'berth', client_id: 'test', scope: 'repository:priv/app:pull,push repository:other/app:pull' });
  t.equal(refreshed.status, 200);
  t.equal(refreshed.json.refresh_token, offline.json.refresh_token, 'spec: the same refresh token comes back');
  t.equal(refreshed.json.scope, 'repository:priv/app:pull,push');
  t.equal(await pullManifest(base, 'priv/app', 'v1', bearer(refreshed.json.access_token)), 200);

  const password = await form({ grant_type: 'password', username: dev.username, password: dev.password, service: 'berth', client_id: 'containerd', access_type: 'offline', scope: 'repository:priv/app:pull' });
  t.equal(password.status, 200);
  t.type(password.json.refresh_token, 'string');
  t.equal(password.json.expires_in, 900);

  const bad = await form({ grant_type: 'password', username: dev.username, password: 'Wrong-pass-2', service: 'berth', client_id: 'x' });
  t.equal(bad.status, 401);
  t.equal(bad.json.errors[0].code, 'UNAUTHORIZED');
  t.equal((await form({ grant_type: 'refresh_token', refresh_token: 'made-up', client_id: 'x' })).status, 401);
  t.equal((await form({ grant_type: 'authorization_code', client_id: 'x' })).status, 400);
  t.equal((await form({ grant_type: 'password', username: 'dev', password: dev.password, service: 'elsewhere' })).status, 400, 'unknown service');

  // A password change revokes the user's refresh tokens.
  const me = await new AdminApi(base, dev).get('/users/current');
  t.equal((await new AdminApi(base, dev).put(`/users/${me.json.user_id}/password`, { old_password: dev.password, new_password: 'Dev-pass-2' })).status, 200);
  t.equal((await form({ grant_type: 'refresh_token', refresh_token: offline.json.refresh_token, client_id: 'x' })).status, 401, 'revoked');
  t.equal((await tokenReply(base, dev, [])).status, 401, 'the old password no longer works');
  dev.password = 'Dev-pass-2';
  t.equal((await tokenReply(base, dev, [])).status, 200);
});

t.test('malformed scopes are a 400 in the error shape', async (t) => {
  const r = await tokenReply(base, dev, ['repository']);
  t.equal(r.status, 400);
  t.equal(r.json.errors[0].code, 'BAD_REQUEST');
});

t.test('failed logins are throttled per user and per address', async (t) => {
  const limited = await startTokenBerth(t, { BERTH_LOGIN_MAX_FAILURES_PER_USER: '3', BERTH_LOGIN_MAX_FAILURES_PER_ADDRESS: '6' });
  const api = new AdminApi(limited.url, admin);
  await api.createUser('victim', 'Victim-pass-1');
  await api.createUser('bystander', 'Bystander-pass-1');
  for (let i = 0; i < 3; i++) t.equal((await tokenReply(limited.url, { username: 'victim', password: `Guess-${i}-X` }, [])).status, 401);
  const blocked = await tokenReply(limited.url, { username: 'victim', password: 'Victim-pass-1' }, []);
  t.equal(blocked.status, 429, 'even the right password waits once the user is over the limit');
  t.equal(blocked.json.errors[0].code, 'TOOMANYREQUESTS', "the distribution spec's code");
  t.ok(Number(blocked.headers.get('retry-after')) > 0);
  const v2 = await fetch(`${limited.url}/v2/library/x/manifests/v1`, { headers: { Authorization: basic({ username: 'victim', password: 'Victim-pass-1' }) } });
  t.equal(v2.status, 429, 'on /v2 too');
  t.equal((await tokenReply(limited.url, { username: 'bystander', password: 'Bystander-pass-1' }, [])).status, 200, 'other users are not affected');
  for (let i = 0; i < 3; i++) await tokenReply(limited.url, { username: `nobody${i}`, password: 'Guess-1-X' }, []);
  t.equal((await tokenReply(limited.url, { username: 'bystander', password: 'Bystander-pass-1' }, [])).status, 429, 'the address is over its limit now');
  t.notMatch(limited.output(), /Guess-|Victim-pass|Bystander-pass/, 'no password reaches the log');
});

t.test('1,000 wrong guesses from another address do not lock the real user out', async (t) => {
  const { request } = await import('node:http');
  const limited = await startTokenBerth(t, { BERTH_LOGIN_MAX_FAILURES_PER_USER: '3', BERTH_LOGIN_MAX_FAILURES_PER_ADDRESS: '6' });
  await new AdminApi(limited.url, admin).createUser('target', 'Target-pass-1');
  const from = (localAddress: string, password: string) =>
    new Promise<number>((resolve, reject) => {
      const u = new URL(`${limited.url}/service/token?service=berth`);
      const req = request(u, { localAddress, headers: { Authorization: basic({ username: 'target', password }) }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) seen.add(await from('127.0.0.2', `Guess-${i}-X`));
  t.same([...seen].sort(), [401, 429], 'the attacker is refused, then throttled');
  t.equal(await from('127.0.0.1', 'Target-pass-1'), 200, 'the right password from the user\'s own address still works');
});

t.test("Berth's own OCI client (replication, agents) does the token dance against it", async (t) => {
  const { OciClient, OciClientError } = await import('../../core/oci-client.js');
  const { Readable } = await import('node:stream');
  const { image } = await import('../helpers/oci-fixtures.js');
  const img = image({ layers: 1, layerSize: 2048 });
  const client = new OciClient({ baseUrl: base, username: dev.username, password: dev.password });
  for (const b of img.blobs) await client.uploadBlob('priv/client', parseDigest(b.digest), b.size, async () => Readable.from(b.bytes));
  await client.putManifest('priv/client', 'v1', img.manifest.bytes, img.manifest.mediaType);
  t.equal((await client.getManifest('priv/client', 'v1'))?.digest, img.manifest.digest);
  t.same(await client.catalog(), ['priv/app', 'priv/client', 'priv/second', 'pub/app']);
  await t.rejects(client.deleteManifest('priv/client', 'v1'), OciClientError, 'a developer may not delete, through the client too');
  const stranger = new OciClient({ baseUrl: base, username: outsider.username, password: outsider.password });
  await t.rejects(stranger.getManifest('priv/client', 'v1'), OciClientError);
});

t.test('an expired robot is refused and the refusal is audited', async (t) => {
  const robot = await root.createRobot({
    name: 'shortlived',
    level: 'project',
    duration: 1,
    permissions: [{ kind: 'project', namespace: 'priv', access: [{ resource: 'repository', action: 'pull' }] }],
  });
  // Move its expiry into the past, as time would (the robot has not logged in, so nothing remembers it).
  const meta = await SqliteMetaStore.open({ path: join(berth.dataDir, 'meta.db') });
  try {
    const robots = meta.collection<RobotRecord>('robots', { unique: ['name'] });
    const record = (await robots.get(robot.id))!;
    await robots.update({ ...record, expires_at: Math.floor(Date.now() / 1000) - 60 });
  } finally {
    await meta.close();
  }
  const creds = { username: robot.name, password: robot.secret };
  t.equal((await tokenReply(base, creds, ['repository:priv/app:pull'])).status, 401);
  t.equal(await pullManifest(base, 'priv/app', 'v1', basic(creds)), 401);
  const log = await root.get(`/audit-logs?q=${encodeURIComponent(`operation=login,username=${robot.name}`)}`);
  t.match(log.json[0], { resource_type: 'robot', operation_result: false, operation_description: 'robot expired' });
});
