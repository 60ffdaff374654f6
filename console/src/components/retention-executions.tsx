import { useState } from 'preact/hooks';
import { change, list } from '../api';
import { time } from '../format';
import { useAction, useInterval, useLoad } from '../use-load';
import { Empty, ErrorNote, Status } from './notice';
import { RetentionTasks } from './retention-tasks';
import { TableHead } from './table-head';
import { DangerButton } from './row-actions';

interface Execution {
  id: number;
  status: string;
  trigger: string;
  dry_run: boolean;
  start_time: string;
  end_time: string;
}

/** A retention policy's runs, newest first, each with its per-repository tasks and their logs. */
export function RetentionExecutions({ policyId, refresh }: { policyId: number; refresh: number }) {
  const base = `/retentions/${policyId}/executions`;
  const executions = useLoad(() => list<Execution>(`${base}?page_size=20`), [base, refresh]);
  const action = useAction(executions.reload);
  const [open, setOpen] = useState<number>();
  const running = (executions.data?.items ?? []).some((e) => e.status === 'Running');
  useInterval(executions.reload, running ? 1000 : null);
  return (
    <>
      <h2>Executions</h2>
      <ErrorNote error={executions.error ?? action.error} />
      {executions.data?.items.length === 0 && <Empty>The policy has not run yet.</Empty>}
      {executions.data && executions.data.items.length > 0 && (
        <table aria-live="polite">
          <caption class="visually-hidden">Retention executions</caption>
          <TableHead columns={['Id', 'Status', 'Kind', 'Started', 'Ended']} actions />
          <tbody>
            {executions.data.items.map((e) => (
              <tr key={e.id}>
                <td>#{e.id}</td>
                <td>
                  <Status value={e.status} />
                </td>
                <td>
                  {e.trigger.toLowerCase()}
                  {e.dry_run && ', dry run'}
                </td>
                <td>{time(e.start_time)}</td>
                <td>{time(e.end_time)}</td>
                <td class="actions">
                  <button type="button" aria-expanded={open === e.id} onClick={() => setOpen(open === e.id ? undefined : e.id)} aria-label={`Tasks of execution ${e.id}`}>
                    Tasks
                  </button>
                  {e.status === 'Running' && (
                    <DangerButton label={`Stop execution ${e.id}`} onClick={() => action.run(() => change('PATCH', `${base}/${e.id}`, { action: 'stop' }))}>
                      Stop
                    </DangerButton>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open !== undefined && <RetentionTasks path={`${base}/${open}/tasks`} id={open} />}
    </>
  );
}
