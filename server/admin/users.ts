import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { ConflictError } from '../../storage-adapters/meta/meta-store.js';
import { hashPassword, passwordProblem, verifyPassword } from '../auth/passwords.js';
import { now, type UserRecord } from '../auth/records.js';
import { auditChange, requireSysadmin, requireUser, type AdminDeps } from './context.js';
import { listMatching } from './listing.js';
import { readBody } from '../../core/harbor-api/body.js';
import { ApiError, badRequest, conflict, forbidden, notFound } from '../../core/harbor-api/errors.js';
import { pageOf, paging, setPageHeaders } from '../../core/harbor-api/paging.js';
import { sortBy, type SortKeys } from '../../core/harbor-api/sort.js';
import { idParam, queryString } from '../../core/harbor-api/params.js';
import { checkTerms, matches, parseQuery, type QueryFields } from '../../core/harbor-api/query.js';
import { created, ok } from '../../core/harbor-api/responses.js';

// Harbor's /users: local accounts. Only system admins list, create and delete users or change the admin flag;
// a user reads and edits their own profile and password.

/** No '$' (robot names) and no ':' (Basic credentials); otherwise close to what Harbor accepts. */
export const usernameSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'letters, digits and . _ @ - only, starting with a letter or digit');
const email = z
  .string()
  .max(255)
  .refine((v) => v === '' || /^[^\s@]+@[^\s@]+$/.test(v), 'not an email address');

const userCreation = z.object({
  username: usernameSchema,
  password: z.string(),
  email: email.optional(),
  realname: z.string().max(255).optional(),
  comment: z.string().max(1024).optional(),
});
const userProfile = z.object({ email: email.optional(), realname: z.string().max(255).optional(), comment: z.string().max(1024).optional() });
const passwordChange = z.object({ old_password: z.string().optional(), new_password: z.string() });
// Harbor reads a missing sysadmin_flag as false.
const sysadminFlag = z.object({ sysadmin_flag: z.boolean().default(false) });

export const userSchemas = { UserCreationReq: userCreation, UserProfile: userProfile, PasswordReq: passwordChange, UserSysAdminFlag: sysadminFlag };

const userFields: QueryFields<UserRecord> = {
  username: { type: 'string', get: (u) => u.username },
  email: { type: 'string', get: (u) => u.email },
};

/** Harbor's UserResp. */
export function userResponse(u: UserRecord) {
  return {
    user_id: u.id,
    username: u.username,
    email: u.email,
    realname: u.realname,
    comment: u.comment,
    sysadmin_flag: u.sysadmin_flag,
    admin_role_in_auth: false,
    creation_time: u.creation_time,
    update_time: u.update_time,
  };
}

export function userRoutes(router: Router, a: AdminDeps): void {
  router.get('/users', (ctx) => listUsers(ctx, a));
  router.post('/users', (ctx) => createUser(ctx, a));
  router.get('/users/current', (ctx) => currentUser(ctx, a));
  router.get('/users/search', (ctx) => searchUsers(ctx, a));
  router.get('/users/:user_id', (ctx) => getUser(ctx, a));
  router.put('/users/:user_id', (ctx) => updateProfile(ctx, a));
  router.delete('/users/:user_id', (ctx) => deleteUser(ctx, a));
  router.put('/users/:user_id/password', (ctx) => changePassword(ctx, a));
  router.put('/users/:user_id/sysadmin', (ctx) => setSysadmin(ctx, a));
}

async function listUsers(ctx: Context, a: AdminDeps): Promise<void> {
  await requireSysadmin(ctx, a);
  const terms = parseQuery(queryString(ctx, 'q'));
  checkTerms(terms, userFields);
  const p = paging(ctx);
  if (queryString(ctx, 'sort')) {
    // Sorted: the whole matching list, then the page.
    const all = (await a.records.all(a.records.users)).filter((u) => matches(u, terms, userFields));
    ctx.body = pageOf(ctx, sortBy(ctx, all, userSorts), p).map(userResponse);
    return;
  }
  const { items, total } = await listMatching(a.records.users, {
    ...(terms.length > 0 && { keep: (u: UserRecord) => matches(u, terms, userFields) }),
    offset: p.offset,
    limit: p.limit,
  });
  setPageHeaders(ctx, total, p);
  ctx.body = items.map(userResponse);
}

async function createUser(ctx: Context, a: AdminDeps): Promise<void> {
  await requireSysadmin(ctx, a);
  const body = await readBody(ctx, userCreation);
  const problem = passwordProblem(body.password);
  if (problem) throw badRequest(`password ${problem}`);
  if (body.email && (await a.records.users.list({ where: { email: body.email }, limit: 1 })).total > 0) {
    throw conflict(`email ${body.email} is already used`);
  }
  const t = now();
  let user: UserRecord;
  try {
    user = await a.records.users.insert({
      username: body.username,
      email: body.email ?? '',
      realname: body.realname ?? '',
      comment: body.comment ?? '',
      password_hash: await hashPassword(body.password),
      sysadmin_flag: false,
      creation_time: t,
      update_time: t,
    });
  } catch (e) {
    if (e instanceof ConflictError) throw conflict(`user ${body.username} already exists`);
    throw e;
  }
  await auditChange(ctx, a, { operation: 'create', resource_type: 'user', resource: user.username });
  created(ctx, `/api/v2.0/users/${user.id}`);
}

async function currentUser(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await requireUser(ctx, a);
  if (caller.kind !== 'user') throw new ApiError(412, 'the caller is a robot account, not a user');
  const user = await a.records.users.get(caller.id);
  if (!user) {
    // auth none: no account behind the caller.
    throw new ApiError(412, 'no user account behind this caller');
  }
  ctx.body = userResponse(user);
}

async function searchUsers(ctx: Context, a: AdminDeps): Promise<void> {
  await requireUser(ctx, a);
  const wanted = queryString(ctx, 'username');
  if (wanted === undefined || wanted === '') throw badRequest('username is required');
  const p = paging(ctx);
  const needle = wanted.toLowerCase();
  const { items, total } = await listMatching(a.records.users, { keep: (u) => u.username.toLowerCase().includes(needle), offset: p.offset, limit: p.limit });
  setPageHeaders(ctx, total, p);
  ctx.body = items.map((u) => ({ user_id: u.id, username: u.username }));
}

/** The user in the path, readable by system admins and by the user themself. */
async function selfOrAdmin(ctx: Context, a: AdminDeps): Promise<{ user: UserRecord; self: boolean; sysadmin: boolean }> {
  const caller = await requireUser(ctx, a);
  const id = idParam(ctx, 'user_id');
  const sysadmin = caller.kind === 'user' && caller.sysadmin;
  const self = caller.kind === 'user' && caller.id === id;
  if (!sysadmin && !self) throw forbidden('only system admins may read or change other users');
  const user = await a.records.users.get(id);
  if (!user) throw notFound(`user ${id} not found`);
  return { user, self, sysadmin };
}

async function getUser(ctx: Context, a: AdminDeps): Promise<void> {
  ctx.body = userResponse((await selfOrAdmin(ctx, a)).user);
}

async function updateProfile(ctx: Context, a: AdminDeps): Promise<void> {
  const { user } = await selfOrAdmin(ctx, a);
  const body = await readBody(ctx, userProfile);
  if (body.email && body.email !== user.email) {
    const { items } = await a.records.users.list({ where: { email: body.email }, limit: 2 });
    if (items.some((u) => u.id !== user.id)) throw conflict(`email ${body.email} is already used`);
  }
  await a.records.users.update({ ...user, ...body, update_time: now() });
  await auditChange(ctx, a, { operation: 'update', resource_type: 'user', resource: user.username });
  ok(ctx);
}

async function deleteUser(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await requireSysadmin(ctx, a);
  const id = idParam(ctx, 'user_id');
  if (caller.kind === 'user' && caller.id === id) throw forbidden('you cannot delete your own account');
  const user = await a.records.users.get(id);
  if (!user) throw notFound(`user ${id} not found`);
  for (const m of await a.records.all(a.records.members, { user_id: id })) await a.records.members.delete(m.id);
  await a.records.users.delete(id);
  await a.refreshTokens?.revokeSubject(user.username);
  await a.sessions?.revokeSubject(user.username);
  a.authenticator?.invalidate();
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'user', resource: user.username });
  ok(ctx);
}

async function changePassword(ctx: Context, a: AdminDeps): Promise<void> {
  const { user, self } = await selfOrAdmin(ctx, a);
  const body = await readBody(ctx, passwordChange);
  // Your own password needs the old one, admin or not: a stolen session must not be enough to lock you out.
  if (self) {
    if (body.old_password === undefined) throw badRequest('old_password is required to change your own password');
    if (!(await verifyPassword(user.password_hash, body.old_password))) throw forbidden('the old password is not correct');
  }
  const problem = passwordProblem(body.new_password);
  if (problem) throw badRequest(`new_password ${problem}`);
  if (await verifyPassword(user.password_hash, body.new_password)) throw badRequest('the new password is the same as the old one');
  await a.records.users.update({ ...user, password_hash: await hashPassword(body.new_password), update_time: now() });
  await a.refreshTokens?.revokeSubject(user.username);
  await a.sessions?.revokeSubject(user.username);
  a.authenticator?.invalidate();
  await auditChange(ctx, a, { operation: 'update', resource_type: 'user', resource: user.username, operation_description: 'password changed' });
  ok(ctx);
}

async function setSysadmin(ctx: Context, a: AdminDeps): Promise<void> {
  const caller = await requireSysadmin(ctx, a);
  const id = idParam(ctx, 'user_id');
  const body = await readBody(ctx, sysadminFlag);
  if (caller.kind === 'user' && caller.id === id) throw forbidden('you cannot change your own admin flag');
  const user = await a.records.users.get(id);
  if (!user) throw notFound(`user ${id} not found`);
  await a.records.users.update({ ...user, sysadmin_flag: body.sysadmin_flag, update_time: now() });
  a.authenticator?.invalidate();
  await auditChange(ctx, a, {
    operation: 'update',
    resource_type: 'user',
    resource: user.username,
    operation_description: body.sysadmin_flag ? 'granted system admin' : 'revoked system admin',
  });
  ok(ctx);
}

/** What Harbor's user list sorts by. */
const userSorts: SortKeys<UserRecord> = {
  username: (u) => u.username,
  user_id: (u) => u.id,
  creation_time: (u) => u.creation_time,
  update_time: (u) => u.update_time,
};
