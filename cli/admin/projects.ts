import type { Command } from 'commander';
import { AdminClient, absentAsUndefined } from './client.js';
import { adminAction, seg, usage } from './command.js';
import { printDone, printList, printObject, when, bytes, type Column } from './output.js';

// berth admin projects: Harbor's /projects.

interface Project {
  project_id: number;
  name: string;
  owner_name?: string;
  repo_count?: number;
  creation_time?: string;
  metadata?: Record<string, string>;
}

const columns: Column<Project>[] = [
  { header: 'ID', value: (p) => p.project_id },
  { header: 'NAME', value: (p) => p.name },
  { header: 'PUBLIC', value: (p) => p.metadata?.public === 'true' },
  { header: 'REPOS', value: (p) => p.repo_count ?? 0 },
  { header: 'OWNER', value: (p) => p.owner_name },
  { header: 'CREATED', value: (p) => when(p.creation_time) },
];

export function projectCommands(admin: Command): void {
  const projects = admin.command('projects').alias('project').description('projects: list, get, create, update, delete');

  projects
    .command('list')
    .description('list the projects you can see')
    .option('--name <text>', 'only names containing this')
    .action(
      adminAction<{ name?: string }>(async ({ client, out }, _args, o) => {
        const q = o.name ? `?name=${encodeURIComponent(o.name)}` : '';
        printList(out, await client.all<Project>(`/projects${q}`), columns);
      }),
    );

  projects
    .command('get <project>')
    .description('show one project (name or id) with its quota and usage')
    .action(
      adminAction(async ({ client, out }, [ref]) => {
        const p = await client.get<Project & { storage_limit?: number }>(`/projects/${seg(ref as string)}`);
        const summary = await client.get<{ quota?: { hard?: { storage?: number }; used?: { storage?: number } } }>(`/projects/${seg(ref as string)}/summary`).catch(absentAsUndefined);
        const detail = { ...p, ...(summary && { summary }) };
        const quota = summary?.quota;
        printObject(out, detail, [
          ...columns,
          ...(quota
            ? [
                { header: 'QUOTA', value: () => (quota.hard?.storage === undefined || quota.hard.storage < 0 ? 'unlimited' : bytes(quota.hard.storage)) },
                { header: 'USED', value: () => bytes(quota.used?.storage ?? 0) },
              ]
            : []),
        ]);
      }),
    );

  projects
    .command('create <name>')
    .description('create a project (private unless --public)')
    .option('--public', 'anyone may pull, without logging in')
    .option('--storage-limit <bytes>', 'quota in bytes (-1: unlimited)')
    .action(
      adminAction<{ public?: boolean; storageLimit?: string }>(async ({ client, out }, [name], o) => {
        const body: Record<string, unknown> = { project_name: name, metadata: { public: o.public ? 'true' : 'false' } };
        if (o.storageLimit !== undefined) {
          const n = Number(o.storageLimit);
          if (!Number.isInteger(n)) throw usage('--storage-limit must be a whole number of bytes');
          body.storage_limit = n;
        }
        const r = await client.call('POST', '/projects', body);
        const id = AdminClient.createdId(r);
        printDone(out, `created project ${name as string}${id ? ` (id ${id})` : ''}`, { project_id: id, name });
      }),
    );

  projects
    .command('update <project>')
    .description('change a project: --public or --private')
    .option('--public', 'make it public')
    .option('--private', 'make it private')
    .action(
      adminAction<{ public?: boolean; private?: boolean }>(async ({ client, out }, [ref], o) => {
        if (o.public === o.private) throw usage('say --public or --private');
        await client.call('PUT', `/projects/${seg(ref as string)}`, { metadata: { public: o.public ? 'true' : 'false' } });
        printDone(out, `project ${ref as string} is now ${o.public ? 'public' : 'private'}`);
      }),
    );

  projects
    .command('delete <project>')
    .description('delete an empty project')
    .action(
      adminAction(async ({ client, out }, [ref]) => {
        await client.call('DELETE', `/projects/${seg(ref as string)}`);
        printDone(out, `deleted project ${ref as string}`);
      }),
    );
}
