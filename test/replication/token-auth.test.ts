import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OciClient } from '../../core/oci-client.js';
import { addPolicy, addRegistry, api, pushImage, startExecution, startIdc, waitExecution, waitFor } from '../helpers/idc.js';

const PASSWORD = 'Replication-Admin-1';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const admin = basic('admin', PASSWORD);

t.test('with token auth: system admins only, credentials sealed at rest, the destination project is created', async (t) => {
  const env = { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: PASSWORD };
  const [a, b] = await Promise.all([startIdc('a', { env }), startIdc('b', { env })]);
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  t.equal((await api(a.url, 'GET', '/registries')).status, 401, 'anonymous callers are refused');
  t.equal((await api(a.url, 'GET', '/replication/policies', undefined, basic('admin', 'wrong'))).status, 401, 'wrong passwords too');
  t.equal((await api(a.url, 'GET', '/registries', undefined, admin)).status, 200, 'a system admin is served');

  const reg = await addRegistry(a.url, 'b', b.url, 'berth', { access_key: 'admin', access_secret: PASSWORD }, admin);
  const shown = await api(a.url, 'GET', `/registries/${reg}`, undefined, admin);
  t.equal(shown.body.credential.access_secret, '*****', 'the secret is never shown');
  t.equal(shown.body.idc, 'b', 'the peer was asked for its IDC with the credential');
  // Sealed at rest: the password is nowhere in the MetaStore's files.
  const db = Buffer.concat(
    await Promise.all(['meta.db', 'meta.db-wal'].map((f) => readFile(join(a.dataDir, f)).catch(() => Buffer.alloc(0)))),
  );
  t.equal(db.indexOf(PASSWORD), -1, 'the registry password is not stored in clear');
  t.ok(db.indexOf('"access_secret_enc":"v1.') >= 0, 'it is stored sealed');

  await addPolicy(a.url, { name: 'a-to-b', dest: reg }, admin);
  t.equal((await api(b.url, 'GET', '/projects/team', undefined, admin)).status, 404, 'b has no project team yet');
  t.equal((await api(a.url, 'POST', '/projects', { project_name: 'team', metadata: { public: 'false' } }, admin)).status, 201);
  const client = new OciClient({ baseUrl: a.url, username: 'admin', password: PASSWORD });
  const img = await pushImage(a.url, 'team/app', 'v1', { client, layers: 2 });

  const onB = new OciClient({ baseUrl: b.url, username: 'admin', password: PASSWORD });
  await waitFor(async () => (await onB.headManifest('team/app', 'v1'))?.digest === img.digest, 30_000, 200);
  t.pass('the image reached b through the token dance');
  const project = await api(b.url, 'GET', '/projects/team', undefined, admin);
  t.equal(project.status, 200, 'the destination project was created');
  t.equal(String(project.body.metadata?.public), 'false', 'private');
  const anonymous = new OciClient({ baseUrl: b.url });
  await t.rejects(anonymous.headManifest('team/app', 'v1'), 'anonymous pulls are refused at b');

  t.ok(await client.deleteManifest('team/app', 'v1'), 'deleted at a');
  await waitFor(async () => (await onB.headManifest('team/app', 'v1')) === undefined, 30_000, 200);
  t.pass('the delete reached b');
});

t.test('with token auth: a pull policy writes into the local registry as the system and creates the project', async (t) => {
  const [a, b] = await Promise.all([startIdc('a', { env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: PASSWORD } }), startIdc('b')]);
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });
  const img = await pushImage(b.url, 'upstream/app', 'v1', { layers: 2 });
  const reg = await addRegistry(a.url, 'b', b.url, 'berth', undefined, admin);
  const policy = await addPolicy(a.url, { name: 'pull-from-b', src: reg, trigger: 'manual' }, admin);
  const exec = await waitExecution(a.url, await startExecution(a.url, policy, admin), 30_000, admin);
  t.equal(exec.status, 'Succeed', `execution succeeded (${JSON.stringify(exec)})`);

  const asAdmin = new OciClient({ baseUrl: a.url, username: 'admin', password: PASSWORD });
  t.equal((await asAdmin.headManifest('upstream/app', 'v1'))?.digest, img.digest, 'the image arrived in a');
  const project = await api(a.url, 'GET', '/projects/upstream', undefined, admin);
  t.equal(project.status, 200, 'the local project was created');
  t.equal(String(project.body.metadata?.public), 'false', 'private');
  await t.rejects(new OciClient({ baseUrl: a.url }).headManifest('upstream/app', 'v1'), 'anonymous pulls are refused at a');
  const logs = await api(a.url, 'GET', '/audit-logs?q=operation%3Dpush', undefined, admin);
  t.ok((logs.body as { username: string }[]).some((l) => l.username === 'berth-replicator'), 'the audit log names the replicator as the pusher');
});
