import { rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { AdminClient, AdminError } from './client.js';
import { readStdin, reportError, usage } from './command.js';
import { configPath, resolveConnection, writeSaved, type GlobalOptions } from './credentials.js';
import { printDone } from './output.js';

// berth admin login | logout | whoami: the saved registry URL and credentials.

interface CurrentUser {
  user_id: number;
  username: string;
  sysadmin_flag: boolean;
}

export function loginCommands(admin: Command): void {
  admin
    .command('login [url]')
    .description('check credentials against a registry and save them (mode 0600) for later commands')
    .option('--password-stdin', 'read the password from stdin')
    .action(async (url: string | undefined, o: { passwordStdin?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as GlobalOptions;
      let client: AdminClient | undefined;
      try {
        const password = o.passwordStdin ? await readStdin() : undefined;
        const conn = await resolveConnection({ ...globals, ...(url && { url }), ...(password !== undefined && { password }) });
        if (!conn.username || conn.password === undefined) throw usage('login needs a user and password: -u <user> and --password-stdin (or --password, or BERTH_ADMIN_USER/BERTH_ADMIN_PASSWORD)');
        client = new AdminClient(conn);
        const me = await client.get<CurrentUser>('/users/current');
        const file = configPath(globals);
        await writeSaved(file, {
          url: client.url,
          username: conn.username,
          password: conn.password,
          ...((globals.caFile ?? process.env.BERTH_ADMIN_CA_FILE) && { ca_file: globals.caFile ?? process.env.BERTH_ADMIN_CA_FILE }),
          ...(conn.insecure && { insecure: true }),
        });
        printDone({ json: globals.json === true }, `logged in to ${client.url} as ${me.username}${me.sysadmin_flag ? ' (system admin)' : ''}; saved in ${file}`, { url: client.url, username: me.username, config: file });
      } catch (e) {
        reportError(e);
      } finally {
        await client?.close();
      }
    });

  admin
    .command('logout')
    .description('forget the saved credentials')
    .action(async (_o: unknown, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as GlobalOptions;
      const file = configPath(globals);
      await rm(file, { force: true });
      printDone({ json: globals.json === true }, `removed ${file}`);
    });

  admin
    .command('whoami')
    .description('who the credentials in use belong to')
    .action(async (_o: unknown, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as GlobalOptions;
      let client: AdminClient | undefined;
      try {
        client = new AdminClient(await resolveConnection(globals));
        const me = await client.get<CurrentUser>('/users/current');
        if (globals.json) process.stdout.write(JSON.stringify(me, null, 2) + '\n');
        else process.stdout.write(`${me.username} at ${client.url}${me.sysadmin_flag ? ' (system admin)' : ''}\n`);
      } catch (e) {
        reportError(e instanceof AdminError ? e : e);
      } finally {
        await client?.close();
      }
    });
}
