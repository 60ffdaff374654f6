import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { AdminClient, AdminError } from './client.js';
import { adminAction, asId, usage, type AdminContext } from './command.js';
import { bytes, colourStatus, printDone, printJson, printList, printObject, when, type Column } from './output.js';
import { policyId } from './policies.js';

// berth admin executions (alias: replication): runs of replication policies; start, stop, list, tasks, watch.

interface Execution {
  id: number;
  policy_id: number;
  status: string;
  status_text?: string;
  trigger: string;
  start_time?: string;
  end_time?: string | null;
  total: number;
  succeed: number;
  failed: number;
  in_progress: number;
  stopped: number;
}

interface Task {
  id: number;
  status: string;
  operation: string;
  src_resource: string;
  dst_resource: string;
  bytes: number;
  attempts: number;
  error?: string | null;
}

const columns: Column<Execution>[] = [
  { header: 'ID', value: (e) => e.id },
  { header: 'POLICY', value: (e) => e.policy_id },
  { header: 'STATUS', value: (e) => colourStatus(e.status) },
  { header: 'TRIGGER', value: (e) => e.trigger },
  { header: 'TASKS', value: (e) => e.total },
  { header: 'OK', value: (e) => e.succeed },
  { header: 'FAILED', value: (e) => e.failed },
  { header: 'RUNNING', value: (e) => e.in_progress },
  { header: 'STARTED', value: (e) => when(e.start_time) },
  { header: 'ENDED', value: (e) => when(e.end_time) },
];

const taskColumns: Column<Task>[] = [
  { header: 'ID', value: (t) => t.id },
  { header: 'STATUS', value: (t) => colourStatus(t.status) },
  { header: 'OP', value: (t) => t.operation },
  { header: 'SOURCE', value: (t) => t.src_resource },
  { header: 'DESTINATION', value: (t) => t.dst_resource },
  { header: 'BYTES', value: (t) => bytes(t.bytes) },
  { header: 'TRIES', value: (t) => t.attempts },
  { header: 'ERROR', value: (t) => t.error },
];

function executionId(ref: string): number {
  const id = asId(ref);
  if (id === undefined) throw usage(`an execution id is a number (got "${ref}")`);
  return id;
}

export function executionCommands(admin: Command): void {
  const ex = admin.command('executions').alias('replication').description('replication executions: start, stop, list, tasks, watch');

  ex.command('list')
    .description('recent executions, newest first')
    .option('--policy <policy>', 'only this policy (name or id)')
    .option('--status <status>', 'InProgress, Succeed, Failed or Stopped')
    .option('-n, --limit <n>', 'at most this many', '20')
    .action(
      adminAction<{ policy?: string; status?: string; limit: string }>(async (ctx, _a, o) => {
        const q = new URLSearchParams();
        if (o.policy) q.set('policy_id', String(await policyId(ctx, o.policy)));
        if (o.status) q.set('status', o.status);
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1) throw usage('--limit must be a positive whole number');
        printList(ctx.out, await ctx.client.all<Execution>(`/replication/executions?${q}`, limit), columns);
      }),
    );

  ex.command('start <policy>')
    .description('run a policy now (name or id); --watch follows it to the end')
    .option('-w, --watch', 'follow it with a progress bar; exit 1 unless it succeeds')
    .option('--interval <ms>', 'poll interval for --watch', '1000')
    .action(
      adminAction<{ watch?: boolean; interval: string }>(async (ctx, [ref], o) => {
        const policy = await policyId(ctx, ref as string);
        const r = await ctx.client.call('POST', '/replication/executions', { policy_id: policy });
        const id = AdminClient.createdId(r);
        if (id === undefined) throw new AdminError('failed', 'the server did not say which execution it started (no Location header)');
        if (!o.watch) return printDone(ctx.out, `started execution ${id} of policy ${ref as string}`, { id, policy_id: policy });
        if (!ctx.out.json) process.stderr.write(`started execution ${id}\n`);
        await watch(ctx, id, Number(o.interval));
      }),
    );

  ex.command('stop <execution>')
    .description('stop a running execution; its transfers abort')
    .action(
      adminAction(async ({ client, out }, [ref]) => {
        await client.call('PUT', `/replication/executions/${executionId(ref as string)}`);
        printDone(out, `asked execution ${ref as string} to stop`);
      }),
    );

  ex.command('get <execution>')
    .description('one execution and its counts')
    .action(adminAction(async ({ client, out }, [ref]) => printObject(out, await client.get<Execution>(`/replication/executions/${executionId(ref as string)}`), columns)));

  ex.command('tasks <execution>')
    .description("an execution's tasks: what was copied, bytes, errors")
    .action(adminAction(async ({ client, out }, [ref]) => printList(out, await client.all<Task>(`/replication/executions/${executionId(ref as string)}/tasks`), taskColumns)));

  ex.command('watch <execution>')
    .description('follow an execution: tasks done and bytes moved; exit 1 unless it succeeds')
    .option('--interval <ms>', 'poll interval', '1000')
    .action(adminAction<{ interval: string }>(async (ctx, [ref], o) => watch(ctx, executionId(ref as string), Number(o.interval))));
}

/** Polls until the execution ends. A bar on a terminal, a line per change otherwise, JSON lines with --json. */
async function watch({ client, out }: AdminContext, id: number, intervalMs: number): Promise<void> {
  if (!Number.isFinite(intervalMs) || intervalMs < 100) throw usage('--interval must be at least 100 ms');
  const tty = process.stderr.isTTY === true && !out.json;
  const bar = tty ? new SingleBar({ format: 'execution {id} [{bar}] {value}/{total} tasks | {moved} | {status}', hideCursor: true, clearOnComplete: false, stream: process.stderr }) : undefined;
  let last = '';
  let e: Execution;
  for (;;) {
    e = await client.get<Execution>(`/replication/executions/${id}`);
    const tasks = await client.all<Task>(`/replication/executions/${id}/tasks`);
    const moved = tasks.reduce((n, t) => n + (Number(t.bytes) || 0), 0);
    const done = e.succeed + e.failed + e.stopped;
    const payload = { id, moved: bytes(moved), status: e.status };
    if (bar) {
      if (last === '') bar.start(Math.max(e.total, 1), done, payload);
      bar.setTotal(Math.max(e.total, 1));
      bar.update(done, payload);
      last = 'started';
    } else {
      const line = out.json ? JSON.stringify({ id, status: e.status, total: e.total, done, succeed: e.succeed, failed: e.failed, bytes: moved }) : `execution ${id}: ${e.status} ${done}/${e.total} tasks, ${bytes(moved)}`;
      if (line !== last) process.stdout.write(line + '\n');
      last = line;
    }
    if (e.status !== 'InProgress') break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  bar?.stop();
  if (!out.json) {
    process.stdout.write(`execution ${id} ${colourStatus(e.status)}: ${e.succeed} succeeded, ${e.failed} failed, ${e.stopped} stopped of ${e.total}${e.status_text ? ` (${e.status_text})` : ''}\n`);
  } else if (bar) printJson(e);
  if (e.status !== 'Succeed') process.exitCode = 1;
}
