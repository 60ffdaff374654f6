import picomatch from 'picomatch';
import type { Registry } from '../../../registry/registry.js';
import type { PreheatQueue } from '../../p2p/preheat.js';
import { nowIso, type PolicyFilter, type PreheatExecutionRecord, type PreheatPolicyRecord, type PreheatRecords, type PreheatTaskRecord, type RunStatus } from './records.js';

// Runs a preheat policy: its filters select the project's tagged artifacts, each becomes a seed-agent task, and
// the Harbor-shaped task follows the seed agents' reports (success once one seed holds every blob). A task no
// seed agent reported on within NO_SEED_MS fails saying so: there may be no agent with the seed role.

export const NO_SEED_MS = 10 * 60 * 1000;

const TERMINAL = new Set<RunStatus>(['Success', 'Error', 'Stopped']);

/** Filters Berth can apply; the others must be empty (Harbor's UI sends them empty when unused). */
export function checkFilters(filters: PolicyFilter[]): string | undefined {
  for (const f of filters) {
    const empty = f.value === undefined || f.value === null || f.value === '' || f.value === 0 || f.value === false || (Array.isArray(f.value) && f.value.length === 0);
    if ((f.type === 'repository' || f.type === 'tag') && typeof f.value !== 'string' && !empty) return `${f.type} filter: a glob string`;
    if ((f.type === 'label' || f.type === 'vulnerability' || f.type === 'signature') && !empty) return `${f.type} filters are not supported by Berth's preheat`;
  }
  return undefined;
}

/** A policy's repository or tag filters as one predicate (every non-empty glob must match). */
export function matcher(filters: PolicyFilter[], type: 'repository' | 'tag'): (s: string) => boolean {
  const globs = filters.filter((f) => f.type === type && typeof f.value === 'string' && f.value !== '').map((f) => picomatch(f.value as string, { dot: true }));
  return (s) => globs.every((m) => m(s));
}

export class PreheatRunner {
  constructor(
    private readonly records: PreheatRecords,
    private readonly registry: Registry,
    private readonly queue: PreheatQueue,
  ) {}

  /** Starts an execution of `policy` over `project` (one artifact when an event names it); its id. */
  async execute(policy: PreheatPolicyRecord, project: string, trigger: PreheatExecutionRecord['trigger'], only?: { repository: string; tag: string }): Promise<number> {
    const execution = await this.records.executions.insert({ policy_id: policy.id, trigger, status: 'Running', status_message: '', stop_requested: false, start_time: nowIso(), end_time: null });
    const repoMatches = matcher(policy.filters, 'repository');
    const tagMatches = matcher(policy.filters, 'tag');
    const selected: { repository: string; tag: string }[] = [];
    const repositories = only ? [only.repository] : await this.registry.repositories.inProject(project);
    for (const repository of repositories) {
      // Harbor's repository filter names the repository inside the project.
      if (!repoMatches(repository.slice(project.length + 1))) continue;
      const tags = only ? [only.tag] : ((await this.registry.tags.list(repository)) ?? []);
      for (const tag of tags) if (tagMatches(tag)) selected.push({ repository, tag });
    }
    for (const { repository, tag } of selected) {
      const task = await this.queue.create(repository, tag);
      if (!task) continue; // deleted since it was listed
      await this.records.tasks.insert({
        execution_id: execution.id,
        queue_task_id: task.id,
        artifact: `${repository}:${tag}`,
        digest: task.manifest,
        blobs: task.blobs.length,
        status: 'Running',
        status_message: '',
        creation_time: nowIso(),
        end_time: null,
      });
    }
    if (selected.length === 0) await this.records.executions.update({ ...execution, status: 'Success', status_message: 'no artifact matched the filters', end_time: nowIso() });
    return execution.id;
  }

  /** The execution with its status brought up to date from its tasks. */
  async refresh(execution: PreheatExecutionRecord): Promise<{ execution: PreheatExecutionRecord; tasks: PreheatTaskRecord[] }> {
    const tasks = (await this.records.tasks.list({ where: { execution_id: execution.id }, limit: 10_000 })).items;
    if (TERMINAL.has(execution.status)) return { execution, tasks };
    const fresh: PreheatTaskRecord[] = [];
    for (const t of tasks) fresh.push(TERMINAL.has(t.status) ? t : await this.refreshTask(t, execution.stop_requested));
    if (!fresh.every((t) => TERMINAL.has(t.status))) return { execution, tasks: fresh };
    const status: RunStatus = execution.stop_requested && fresh.some((t) => t.status === 'Stopped') ? 'Stopped' : fresh.some((t) => t.status === 'Error') ? 'Error' : 'Success';
    const failed = fresh.filter((t) => t.status === 'Error').length;
    const done = { ...execution, status, status_message: failed ? `${failed} of ${fresh.length} artifacts failed` : '', end_time: nowIso() };
    await this.records.executions.update(done);
    return { execution: done, tasks: fresh };
  }

  /** The seed agents' reports on a task, as a log. */
  async log(task: PreheatTaskRecord): Promise<string> {
    const lines = [`${task.creation_time} preheat ${task.artifact} (${task.digest}, ${task.blobs} blobs) queued for seed agents as task ${task.queue_task_id}`];
    for (const a of await this.queue.results(task.queue_task_id)) {
      lines.push(`${new Date(a.at).toISOString()} seed agent ${a.peer}: ${a.fetched} of ${task.blobs} blobs held, ${a.failed} failed`);
    }
    if (task.end_time) lines.push(`${task.end_time} ${task.status}${task.status_message ? `: ${task.status_message}` : ''}`);
    return `${lines.join('\n')}\n`;
  }

  private async refreshTask(t: PreheatTaskRecord, stopping: boolean): Promise<PreheatTaskRecord> {
    const acks = await this.queue.results(t.queue_task_id);
    let status: RunStatus = 'Running';
    let message = '';
    if (acks.some((a) => a.failed === 0 && a.fetched >= t.blobs)) status = 'Success';
    else if (acks.length > 0 && acks.every((a) => a.failed > 0)) {
      status = 'Error';
      message = `seed agents could not fetch ${Math.min(...acks.map((a) => a.failed))} blobs`;
    } else if (stopping) status = 'Stopped';
    else if (Date.now() - Date.parse(t.creation_time) > NO_SEED_MS) {
      status = 'Error';
      message = 'no seed agent reported on this task (is an agent running with BERTH_AGENT_ROLE=seed?)';
    }
    if (status === 'Running') return t;
    const done = { ...t, status, status_message: message, end_time: nowIso() };
    await this.records.tasks.update(done);
    return done;
  }
}
