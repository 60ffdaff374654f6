import type { Command } from 'commander';
import { AdminClient, AdminError } from './client.js';
import { adminAction, asId, usage, type AdminContext } from './command.js';
import { colourStatus, printDone, printJson, printList, printObject, when, type Column } from './output.js';

// berth admin gc: Harbor's /system/gc (run one now, see how runs went). `berth gc` runs it in-process instead.

interface GcRun {
  id: number;
  job_status: string;
  job_kind?: string;
  creation_time?: string;
  update_time?: string;
  job_parameters?: string;
}

const columns: Column<GcRun>[] = [
  { header: 'ID', value: (g) => g.id },
  { header: 'STATUS', value: (g) => colourStatus(g.job_status) },
  { header: 'KIND', value: (g) => g.job_kind },
  { header: 'PARAMETERS', value: (g) => g.job_parameters },
  { header: 'CREATED', value: (g) => when(g.creation_time) },
  { header: 'UPDATED', value: (g) => when(g.update_time) },
];

const RUNNING = /^(pending|running|scheduled)$/i;

async function latest({ client }: AdminContext): Promise<GcRun> {
  const [run] = await client.all<GcRun>('/system/gc?sort=-creation_time', 1);
  if (!run) throw new AdminError('not-found', 'GC has not run yet');
  return run;
}

export function gcCommands(admin: Command): void {
  const gc = admin.command('gc').description('garbage collection on the server: run, status, history');

  gc.command('run')
    .description('start a GC run now (--wait: until it ends; exit 1 unless it succeeds)')
    .option('--dry-run', 'report what would go, delete nothing')
    .option('--delete-untagged', 'also remove artifacts no tag points at')
    .option('-w, --wait', 'wait for the run to end, showing its status')
    .option('--interval <ms>', 'poll interval for --wait', '1000')
    .action(
      adminAction<{ dryRun?: boolean; deleteUntagged?: boolean; wait?: boolean; interval: string }>(async (ctx, _a, o) => {
        const r = await ctx.client.call('POST', '/system/gc/schedule', { schedule: { type: 'Manual' }, parameters: { dry_run: o.dryRun === true, delete_untagged: o.deleteUntagged === true } });
        const id = AdminClient.createdId(r);
        if (!o.wait) return printDone(ctx.out, `GC started${id ? ` (run ${id})` : ''}`, { id });
        const interval = Number(o.interval);
        if (!Number.isFinite(interval) || interval < 100) throw usage('--interval must be at least 100 ms');
        let run: GcRun;
        let shown = '';
        for (;;) {
          run = id ? await ctx.client.get<GcRun>(`/system/gc/${id}`) : await latest(ctx);
          if (!ctx.out.json && run.job_status !== shown) process.stderr.write(`GC run ${run.id}: ${run.job_status}\n`);
          shown = run.job_status;
          if (!RUNNING.test(run.job_status)) break;
          await new Promise((res) => setTimeout(res, interval));
        }
        if (ctx.out.json) printJson(run);
        else printObject(ctx.out, run, columns);
        if (!/^(success|succeed|finished)$/i.test(run.job_status)) process.exitCode = 1;
      }),
    );

  gc.command('status [run]')
    .description('the latest GC run, or the one given, with its log')
    .option('--log', 'print the run\'s log too')
    .action(
      adminAction<{ log?: boolean }>(async (ctx, [ref], o) => {
        const id = ref === undefined ? undefined : asId(ref as string);
        if (ref !== undefined && id === undefined) throw usage(`a GC run id is a number (got "${ref as string}")`);
        const run = id ? await ctx.client.get<GcRun>(`/system/gc/${id}`) : await latest(ctx);
        printObject(ctx.out, run, columns);
        if (o.log && !ctx.out.json) process.stdout.write(await ctx.client.get<string>(`/system/gc/${run.id}/log`) + '\n');
      }),
    );

  gc.command('history')
    .description('recent GC runs, newest first')
    .option('-n, --limit <n>', 'at most this many', '10')
    .action(adminAction<{ limit: string }>(async ({ client, out }, _a, o) => printList(out, await client.all<GcRun>('/system/gc?sort=-creation_time', Number(o.limit) || 10), columns)));
}
