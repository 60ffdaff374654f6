// Webhooks through real `berth serve` processes and receivers on loopback: Harbor's policy API, the default and
// CloudEvents payloads with the auth header, push/pull/delete/quota events in order per target, no event lost
// across a kill -9 of berth, and a hanging receiver that does not slow pushes (measured).
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { AdminApi, admin, basic, pushImage, startTokenBerth, ADMIN_PASSWORD } from '../auth/access.js';
import { startBerth } from '../helpers/berth-process.js';
import { image } from '../helpers/oci-fixtures.js';
import { makeTestCa } from '../helpers/test-ca.js';

const auth = basic(admin);

interface Received {
  headers: IncomingMessage['headers'];
  body: any;
}

/** A receiver on 127.0.0.1 that records every POST; `hang` keeps requests open without answering. */
async function receiver(opts: { hang?: boolean } = {}): Promise<{ url: string; got: Received[]; close: () => Promise<void> }> {
  const got: Received[] = [];
  const held: import('node:http').ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      if (opts.hang) {
        held.push(res);
        return;
      }
      got.push({ headers: req.headers, body: JSON.parse(data) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    close: async () => {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function until(fn: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const policy = (name: string, targets: object[], event_types: string[]) => ({ name, targets, event_types, enabled: true });

t.test('policies in Harbor shape; every event reaches each target once, in order, in its format', async (t) => {
  const berth = await startTokenBerth(t);
  const root = new AdminApi(berth.url, admin);
  t.equal((await root.post('/projects', { project_name: 'hooks', storage_limit: 200_000 })).status, 201);
  const plain = await receiver();
  const cloud = await receiver();
  t.teardown(() => Promise.all([plain.close(), cloud.close()]));
  const made = await root.post('/projects/hooks/webhook/policies', policy('all', [
    { type: 'http', address: plain.url, auth_header: 'Bearer s3cret', skip_cert_verify: false },
    { type: 'http', address: cloud.url, payload_format: 'CloudEvents' },
  ], ['PUSH_ARTIFACT', 'PULL_ARTIFACT', 'DELETE_ARTIFACT', 'QUOTA_EXCEED']));
  t.equal(made.status, 201, made.text);
  const id = Number(made.headers.get('location')!.split('/').pop());
  t.equal((await root.post('/projects/hooks/webhook/policies', policy('all', [{ address: plain.url }], ['PUSH_ARTIFACT']))).status, 409, 'names are unique in a project');
  t.equal((await root.post('/projects/hooks/webhook/policies', policy('bad', [{ address: plain.url }], ['SCANNING_FAILED']))).status, 400, 'an unsupported event type is refused');
  const shown = (await root.get(`/projects/hooks/webhook/policies/${id}`)).json;
  t.equal(shown.targets[0].auth_header, '*****', 'the auth header is masked');
  t.same(shown.event_types, ['PUSH_ARTIFACT', 'PULL_ARTIFACT', 'DELETE_ARTIFACT', 'QUOTA_EXCEED']);
  t.match((await root.get('/projects/hooks/webhook/events')).json, { event_type: ['PUSH_ARTIFACT', 'PULL_ARTIFACT', 'DELETE_ARTIFACT', 'QUOTA_EXCEED', 'QUOTA_WARNING', 'REPLICATION', 'TAG_RETENTION'] });

  const imgs = [0, 1, 2].map(() => image({ layers: 1, layerSize: 300 }));
  for (const [i, img] of imgs.entries()) t.equal(await pushImage(berth.url, 'hooks/app', `v${i}`, auth, img), 201);
  const pulled = await fetch(`${berth.url}/v2/hooks/app/manifests/v1`, { headers: { Authorization: auth, Accept: imgs[1]!.manifest.mediaType } });
  await pulled.arrayBuffer();
  const del = await fetch(`${berth.url}/v2/hooks/app/manifests/${imgs[0]!.manifest.digest}`, { method: 'DELETE', headers: { Authorization: auth } });
  t.equal(del.status, 202);
  t.equal(await pushImage(berth.url, 'hooks/app', 'big', auth, image({ layers: 1, layerSize: 300_000 })), 403, 'over quota');

  await until(() => plain.got.length >= 6 && cloud.got.length >= 6);
  await new Promise((r) => setTimeout(r, 500)); // nothing more arrives
  const kinds = (r: Received[]) => r.map((x) => `${x.body.type}:${x.body.event_data?.resources?.[0]?.tag ?? ''}`);
  t.same(kinds(plain.got).filter((k) => !k.startsWith('PULL') && !k.startsWith('QUOTA')), ['PUSH_ARTIFACT:v0', 'PUSH_ARTIFACT:v1', 'PUSH_ARTIFACT:v2', 'DELETE_ARTIFACT:'], 'outbox events in order, once each');
  const order = ['PUSH_ARTIFACT', 'PUSH_ARTIFACT', 'PUSH_ARTIFACT', 'PULL_ARTIFACT', 'DELETE_ARTIFACT', 'QUOTA_EXCEED'];
  t.same(plain.got.map((x) => x.body.type), order, 'outbox and direct events interleaved in the order they happened');
  t.same(cloud.got.map((x) => x.body.type), ['pushed', 'pushed', 'pushed', 'pulled', 'deleted'].map((k) => `harbor.artifact.${k}`).concat('harbor.quota.exceed'));
  t.equal(plain.got.filter((x) => x.body.type === 'PULL_ARTIFACT').length, 1, 'one pull');
  t.equal(plain.got.filter((x) => x.body.type === 'QUOTA_EXCEED').length, 1, 'one quota refusal');
  t.equal(plain.got.length, 6);
  const push = plain.got[0]!;
  t.equal(push.headers.authorization, 'Bearer s3cret', 'the auth header is sent');
  t.equal(push.headers['content-type'], 'application/json');
  t.match(push.body, { type: 'PUSH_ARTIFACT', operator: String, occur_at: Number, event_data: { resources: [{ digest: imgs[0]!.manifest.digest, tag: 'v0', resource_url: /hooks\/app:v0$/ }], repository: { name: 'app', namespace: 'hooks', repo_full_name: 'hooks/app', repo_type: 'private' } } });
  const pull = plain.got.find((x) => x.body.type === 'PULL_ARTIFACT')!;
  t.equal(pull.body.operator, 'admin');
  t.equal(cloud.got.length, 6);
  const ce = cloud.got[0]!;
  t.equal(ce.headers['content-type'], 'application/cloudevents+json');
  t.match(ce.body, { specversion: '1.0', id: String, type: 'harbor.artifact.pushed', source: `/projects/${shown.project_id}/webhook/policies/${id}`, data: { repository: { repo_full_name: 'hooks/app' } } });
  t.equal(new Set(cloud.got.map((x) => x.body.id)).size, 6, 'distinct CloudEvents ids');

  const executions = (await root.get(`/projects/hooks/webhook/policies/${id}/executions?page_size=100`)).json;
  t.equal(executions.length, 12, 'one execution per event and target');
  t.ok(executions.every((e: any) => e.status === 'Success' && e.vendor_type === 'WEBHOOK'));
  const tasks = (await root.get(`/projects/hooks/webhook/policies/${id}/executions/${executions[0].id}/tasks`)).json;
  t.match(tasks, [{ status: 'Success', run_count: 1 }]);
  const log = await fetch(`${berth.url}/api/v2.0/projects/hooks/webhook/policies/${id}/executions/${executions[0].id}/tasks/${tasks[0].id}/log`, { headers: { Authorization: auth } });
  t.match(await log.text(), /Success after 1 attempt/);
  const last = (await root.get('/projects/hooks/webhook/lasttrigger')).json;
  t.ok(last.find((x: any) => x.event_type === 'PUSH_ARTIFACT' && x.last_trigger_time), 'last trigger of pushes');
  t.equal((await root.del(`/projects/hooks/webhook/policies/${id}`)).status, 200);
});

t.test('kill -9 of berth loses no event: every push arrives, in order', async (t) => {
  const got = await receiver();
  t.teardown(() => got.close());
  const env = { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD };
  let berth = await startBerth({ env, keepData: true });
  const { dataDir, port } = berth;
  const root = () => new AdminApi(`http://127.0.0.1:${port}`, admin);
  t.equal((await root().post('/projects', { project_name: 'crash' })).status, 201);
  t.equal((await root().post('/projects/crash/webhook/policies', policy('p', [{ address: got.url }], ['PUSH_ARTIFACT']))).status, 201);
  const tags: string[] = [];
  for (let i = 0; i < 15; i++) {
    t.equal(await pushImage(berth.url, 'crash/app', `t${i}`, auth, image({ layers: 1, layerSize: 100 })), 201);
    tags.push(`t${i}`);
  }
  await berth.kill(); // SIGKILL: some events delivered, some not yet
  const before = got.got.length;
  berth = await startBerth({ env, dataDir, port, keepData: true });
  t.teardown(() => berth.stop());
  for (let i = 15; i < 25; i++) {
    t.equal(await pushImage(berth.url, 'crash/app', `t${i}`, auth, image({ layers: 1, layerSize: 100 })), 201);
    tags.push(`t${i}`);
  }
  const ids = () => new Set(got.got.map((x) => x.headers['berth-event-id']));
  await until(() => ids().size >= 25, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  t.comment(`${before} delivered before the kill, ${got.got.length} requests in all for 25 events`);
  const firstSeen: string[] = [];
  for (const x of got.got) {
    const tag = x.body.event_data.resources[0].tag as string;
    if (!firstSeen.includes(tag)) firstSeen.push(tag);
  }
  t.same(firstSeen, tags, 'every event, in push order');
  t.ok(got.got.length - 25 <= 1, `at most the one in flight at the kill is sent twice (with its event id): ${got.got.length - 25}`);
});

t.test('a hanging receiver does not slow pushes', async (t) => {
  const hang = await receiver({ hang: true });
  const healthy = await receiver();
  const calm = await receiver();
  t.teardown(() => Promise.all([hang.close(), healthy.close(), calm.close()]));
  const berth = await startTokenBerth(t);
  const root = new AdminApi(berth.url, admin);
  for (const p of ['quiet', 'calm', 'hung']) t.equal((await root.post('/projects', { project_name: p })).status, 201);
  // The same delivery work on both sides; only `hung` has a receiver that never answers.
  t.equal((await root.post('/projects/calm/webhook/policies', policy('c', [{ address: calm.url }], ['PUSH_ARTIFACT']))).status, 201);
  t.equal((await root.post('/projects/hung/webhook/policies', policy('h', [{ address: hang.url }, { address: healthy.url }], ['PUSH_ARTIFACT']))).status, 201);
  const ms: Record<string, number[]> = { quiet: [], calm: [], hung: [] };
  const N = 40;
  for (let i = 0; i < N; i++) {
    // Interleaved, so load from elsewhere on the machine falls on all three alike.
    for (const project of ['quiet', 'calm', 'hung']) {
      const img = image({ layers: 1, layerSize: 1000 });
      const start = performance.now();
      if ((await pushImage(berth.url, `${project}/app`, `t${i}`, auth, img)) !== 201) throw new Error('push failed');
      ms[project]!.push(performance.now() - start);
    }
  }
  const stat = (xs: number[]) => {
    const s = [...xs].slice(5).sort((a, b) => a - b); // the first few warm up
    return { median: s[Math.floor(s.length / 2)]!, p90: s[Math.floor(s.length * 0.9)]! };
  };
  const [quiet, withoutHang, withHang] = [stat(ms.quiet!), stat(ms.calm!), stat(ms.hung!)];
  t.comment(`push (blob POST x2 + manifest PUT), median / p90 ms: no webhook ${quiet.median.toFixed(1)} / ${quiet.p90.toFixed(1)}; healthy receiver ${withoutHang.median.toFixed(1)} / ${withoutHang.p90.toFixed(1)}; hanging receiver (+ a healthy one) ${withHang.median.toFixed(1)} / ${withHang.p90.toFixed(1)}`);
  t.ok(withHang.median < withoutHang.median * 1.5 + 5, 'the median push with a hanging receiver is not slower than with a healthy one');
  await until(() => healthy.got.length >= N && calm.got.length >= N, 30_000);
  t.pass('the healthy target of the same policy got every event while the other hangs');
});

t.test('an HTTPS receiver with an untrusted certificate: refused unless skip_cert_verify', async (t) => {
  const ca = await makeTestCa('Untrusted Hook CA');
  const { certFile, keyFile } = await ca.issue('127.0.0.1');
  const got: string[] = [];
  const server = createHttpsServer({ cert: await readFile(certFile), key: await readFile(keyFile) }, (req, res) => {
    got.push(String(req.headers['berth-event-id']));
    req.resume();
    res.writeHead(200).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const berth = await startTokenBerth(t);
  const root = new AdminApi(berth.url, admin);
  for (const p of ['strict', 'lax']) t.equal((await root.post('/projects', { project_name: p })).status, 201);
  const strict = await root.post('/projects/strict/webhook/policies', policy('s', [{ address: url }], ['PUSH_ARTIFACT']));
  t.equal((await root.post('/projects/lax/webhook/policies', policy('l', [{ address: url, skip_cert_verify: true }], ['PUSH_ARTIFACT']))).status, 201);
  t.equal(await pushImage(berth.url, 'strict/app', 'v1', auth), 201);
  t.equal(await pushImage(berth.url, 'lax/app', 'v1', auth), 201);
  await until(() => got.length >= 1);
  const sid = Number(strict.headers.get('location')!.split('/').pop());
  let execs: any[] = [];
  await until(() => false, 1500).catch(() => undefined);
  execs = (await root.get(`/projects/strict/webhook/policies/${sid}/executions`)).json;
  t.equal(got.length, 1, 'only the skip_cert_verify target was delivered');
  t.match(execs[0], { status: 'Running', status_message: /certificate|self.signed|verify/i }, 'the verifying target retries, saying why');
});
