import type { Command } from 'commander';
import { AdminClient } from './client.js';
import { adminAction, idByName, readStdin, usage, type AdminContext } from './command.js';
import { colourStatus, printDone, printList, type Column } from './output.js';

// berth admin registries: Harbor's /registries, the remote ends of replication policies.

interface Registry {
  id: number;
  name: string;
  type: string;
  url: string;
  status?: string;
  insecure?: boolean;
  credential?: { access_key?: string };
}

const columns: Column<Registry>[] = [
  { header: 'ID', value: (r) => r.id },
  { header: 'NAME', value: (r) => r.name },
  { header: 'TYPE', value: (r) => r.type },
  { header: 'URL', value: (r) => r.url },
  { header: 'USER', value: (r) => r.credential?.access_key },
  { header: 'INSECURE', value: (r) => r.insecure },
  { header: 'STATUS', value: (r) => colourStatus(r.status) },
];

export function registryId({ client }: AdminContext, ref: string): Promise<number> {
  return idByName(() => client.all<Registry>('/registries'), ref, (r) => r.name, 'registry');
}

export function registryCommands(admin: Command): void {
  const registries = admin.command('registries').alias('registry').description('registry endpoints for replication: list, create, ping, delete');

  registries
    .command('list')
    .description('every registry endpoint')
    .action(adminAction(async ({ client, out }) => printList(out, await client.all<Registry>('/registries'), columns)));

  registries
    .command('create <name> <url>')
    .description('add a remote registry (another Berth IDC, a distribution, a Harbor)')
    .option('-t, --type <type>', 'berth, docker-registry or harbor', 'berth')
    .option('--access-key <user>', 'user (or robot) on the remote')
    .option('--access-secret <secret>', 'its password (or --access-secret-stdin)')
    .option('--access-secret-stdin', 'read the secret from stdin')
    .option('--skip-verify', "don't verify the remote's TLS certificate")
    .option('--description <text>', 'what it is')
    .action(
      adminAction<{ type: string; accessKey?: string; accessSecret?: string; accessSecretStdin?: boolean; skipVerify?: boolean; description?: string }>(async ({ client, out }, [name, url], o) => {
        const secret = o.accessSecretStdin ? await readStdin() : o.accessSecret;
        if (secret !== undefined && o.accessKey === undefined) throw usage('--access-secret needs --access-key');
        const body = {
          name,
          url,
          type: o.type,
          insecure: o.skipVerify === true,
          ...(o.description && { description: o.description }),
          ...(o.accessKey !== undefined && { credential: { type: 'basic', access_key: o.accessKey, access_secret: secret ?? '' } }),
        };
        const r = await client.call('POST', '/registries', body);
        const id = AdminClient.createdId(r);
        printDone(out, `created registry ${name as string}${id ? ` (id ${id})` : ''}`, { id, name });
      }),
    );

  registries
    .command('ping <registry>')
    .description('check that a registry answers and takes its credentials (name or id)')
    .action(
      adminAction(async (ctx, [ref]) => {
        const id = await registryId(ctx, ref as string);
        await ctx.client.call('POST', '/registries/ping', { id });
        printDone(ctx.out, `registry ${ref as string} is healthy`, { id, status: 'healthy' });
      }),
    );

  registries
    .command('delete <registry>')
    .description('delete a registry endpoint no policy uses (name or id)')
    .action(
      adminAction(async (ctx, [ref]) => {
        await ctx.client.call('DELETE', `/registries/${await registryId(ctx, ref as string)}`);
        printDone(ctx.out, `deleted registry ${ref as string}`);
      }),
    );
}
