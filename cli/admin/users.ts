import type { Command } from 'commander';
import { AdminClient } from './client.js';
import { adminAction, idByName, readStdin, usage, type AdminContext } from './command.js';
import { printDone, printList, when, type Column } from './output.js';

// berth admin users: Harbor's /users (system admins only).

interface User {
  user_id: number;
  username: string;
  email?: string;
  realname?: string;
  sysadmin_flag: boolean;
  creation_time?: string;
}

const columns: Column<User>[] = [
  { header: 'ID', value: (u) => u.user_id },
  { header: 'USERNAME', value: (u) => u.username },
  { header: 'EMAIL', value: (u) => u.email },
  { header: 'ADMIN', value: (u) => u.sysadmin_flag },
  { header: 'CREATED', value: (u) => when(u.creation_time) },
];

function userId({ client }: AdminContext, ref: string): Promise<number> {
  return idByName(() => client.all<User>(`/users?q=${encodeURIComponent(`username=${ref}`)}`), ref, (u) => u.username, 'user', (u) => u.user_id);
}

export function userCommands(admin: Command): void {
  const users = admin.command('users').alias('user').description('users: list, create, delete, set-admin');

  users
    .command('list')
    .description('every user')
    .option('--name <text>', 'only usernames containing this')
    .action(adminAction<{ name?: string }>(async ({ client, out }, _a, o) => printList(out, await client.all<User>(`/users${o.name ? `?q=${encodeURIComponent(`username=~${o.name}`)}` : ''}`), columns)));

  users
    .command('create <username>')
    .description('create a user')
    .requiredOption('-e, --email <email>', 'e-mail address')
    .option('--user-password <password>', 'the new user\'s password (or --user-password-stdin)')
    .option('--user-password-stdin', 'read the new user\'s password from stdin')
    .option('--realname <name>', 'full name')
    .action(
      adminAction<{ email: string; userPassword?: string; userPasswordStdin?: boolean; realname?: string }>(async ({ client, out }, [username], o) => {
        const password = o.userPasswordStdin ? await readStdin() : o.userPassword;
        if (!password) throw usage('give the new user a password: --user-password or --user-password-stdin');
        const r = await client.call('POST', '/users', { username, email: o.email, password, realname: o.realname ?? username });
        const id = AdminClient.createdId(r);
        printDone(out, `created user ${username as string}${id ? ` (id ${id})` : ''}`, { user_id: id, username });
      }),
    );

  users
    .command('delete <user>')
    .description('delete a user (name or id)')
    .action(
      adminAction(async (ctx, [ref]) => {
        await ctx.client.call('DELETE', `/users/${await userId(ctx, ref as string)}`);
        printDone(ctx.out, `deleted user ${ref as string}`);
      }),
    );

  users
    .command('set-admin <user>')
    .description('make a user a system admin (--off: take it back)')
    .option('--off', 'remove system admin rights')
    .action(
      adminAction<{ off?: boolean }>(async (ctx, [ref], o) => {
        await ctx.client.call('PUT', `/users/${await userId(ctx, ref as string)}/sysadmin`, { sysadmin_flag: !o.off });
        printDone(ctx.out, `${ref as string} is ${o.off ? 'no longer' : 'now'} a system admin`);
      }),
    );
}
