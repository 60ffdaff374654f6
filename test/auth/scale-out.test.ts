// Access control on the Redis MetaStore with two `berth serve` instances sharing it (and one S3 bucket), as
// behind a load balancer: one admin and one library between them, one signing key, a token from either works on
// both, users/projects/robots made through one are honoured by the other, and the audit log is shared.
import t from 'tap';
import { startBerth } from '../helpers/berth-process.js';
import { startSharedStores } from '../helpers/shared-stores.js';
import { ADMIN_PASSWORD, admin, AdminApi, basic, bearer, decodeJwt, http, pullManifest, pushImage, token, type Creds } from './access.js';

const stores = await startSharedStores({ durable: false });
t.teardown(() => stores.stop());
const env = { ...stores.env(), BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD };
// Both at once: bootstrap races on the shared store and must still leave one admin, one library, one key.
const [a, b] = await Promise.all([startBerth({ env }), startBerth({ env })]);
t.teardown(() => Promise.all([a.stop(), b.stop()]));

t.test('one admin, one library, one signing key between the two', async (t) => {
  const users = await new AdminApi(b.url, admin).get('/users');
  t.same(users.json.map((u: { username: string }) => u.username), ['admin']);
  t.same((await new AdminApi(a.url).get('/projects')).json.map((p: { name: string }) => p.name), ['library']);
  const ka = (await http(`${a.url}/service/jwks.json`)).json.keys.map((k: { kid: string }) => k.kid);
  const kb = (await http(`${b.url}/service/jwks.json`)).json.keys.map((k: { kid: string }) => k.kid);
  t.equal(ka.length, 1);
  t.same(kb, ka);
});

t.test('what one instance creates and signs, the other honours', async (t) => {
  const viaA = new AdminApi(a.url, admin);
  const dev: Creds = { username: 'dev', password: 'Dev-pass-1' };
  await viaA.createUser(dev.username, dev.password);
  await viaA.createProject('team', false);
  await viaA.addMember('team', 'dev', 2);

  const tok = await token(a.url, dev, ['repository:team/app:pull,push']);
  t.same(decodeJwt(tok).payload.access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
  t.equal(await pushImage(b.url, 'team/app', 'v1', bearer(tok)), 201, "a's token pushes through b");
  t.equal(await pullManifest(a.url, 'team/app', 'v1', basic(dev)), 200);

  const robot = await new AdminApi(b.url, admin).createRobot({
    name: 'ci',
    level: 'project',
    duration: -1,
    permissions: [{ kind: 'project', namespace: 'team', access: [{ resource: 'repository', action: 'pull' }] }],
  });
  t.equal(await pullManifest(a.url, 'team/app', 'v1', basic({ username: robot.name, password: robot.secret })), 200, "b's robot pulls through a");
  t.equal(await pushImage(a.url, 'team/app', 'robot', basic({ username: robot.name, password: robot.secret })), 403);

  const pushes = await new AdminApi(b.url, admin).get('/audit-logs?q=operation=push');
  t.match(pushes.json, [{ username: 'dev', resource: 'team/app:v1' }], 'the push through b, seen from b');
  const fromA = await viaA.get(`/audit-logs?q=${encodeURIComponent('operation=create,resource_type=robot')}`);
  t.match(fromA.json, [{ username: 'admin', resource: 'robot$team+ci' }], 'the robot made on b, seen from a');
});
