import type { Command } from 'commander';
import pc from 'picocolors';
import { AdminError } from './client.js';
import { adminAction, asId, seg, usage, type AdminContext } from './command.js';
import { printDone, printJson, printList, type Column } from './output.js';

// berth admin robots: Harbor's /robots. A project robot is `robot$<project>+<name>`; its secret is shown once.

interface Robot {
  id: number;
  name: string;
  level: string;
  duration: number;
  disable: boolean;
  expires_at: number;
  description?: string;
  permissions?: { namespace: string; access: { resource: string; action: string }[] }[];
}

const columns: Column<Robot>[] = [
  { header: 'ID', value: (r) => r.id },
  { header: 'NAME', value: (r) => r.name },
  { header: 'LEVEL', value: (r) => r.level },
  { header: 'ACCESS', value: (r) => (r.permissions ?? []).map((p) => `${p.namespace}: ${p.access.map((a) => a.action).join(',')}`) },
  { header: 'EXPIRES', value: (r) => (r.expires_at === -1 ? 'never' : new Date(r.expires_at * 1000).toISOString().slice(0, 10)) },
  { header: 'DISABLED', value: (r) => r.disable },
];

async function listRobots({ client }: AdminContext, project: string | undefined): Promise<Robot[]> {
  if (!project) return client.all<Robot>('/robots');
  const p = await client.get<{ project_id: number }>(`/projects/${seg(project)}`);
  return client.all<Robot>(`/robots?q=${encodeURIComponent(`Level=project,ProjectID=${p.project_id}`)}`);
}

export function robotCommands(admin: Command): void {
  const robots = admin.command('robots').alias('robot').description('robot accounts: list, create (secret shown once), delete');

  robots
    .command('list')
    .description('system robots, or a project\'s with --project')
    .option('-p, --project <project>', 'the project whose robots to list')
    .action(adminAction<{ project?: string }>(async (ctx, _a, o) => printList(ctx.out, await listRobots(ctx, o.project), columns)));

  robots
    .command('create <name>')
    .description('create a robot; prints its secret, which cannot be read again')
    .option('-p, --project <project>', 'a project robot for this project')
    .option('--system <projects>', 'a system robot for these projects (comma-separated, or *)')
    .option('-a, --access <actions>', 'repository actions, comma-separated: pull, push, delete', 'pull')
    .option('-d, --duration <days>', 'days until it expires (-1: never)', '30')
    .option('--description <text>', 'what it is for')
    .action(
      adminAction<{ project?: string; system?: string; access: string; duration: string; description?: string }>(async ({ client, out }, [name], o) => {
        if (!o.project === !o.system) throw usage('say --project <project> or --system <projects>');
        const duration = Number(o.duration);
        if (!Number.isInteger(duration)) throw usage('--duration must be a whole number of days');
        const access = o.access.split(',').map((a) => ({ resource: 'repository', action: a.trim() })).filter((a) => a.action !== '');
        const namespaces = o.project ? [o.project] : o.system!.split(',').map((s) => s.trim());
        const body = {
          name,
          level: o.project ? 'project' : 'system',
          duration,
          ...(o.description && { description: o.description }),
          permissions: namespaces.map((namespace) => ({ kind: 'project', namespace, access })),
        };
        const r = await client.call<{ id: number; name: string; secret: string; expires_at: number }>('POST', '/robots', body);
        if (out.json) return printJson(r.body);
        process.stdout.write(`${pc.green('✔')} created ${r.body.name} (id ${r.body.id})\n`);
        process.stdout.write(`${pc.bold('secret')} ${r.body.secret}\n`);
        process.stderr.write(pc.yellow('This secret is shown only now: store it (e.g. docker login -u \'' + r.body.name + '\' --password-stdin).\n'));
      }),
    );

  robots
    .command('delete <robot>')
    .description('delete a robot by id or full name (robot$project+name)')
    .option('-p, --project <project>', 'the project of a robot named without its prefix')
    .action(
      adminAction<{ project?: string }>(async (ctx, [ref], o) => {
        const id = asId(ref as string) ?? (await robotIdByName(ctx, ref as string, o.project));
        await ctx.client.call('DELETE', `/robots/${id}`);
        printDone(ctx.out, `deleted robot ${ref as string}`);
      }),
    );
}

async function robotIdByName(ctx: AdminContext, name: string, project: string | undefined): Promise<number> {
  // robot$team+ci names its project; a bare name needs --project (or is a system robot).
  const m = /^robot\$([^+]+)\+/.exec(name);
  const where = project ?? m?.[1];
  const full = name.startsWith('robot$') ? name : where ? `robot$${where}+${name}` : `robot$${name}`;
  const hit = (await listRobots(ctx, where)).find((r) => r.name === full);
  if (!hit) throw new AdminError('not-found', `no robot named ${full}`);
  return hit.id;
}
