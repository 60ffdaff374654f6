// Harbor's /system/gc over the online collector, through a real `berth serve`: manual and dry runs with status,
// freed bytes and a log; a Custom cron schedule that fires, and keeps firing after a restart; /system/purgeaudit.
import t from 'tap';
import { AdminApi, ADMIN_PASSWORD, admin, basic, pushImage } from '../auth/access.js';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { image } from '../helpers/oci-fixtures.js';

const auth = basic(admin);
const env = { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD, BERTH_GC_GRACE_SECONDS: '0' };

async function waitRun(api: AdminApi, id: number): Promise<any> {
  const end = Date.now() + 20_000;
  for (;;) {
    const run = (await api.get(`/system/gc/${id}`)).json;
    if (run.job_status !== 'Pending' && run.job_status !== 'Running') return run;
    if (Date.now() > end) throw new Error(`gc run ${id} still ${run.job_status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function manifestStatus(base: string, repo: string, digest: string): Promise<number> {
  const r = await fetch(`${base}/v2/${repo}/manifests/${digest}`, { method: 'HEAD', headers: { Authorization: auth, Accept: 'application/vnd.oci.image.manifest.v1+json' } });
  return r.status;
}

t.test('manual and dry runs; a cron schedule fires and survives a restart', async (t) => {
  let berth: BerthProcess = await startBerth({ env, keepData: true });
  const { dataDir, port } = berth;
  t.teardown(() => berth.stop());
  const api = new AdminApi(berth.url, admin);
  t.same((await api.get('/system/gc/schedule')).json.schedule, { type: 'None', cron: '' });
  const old = image({ layers: 1, layerSize: 5000 });
  t.equal(await pushImage(berth.url, 'library/app', 'v1', auth, old), 201);
  t.equal(await pushImage(berth.url, 'library/app', 'v1', auth, image({ layers: 1, layerSize: 100 })), 201, 'v1 moves: the old image is unreferenced');

  const dry = await api.post('/system/gc/schedule', { schedule: { type: 'Manual' }, parameters: { dry_run: true, delete_untagged: true } });
  t.equal(dry.status, 201, dry.text);
  const dryRun = await waitRun(api, Number(dry.headers.get('location')!.split('/').pop()));
  t.match(dryRun, { job_name: 'GARBAGE_COLLECTION', job_kind: 'MANUAL', job_status: 'Success', schedule: { type: 'Manual' } });
  t.equal(JSON.parse(dryRun.job_parameters).dry_run, true);
  const dryLog = await (await fetch(`${berth.url}/api/v2.0/system/gc/${dryRun.id}/log`, { headers: { Authorization: auth } })).text();
  t.match(dryLog, /dry run: would delete 1 manifests/);
  t.equal(await manifestStatus(berth.url, 'library/app', old.manifest.digest), 200, 'a dry run deletes nothing');

  // delete_untagged false: the untagged image stays, with its layer.
  const keep = await api.post('/system/gc/schedule', { schedule: { type: 'Manual' }, parameters: { dry_run: false, delete_untagged: false } });
  const kept = await waitRun(api, Number(keep.headers.get('location')!.split('/').pop()));
  t.equal(kept.job_status, 'Success');
  const keptLog = await (await fetch(`${berth.url}/api/v2.0/system/gc/${kept.id}/log`, { headers: { Authorization: auth } })).text();
  t.match(keptLog, /deleted 0 manifests[\s\S]*untagged manifests kept/, 'the log says untagged manifests were kept');
  t.equal(await manifestStatus(berth.url, 'library/app', old.manifest.digest), 200, 'delete_untagged false keeps the untagged manifest');
  const layer = await fetch(`${berth.url}/v2/library/app/blobs/${old.blobs[old.blobs.length - 1]!.digest}`, { method: 'HEAD', headers: { Authorization: auth } });
  t.equal(layer.status, 200, 'and the layer it references');

  const real = await api.post('/system/gc/schedule', { schedule: { type: 'Manual' }, parameters: { dry_run: false } });
  const run = await waitRun(api, Number(real.headers.get('location')!.split('/').pop()));
  t.equal(run.job_status, 'Success');
  t.ok(JSON.parse(run.job_parameters).freed_space >= 5000, 'freed bytes are reported');
  t.equal(await manifestStatus(berth.url, 'library/app', old.manifest.digest), 404, 'the unreferenced manifest is gone');
  t.equal((await api.get('/system/gc?page_size=10')).json.length, 3, 'history');
  t.equal((await api.get('/system/gc/999')).status, 404);

  t.equal((await api.put('/system/gc/schedule', { schedule: { type: 'Custom', cron: 'not a cron' } })).status, 400);
  t.equal((await api.put('/system/gc/schedule', { schedule: { type: 'Custom', cron: '*/2 * * * * *' }, parameters: { dry_run: true } })).status, 200);
  const shown = (await api.get('/system/gc/schedule')).json;
  t.match(shown, { schedule: { type: 'Custom', cron: '*/2 * * * * *', next_scheduled_time: String }, parameters: { dry_run: true } });
  const scheduled = async (a: AdminApi) => ((await a.get('/system/gc?page_size=100')).json as any[]).filter((r) => r.job_kind === 'SCHEDULE');
  const end = Date.now() + 15_000;
  while ((await scheduled(api)).length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
  t.ok((await scheduled(api)).length >= 1, 'the schedule fired');

  await berth.stop();
  const before = (await scheduled(new AdminApi(`http://127.0.0.1:${port}`, admin)).catch(() => [])).length;
  berth = await startBerth({ env, dataDir, port });
  const again = new AdminApi(berth.url, admin);
  const firstCount = (await scheduled(again)).length;
  t.ok(firstCount >= before);
  const end2 = Date.now() + 15_000;
  while ((await scheduled(again)).length <= firstCount && Date.now() < end2) await new Promise((r) => setTimeout(r, 200));
  t.ok((await scheduled(again)).length > firstCount, 'it fires after a restart too');
  t.equal((await again.put('/system/gc/schedule', { schedule: { type: 'None' } })).status, 200);
  t.same((await again.get('/system/gc/schedule')).json.schedule, { type: 'None', cron: '' });
});

t.test('audit-log purge: by age and operation, dry run first', async (t) => {
  const berth = await startBerth({ env });
  t.teardown(() => berth.stop());
  const api = new AdminApi(berth.url, admin);
  for (const name of ['pa', 'pb', 'pc']) t.equal((await api.post('/projects', { project_name: name })).status, 201);
  t.equal((await api.del('/projects/pc')).status, 200);
  const count = async (q = '') => Number((await api.get(`/audit-logs?page_size=1${q}`)).headers.get('x-total-count'));
  const total = await count();
  const deletes = await count('&q=operation%3Ddelete');
  t.ok(total >= 4 && deletes === 1, `${total} entries, ${deletes} delete`);
  const waitPurge = async (id: number) => {
    for (;;) {
      const x = (await api.get(`/system/purgeaudit/${id}`)).json;
      if (x.job_status !== 'Pending' && x.job_status !== 'Running') return x;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const start = async (parameters: object) => {
    const r = await api.post('/system/purgeaudit/schedule', { schedule: { type: 'Manual' }, parameters });
    t.equal(r.status, 201, r.text);
    return waitPurge(Number(r.headers.get('location')!.split('/').pop()));
  };
  const dry = await start({ audit_retention_hour: 0, include_operations: 'delete', dry_run: true });
  t.match(dry, { job_name: 'PURGE_AUDIT_LOG', job_status: 'Success' });
  t.equal(JSON.parse(dry.job_parameters).purged_entries, 1);
  t.equal(await count('&q=operation%3Ddelete'), 1, 'a dry run keeps the entry');
  const byOp = await start({ audit_retention_hour: 0, include_operations: 'delete' });
  t.equal(JSON.parse(byOp.job_parameters).purged_entries, 1);
  t.equal(await count('&q=operation%3Ddelete'), 0, 'the delete entry went');
  t.ok((await count('&q=operation%3Dcreate')) >= 3, 'create entries stay');
  const keepRecent = await start({ audit_retention_hour: 1 });
  t.equal(JSON.parse(keepRecent.job_parameters).purged_entries, 0, 'nothing is older than an hour');
  const log = await (await fetch(`${berth.url}/api/v2.0/system/purgeaudit/${byOp.id}/log`, { headers: { Authorization: auth } })).text();
  t.match(log, /purged 1 audit log entries older than 0 h \(operations delete\)/);
  t.match(log, /expired refresh tokens/);
  t.equal((await api.put('/system/purgeaudit/schedule', { schedule: { type: 'Daily' }, parameters: { audit_retention_hour: 168 } })).status, 200);
  t.match((await api.get('/system/purgeaudit/schedule')).json, { schedule: { type: 'Daily', cron: '0 0 0 * * *' }, parameters: { audit_retention_hour: 168 } });
});
