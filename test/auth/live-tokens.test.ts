// An issued token grants no more than its subject may do now: disabling a robot, deleting a user or removing a
// member refuses the token already in hand within ~2 s, not at its expiry. Refusals land in the audit log.
import t from 'tap';
import { admin, AdminApi, basic, bearer, must, pullManifest, pushImage, startTokenBerth, token, type Creds } from './access.js';

const berth = await startTokenBerth(t);
const base = berth.url;
const root = new AdminApi(base, admin);
const gone: Creds = { username: 'gone', password: 'Gone-pass-1' };
const member: Creds = { username: 'member', password: 'Member-pass-1' };
const goneId = await root.createUser(gone.username, gone.password);
await root.createUser(member.username, member.password);
await root.createProject('live', false);
await root.addMember('live', 'gone', 2);
const memberId = await root.addMember('live', 'member', 2);
must((await pushImage(base, 'live/app', 'v1', basic(admin))) === 201, 'seed live/app');
const robot = await root.createRobot({
  name: 'ci',
  level: 'project',
  duration: 30,
  permissions: [{ kind: 'project', namespace: 'live', access: [{ resource: 'repository', action: 'pull' }] }],
});
const robotCreds: Creds = { username: robot.name, password: robot.secret };

/** Polls until `pull` stops answering 200; the milliseconds it took (or Infinity after 5 s). */
async function refusedWithin(pull: () => Promise<number>): Promise<{ ms: number; status: number }> {
  const start = Date.now();
  for (;;) {
    const status = await pull();
    if (status !== 200) return { ms: Date.now() - start, status };
    if (Date.now() - start > 5_000) return { ms: Infinity, status };
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const [what, who, revoke, expected] of [
  ['a disabled robot', robotCreds, () => root.put(`/robots/${robot.id}`, { disable: true }), 401],
  ['a deleted user', gone, () => root.del(`/users/${goneId}`), 401],
  ['a removed member', member, () => root.del(`/projects/live/members/${memberId}`), 403],
] as const) {
  t.test(`the token of ${what} is refused within 2.5 s`, async (t) => {
    const jwt = await token(base, who, ['repository:live/app:pull']);
    t.equal(await pullManifest(base, 'live/app', 'v1', bearer(jwt)), 200, 'the token works before');
    const r = await revoke();
    t.equal(r.status, 200, `revoked: ${r.text}`);
    const refused = await refusedWithin(() => pullManifest(base, 'live/app', 'v1', bearer(jwt)));
    t.equal(refused.status, expected);
    t.ok(refused.ms <= 2_500, `refused after ${refused.ms} ms`);
  });
}

t.test('refused requests are audited with the caller and the outcome', async (t) => {
  const r = await root.get('/audit-logs?page_size=100');
  t.equal(r.status, 200);
  const refusals = (r.json as { username: string; operation: string; operation_result: boolean; resource: string }[]).filter((e) => e.operation_result === false);
  t.ok(refusals.some((e) => e.username === 'member' && e.resource.includes('/v2/live/app/manifests/v1')), 'the removed member\'s 403 is recorded');
  t.ok(refusals.some((e) => e.username === robot.name), 'the disabled robot\'s 401 is recorded');
});
