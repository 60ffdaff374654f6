import type { Logger } from '../../../core/log.js';
import type { Candidate, Retention } from '../../../registry/retention.js';
import type { Repositories } from '../../../registry/repositories.js';
import type { RetentionExecutionRecord, RetentionPolicyRecord, RetentionRecords } from './records.js';

// Runs a retention policy over its project: one task per repository, its log listing what was retained, deleted
// (or, in a dry run, would be) and kept for a reason. Deletes go through registry/ (registry/retention.ts).

const iso = () => new Date().toISOString();

function line(c: Candidate): string {
  return `${c.digest} tags=[${c.tags.join(',')}] pushed=${new Date(c.pushedAt).toISOString()} pulled=${c.pulledAt ? new Date(c.pulledAt).toISOString() : 'never'}`;
}

export class RetentionRunner {
  constructor(
    private readonly records: RetentionRecords,
    private readonly retention: Retention,
    private readonly repositories: Repositories,
    private readonly log: Logger,
  ) {}

  /** Creates the execution and runs it in the background; its id. */
  async start(policy: RetentionPolicyRecord, project: string, trigger: RetentionExecutionRecord['trigger'], dryRun: boolean): Promise<number> {
    const execution = await this.records.executions.insert({ policy_id: policy.id, status: 'Running', trigger, dry_run: dryRun, stop_requested: false, start_time: iso(), end_time: null });
    void this.run(execution, policy, project).catch(async (err: unknown) => {
      this.log.error({ err, execution: execution.id }, 'retention run failed');
      await this.records.executions.update({ ...execution, status: 'Error', end_time: iso() }).catch(() => undefined);
    });
    return execution.id;
  }

  private async run(execution: RetentionExecutionRecord, policy: RetentionPolicyRecord, project: string): Promise<void> {
    let stopped = false;
    const isStopped = () => stopped;
    let failed = false;
    for (const repository of await this.repositories.inProject(project)) {
      stopped ||= (await this.records.executions.get(execution.id))?.stop_requested ?? false;
      const task = await this.records.tasks.insert({ execution_id: execution.id, repository, status: 'Running', total: 0, retained: 0, log: '', start_time: iso(), end_time: null });
      if (stopped) {
        await this.records.tasks.update({ ...task, status: 'Stopped', log: 'stopped before this repository\n', end_time: iso() });
        continue;
      }
      try {
        const out = await this.retention.apply(repository, repository.slice(project.length + 1), policy.rules, execution.dry_run, isStopped);
        const lines = [
          `${execution.dry_run ? 'dry run: ' : ''}${repository}: ${out.total} artifacts, ${out.retained.length} retained, ${out.deleted.length} ${execution.dry_run ? 'would be deleted' : 'deleted'}, ${out.kept.length} kept`,
          ...out.retained.map((c) => `retained ${line(c)}`),
          ...out.deleted.map((c) => `${execution.dry_run ? 'would delete' : 'deleted'} ${line(c)}`),
          ...out.kept.map((k) => `kept ${line(k.candidate)}: ${k.reason}`),
        ];
        await this.records.tasks.update({ ...task, status: 'Success', total: out.total, retained: out.retained.length + out.kept.length, log: `${lines.join('\n')}\n`, end_time: iso() });
      } catch (err) {
        failed = true;
        await this.records.tasks.update({ ...task, status: 'Error', log: `${(err as Error).message}\n`, end_time: iso() });
      }
    }
    const status = stopped ? 'Stopped' : failed ? 'Error' : 'Success';
    const current = (await this.records.executions.get(execution.id)) ?? execution;
    await this.records.executions.update({ ...current, status, end_time: iso() });
  }
}
