// First start and the auth modes: the generated admin password is shown once (stderr) and never logged,
// BERTH_ADMIN_PASSWORD is checked, token auth is the default, and BERTH_AUTH=none keeps /v2 wide open.
import t from 'tap';
import { startBerth } from '../helpers/berth-process.js';
import { AdminApi, http, pullManifest, pushImage } from './access.js';

t.test('without BERTH_ADMIN_PASSWORD a password is generated, printed once, never logged', async (t) => {
  const first = await startBerth({ env: { BERTH_AUTH: '', BERTH_LOG_LEVEL: 'info' }, keepData: true });
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await first.stop();
  });
  const lines = first.output().split('\n').filter((l) => l.includes('created user "admin" with password'));
  t.equal(lines.length, 1, 'printed once');
  const password = /with password (\S+)/.exec(lines[0]!)![1]!;
  t.match(password, /^(?=.*[A-Z])(?=.*[a-z])(?=.*\d).{24}$/);
  const me = await new AdminApi(first.url, { username: 'admin', password }).get('/users/current');
  t.equal(me.status, 200, 'the printed password works');
  t.equal(me.json.sysadmin_flag, true);
  t.equal((await http(`${first.url}/v2/`)).status, 401, 'token auth is the default');
  const logLines = first.output().split('\n').filter((l) => l.startsWith('{'));
  t.ok(logLines.length > 0);
  t.notOk(logLines.some((l) => l.includes(password)), 'the JSON log never holds it');

  await first.stop();
  stopped = true;
  const again = await startBerth({ env: { BERTH_AUTH: 'token', BERTH_LOG_LEVEL: 'info' }, dataDir: first.dataDir });
  t.teardown(() => again.stop());
  t.notMatch(again.output(), /created user "admin"/, 'a restart makes no new password');
  t.equal((await new AdminApi(again.url, { username: 'admin', password }).get('/users/current')).status, 200, 'the first one still works');
  t.equal((await new AdminApi(again.url).get('/projects')).json.length, 1, 'library exists once');
});

t.test('a weak BERTH_ADMIN_PASSWORD stops the start with a message naming it', async (t) => {
  await t.rejects(startBerth({ env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: 'short' } }), /admin_password \(BERTH_ADMIN_PASSWORD\): must be 8 to 128/);
});

t.test('BERTH_ADMIN_PASSWORD is used as given and appears in no output', async (t) => {
  const berth = await startBerth({ env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: 'Given-Secret-77', BERTH_LOG_LEVEL: 'debug' } });
  t.teardown(() => berth.stop());
  const api = new AdminApi(berth.url, { username: 'admin', password: 'Given-Secret-77' });
  t.equal((await api.get('/users/current')).status, 200);
  await fetch(`${berth.url}/service/token?service=berth&scope=repository:library/x:pull`, { headers: { Authorization: `Basic ${Buffer.from('admin:Given-Secret-77').toString('base64')}` } });
  await fetch(`${berth.url}/service/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&username=admin&password=Given-Secret-77&client_id=t' });
  t.notMatch(berth.output(), /Given-Secret-77/, 'not in the output, even at debug level');
});

t.test('BERTH_AUTH=none: no project checks, any name, no credentials; admin API open', async (t) => {
  const berth = await startBerth({ env: { BERTH_AUTH: 'none' } });
  t.teardown(() => berth.stop());
  t.equal((await http(`${berth.url}/v2/`)).status, 200);
  t.equal(await pushImage(berth.url, 'plain', 'v1', undefined), 201, 'a single-component name, no project');
  t.equal(await pushImage(berth.url, 'no/such/project', 'v1', undefined), 201);
  t.equal(await pullManifest(berth.url, 'plain', 'v1', undefined), 200);
  t.equal((await http(`${berth.url}/v2/_catalog`)).json.repositories.length, 2);
  t.equal((await http(`${berth.url}/service/token`)).status, 404, 'no token service');
  t.notMatch(berth.output(), /created user "admin"/, 'no admin password is made up');
  const users = await new AdminApi(berth.url).get('/users');
  t.equal(users.status, 200, 'the admin API has no checks either');
  t.same(users.json, []);
  const audit = await new AdminApi(berth.url).get('/audit-logs');
  t.same(audit.json, [], '/v2 is not audited in this mode');
});
