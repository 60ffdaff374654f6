import type { Command } from 'commander';
import { AdminError } from './client.js';
import { adminAction, seg, usage, type AdminContext } from './command.js';
import { printDone, printList, type Column } from './output.js';

// berth admin members: Harbor's /projects/{p}/members, users by name, roles by name.

interface Member {
  id: number;
  entity_name: string;
  role_name: string;
  role_id: number;
  entity_type: string;
}

/** Harbor's role ids, by the names people say. */
const ROLES: Record<string, number> = { 'project-admin': 1, admin: 1, projectadmin: 1, developer: 2, guest: 3, maintainer: 4, 'limited-guest': 5, limitedguest: 5 };

export function roleId(name: string): number {
  const n = /^[1-5]$/.test(name) ? Number(name) : ROLES[name.toLowerCase()];
  if (n === undefined) throw usage(`unknown role "${name}": project-admin, maintainer, developer, guest or limited-guest`);
  return n;
}

const columns: Column<Member>[] = [
  { header: 'ID', value: (m) => m.id },
  { header: 'USER', value: (m) => m.entity_name },
  { header: 'ROLE', value: (m) => m.role_name },
];

async function memberOf({ client }: AdminContext, project: string, user: string): Promise<Member> {
  const members = await client.all<Member>(`/projects/${seg(project)}/members`);
  const m = members.find((x) => x.entity_name === user);
  if (!m) throw new AdminError('not-found', `${user} is not a member of ${project}`);
  return m;
}

export function memberCommands(admin: Command): void {
  const members = admin.command('members').alias('member').description("project members and their roles: list, add, remove, role");

  members
    .command('list <project>')
    .description("a project's members")
    .action(adminAction(async ({ client, out }, [p]) => printList(out, await client.all<Member>(`/projects/${seg(p as string)}/members`), columns)));

  members
    .command('add <project> <user>')
    .description('add a user to a project')
    .option('-r, --role <role>', 'project-admin, maintainer, developer, guest, limited-guest', 'developer')
    .action(
      adminAction<{ role: string }>(async ({ client, out }, [p, user], o) => {
        await client.call('POST', `/projects/${seg(p as string)}/members`, { role_id: roleId(o.role), member_user: { username: user } });
        printDone(out, `${user as string} is now ${o.role} in ${p as string}`);
      }),
    );

  members
    .command('role <project> <user> <role>')
    .description("change a member's role")
    .action(
      adminAction(async (ctx, [p, user, role]) => {
        const id = roleId(role as string);
        const m = await memberOf(ctx, p as string, user as string);
        await ctx.client.call('PUT', `/projects/${seg(p as string)}/members/${m.id}`, { role_id: id });
        printDone(ctx.out, `${user as string} is now ${role as string} in ${p as string}`);
      }),
    );

  members
    .command('remove <project> <user>')
    .description('remove a user from a project')
    .action(
      adminAction(async (ctx, [p, user]) => {
        const m = await memberOf(ctx, p as string, user as string);
        await ctx.client.call('DELETE', `/projects/${seg(p as string)}/members/${m.id}`);
        printDone(ctx.out, `removed ${user as string} from ${p as string}`);
      }),
    );
}
