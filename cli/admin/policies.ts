import type { Command } from 'commander';
import { AdminClient } from './client.js';
import { adminAction, idByName, usage, type AdminContext } from './command.js';
import { printDone, printList, type Column } from './output.js';
import { registryId } from './registries.js';

// berth admin policies: Harbor's /replication/policies (push to --dest or pull from --src).

interface Policy {
  id: number;
  name: string;
  src_registry?: { id?: number; name?: string } | null;
  dest_registry?: { id?: number; name?: string } | null;
  dest_namespace?: string;
  filters?: { type: string; value: string; decoration?: string }[] | null;
  trigger?: { type: string; trigger_settings?: { cron?: string } | null } | null;
  replicate_deletion?: boolean;
  enabled: boolean;
  speed?: number | null;
  concurrency?: number | null;
}

const side = (r: Policy['src_registry']) => (r && r.id ? (r.name ?? `#${r.id}`) : 'local');

const columns: Column<Policy>[] = [
  { header: 'ID', value: (p) => p.id },
  { header: 'NAME', value: (p) => p.name },
  { header: 'FROM', value: (p) => side(p.src_registry) },
  { header: 'TO', value: (p) => side(p.dest_registry) },
  { header: 'FILTERS', value: (p) => (p.filters ?? []).map((f) => `${f.type}${f.decoration === 'excludes' ? '!' : ''}=${f.value}`) },
  { header: 'TRIGGER', value: (p) => (p.trigger?.type === 'scheduled' ? `scheduled ${p.trigger.trigger_settings?.cron ?? ''}` : p.trigger?.type) },
  { header: 'DELETES', value: (p) => p.replicate_deletion },
  { header: 'ENABLED', value: (p) => p.enabled },
];

export function policyId({ client }: AdminContext, ref: string): Promise<number> {
  return idByName(() => client.all<Policy>('/replication/policies'), ref, (p) => p.name, 'policy');
}

interface PolicyFlags {
  dest?: string;
  src?: string;
  repos?: string;
  tags?: string;
  trigger?: string;
  cron?: string;
  deletion?: boolean;
  destNamespace?: string;
  speed?: string;
  concurrency?: string;
  enable?: boolean;
  disable?: boolean;
}

const TRIGGERS: Record<string, string> = { manual: 'manual', event: 'event_based', event_based: 'event_based', scheduled: 'scheduled', cron: 'scheduled' };

/** The policy fields the flags set, on top of `base` (an update changes only what is given). */
async function applyFlags(ctx: AdminContext, base: Partial<Policy> & Record<string, unknown>, o: PolicyFlags): Promise<Record<string, unknown>> {
  const p: Record<string, unknown> = { ...base };
  if (o.dest && o.src) throw usage('a policy either pushes (--dest) or pulls (--src), not both');
  if (o.dest) Object.assign(p, { dest_registry: { id: await registryId(ctx, o.dest) }, src_registry: null });
  if (o.src) Object.assign(p, { src_registry: { id: await registryId(ctx, o.src) }, dest_registry: null });
  if (o.repos !== undefined || o.tags !== undefined) {
    const kept = (base.filters ?? []).filter((f) => (o.repos === undefined || f.type !== 'name') && (o.tags === undefined || f.type !== 'tag'));
    if (o.repos) kept.push({ type: 'name', value: o.repos });
    if (o.tags) kept.push({ type: 'tag', value: o.tags });
    p.filters = kept;
  }
  if (o.trigger !== undefined || o.cron !== undefined) {
    const type = TRIGGERS[o.trigger ?? (o.cron ? 'scheduled' : 'manual')];
    if (!type) throw usage(`unknown trigger "${o.trigger}": manual, event or scheduled`);
    if (type === 'scheduled' && !o.cron) throw usage('a scheduled trigger needs --cron "<sec> <min> <hour> <day> <month> <weekday>"');
    p.trigger = { type, trigger_settings: { cron: type === 'scheduled' ? o.cron : '' } };
  }
  if (o.deletion !== undefined) p.replicate_deletion = o.deletion;
  if (o.destNamespace !== undefined) p.dest_namespace = o.destNamespace;
  for (const [flag, key] of [[o.speed, 'speed'], [o.concurrency, 'concurrency']] as const) {
    if (flag === undefined) continue;
    const n = Number(flag);
    if (!Number.isInteger(n)) throw usage(`--${key} must be a whole number`);
    p[key] = n;
  }
  if (o.enable && o.disable) throw usage('--enable or --disable, not both');
  if (o.enable) p.enabled = true;
  if (o.disable) p.enabled = false;
  return p;
}

function policyOptions(c: Command): Command {
  return c
    .option('--dest <registry>', 'push to this registry (name or id)')
    .option('--src <registry>', 'pull from this registry (name or id)')
    .option('--repos <glob>', 'repositories to copy, e.g. "team/**"')
    .option('--tags <glob>', 'tags to copy, e.g. "v*"')
    .option('--trigger <type>', 'manual, event (on every push and delete) or scheduled')
    .option('--cron <spec>', 'for scheduled: 6 fields, seconds first')
    .option('--deletion', 'replicate deletes too')
    .option('--no-deletion', "don't replicate deletes")
    .option('--dest-namespace <project>', 'put copies in this project')
    .option('--speed <KBps>', 'bandwidth limit for the policy (-1: none)')
    .option('--concurrency <n>', 'transfers at once')
    .option('--enable', 'enable it')
    .option('--disable', 'disable it');
}

export function policyCommands(admin: Command): void {
  const policies = admin.command('policies').alias('policy').description('replication policies: list, create, update, delete');

  policies
    .command('list')
    .description('every replication policy')
    .action(adminAction(async ({ client, out }) => printList(out, await client.all<Policy>('/replication/policies'), columns)));

  policyOptions(policies.command('create <name>').description('create a push (--dest) or pull (--src) policy')).action(
    adminAction<PolicyFlags>(async (ctx, [name], o) => {
      if (!o.dest && !o.src) throw usage('say where: --dest <registry> (push) or --src <registry> (pull)');
      const body = await applyFlags(ctx, { name: name as string, override: true, enabled: true, replicate_deletion: false, trigger: { type: 'manual' } } as Partial<Policy>, o);
      const r = await ctx.client.call('POST', '/replication/policies', body);
      const id = AdminClient.createdId(r);
      printDone(ctx.out, `created policy ${name as string}${id ? ` (id ${id})` : ''}`, { id, name });
    }),
  );

  policyOptions(policies.command('update <policy>').description('change a policy (name or id); only the options given change')).action(
    adminAction<PolicyFlags>(async (ctx, [ref], o) => {
      const id = await policyId(ctx, ref as string);
      const current = await ctx.client.get<Policy & Record<string, unknown>>(`/replication/policies/${id}`);
      await ctx.client.call('PUT', `/replication/policies/${id}`, await applyFlags(ctx, current, o));
      printDone(ctx.out, `updated policy ${ref as string}`, { id });
    }),
  );

  policies
    .command('delete <policy>')
    .description('delete a policy (name or id)')
    .action(
      adminAction(async (ctx, [ref]) => {
        await ctx.client.call('DELETE', `/replication/policies/${await policyId(ctx, ref as string)}`);
        printDone(ctx.out, `deleted policy ${ref as string}`);
      }),
    );
}
