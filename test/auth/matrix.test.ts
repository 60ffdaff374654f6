// The whole role × action matrix through real HTTP: seven callers (anonymous, a signed-in non-member, a system
// admin, and one user per Harbor role id) × a public and a private project × pull, push, delete (through the
// token flow and with Basic credentials directly on /v2), list members, manage members, manage robots.
import t from 'tap';
import { admin, AdminApi, basic, bearer, decodeJwt, deleteTag, must, pullManifest, pushImage, startTokenBerth, tokenReply, type Creds } from './access.js';

const berth = await startTokenBerth(t);
const base = berth.url;
const root = new AdminApi(base, admin);

type Who = 'anonymous' | 'outsider' | 'sysadmin' | 'projectAdmin' | 'developer' | 'guest' | 'maintainer' | 'limitedGuest';
type Action = 'pull' | 'push' | 'delete' | 'list members' | 'manage members' | 'manage robots';
const roleIds: Partial<Record<Who, number>> = { projectAdmin: 1, developer: 2, guest: 3, maintainer: 4, limitedGuest: 5 };
const everyone: Who[] = ['anonymous', 'outsider', 'sysadmin', 'projectAdmin', 'maintainer', 'developer', 'guest', 'limitedGuest'];
const actions: Action[] = ['pull', 'push', 'delete', 'list members', 'manage members', 'manage robots'];

// Harbor's matrix (issue 3), plus: public projects let anyone pull; system admins may do everything.
const allowedRoles: Record<Action, Who[]> = {
  pull: ['sysadmin', 'projectAdmin', 'maintainer', 'developer', 'guest', 'limitedGuest'],
  push: ['sysadmin', 'projectAdmin', 'maintainer', 'developer'],
  delete: ['sysadmin', 'projectAdmin', 'maintainer'],
  'list members': ['sysadmin', 'projectAdmin', 'maintainer', 'developer', 'guest'],
  'manage members': ['sysadmin', 'projectAdmin'],
  'manage robots': ['sysadmin', 'projectAdmin'],
};
function expected(who: Who, action: Action, isPublic: boolean): boolean {
  return allowedRoles[action].includes(who) || (isPublic && action === 'pull');
}

const creds: Partial<Record<Who, Creds>> = {};
for (const who of everyone) {
  if (who === 'anonymous') continue;
  creds[who] = { username: `u-${who.toLowerCase()}`, password: `Pass-${who}-1` };
  await root.createUser(creds[who]!.username, creds[who]!.password);
}
await root.createUser('spare', 'Spare-pass-1');
const sysadminId = Number((await root.get(`/users/search?username=u-sysadmin`)).json[0].user_id);
must((await root.put(`/users/${sysadminId}/sysadmin`, { sysadmin_flag: true })).status === 200, 'make u-sysadmin a system admin');

const projects = [
  { name: 'pubproj', isPublic: true },
  { name: 'privproj', isPublic: false },
];
for (const p of projects) {
  await root.createProject(p.name, p.isPublic);
  for (const [who, role] of Object.entries(roleIds)) await root.addMember(p.name, creds[who as Who]!.username, role);
  must((await pushImage(base, `${p.name}/app`, 'seed', basic(admin))) === 201, `admin seeds ${p.name}/app:seed`);
}

const scopeActions: Record<'pull' | 'push' | 'delete', string> = { pull: 'pull', push: 'pull,push', delete: 'delete' };
const verified: string[] = [];

/** Performs `action` as `who`, through the token flow (`via: token`) or Basic on /v2 / the admin API. */
async function attempt(who: Who, action: Action, project: string, via: 'token' | 'basic'): Promise<number> {
  const c = creds[who];
  const repo = `${project}/app`;
  const tag = `${action}-${who.toLowerCase()}-${via}`;
  if (action === 'pull' || action === 'push' || action === 'delete') {
    if (action === 'delete') t.equal(await pushImage(base, repo, tag, basic(admin)), 201, 'a tag to delete');
    let auth: string | undefined = c && basic(c);
    if (via === 'token') {
      const r = await tokenReply(base, c, [`repository:${repo}:${scopeActions[action]}`]);
      t.equal(r.status, 200, 'the token service answers every caller with valid or no credentials');
      const granted = decodeJwt(r.json.token).payload.access.flatMap((e: { actions: string[] }) => e.actions);
      t.equal(granted.includes(action), expected(who, action, projects.find((p) => p.name === project)!.isPublic), `token grants ${action}: ${granted.join(',') || 'nothing'}`);
      auth = bearer(r.json.token);
    }
    if (action === 'pull') return pullManifest(base, repo, 'seed', auth);
    if (action === 'push') return pushImage(base, repo, tag, auth);
    return deleteTag(base, repo, tag, auth);
  }
  const api = new AdminApi(base, c);
  if (action === 'list members') return (await api.get(`/projects/${project}/members`)).status;
  if (action === 'manage members') {
    const r = await api.post(`/projects/${project}/members`, { role_id: 3, member_user: { username: 'spare' } });
    if (r.status === 201) t.equal((await root.del(r.headers.get('location')!.replace('/api/v2.0', ''))).status, 200, 'cleanup');
    return r.status;
  }
  const r = await api.post('/robots', {
    name: `bot-${who.toLowerCase()}`,
    level: 'project',
    duration: -1,
    permissions: [{ kind: 'project', namespace: project, access: [{ resource: 'repository', action: 'pull' }] }],
  });
  return r.status;
}

const okStatus: Record<Action, number> = { pull: 200, push: 201, delete: 202, 'list members': 200, 'manage members': 201, 'manage robots': 201 };

for (const p of projects) {
  for (const action of actions) {
    for (const who of everyone) {
      const vias: ('token' | 'basic')[] = ['pull', 'push', 'delete'].includes(action) ? ['token', 'basic'] : ['basic'];
      for (const via of vias) {
        const allow = expected(who, action, p.isPublic);
        await t.test(`${who} ${allow ? 'may' : 'may not'} ${action} in ${p.isPublic ? 'public' : 'private'} ${p.name} (${via})`, async (t) => {
          const status = await attempt(who, action, p.name, via);
          // Refused: 401 when signing in could help (anonymous), 403 when the caller is known.
          const refused = who === 'anonymous' ? 401 : 403;
          t.equal(status, allow ? okStatus[action] : refused);
          if (via === 'basic' || !['pull', 'push', 'delete'].includes(action)) verified.push(`${p.name}\t${action}\t${who}\t${allow ? 'allow' : 'deny'}`);
        });
      }
    }
  }
}

t.test('the push refused to a guest leaves nothing behind; the allowed ones are there', async (t) => {
  const tags = await fetch(`${base}/v2/privproj/app/tags/list`, { headers: { Authorization: basic(admin) } }).then((r) => r.json() as Promise<{ tags: string[] }>);
  t.ok(tags.tags.includes('push-developer-token'), 'developer pushed through the token flow');
  t.ok(tags.tags.includes('push-maintainer-basic'), 'maintainer pushed with Basic on /v2');
  t.notOk(tags.tags.some((tag) => /^push-(guest|limitedguest|outsider|anonymous)-/.test(tag)), 'no refused push left a tag');
  t.notOk(tags.tags.includes('delete-maintainer-token'), 'the maintainer deleted its tag');
  t.ok(tags.tags.includes('delete-developer-token'), "the developer's delete was refused");
});

t.test('matrix summary', async (t) => {
  t.comment(`verified (project, action, caller, outcome):\n${verified.join('\n')}`);
  t.equal(verified.length, projects.length * actions.length * everyone.length);
});
