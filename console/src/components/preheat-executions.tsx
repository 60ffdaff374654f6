import { useState } from 'preact/hooks';
import { list } from '../api';
import { time } from '../format';
import { useInterval, useLoad } from '../use-load';
import { Empty, ErrorNote, Status } from './notice';
import { PreheatTasks } from './preheat-tasks';
import { TableHead } from './table-head';

interface Execution {
  id: number;
  status: string;
  status_message: string;
  trigger: string;
  start_time: string;
  end_time: string;
  metrics: { task_count: number; success_task_count: number; error_task_count: number };
}

/** A preheat policy's executions, newest first, refreshed while one runs. */
export function PreheatExecutions({ path, name, refresh }: { path: string; name: string; refresh: number }) {
  const executions = useLoad(() => list<Execution>(`${path}/executions?page_size=20`), [path, refresh]);
  const [open, setOpen] = useState<number>();
  const running = (executions.data?.items ?? []).some((e) => e.status === 'Running' || e.status === 'Pending');
  useInterval(executions.reload, running ? 1000 : null);
  return (
    <>
      <ErrorNote error={executions.error} />
      {executions.data?.items.length === 0 && <Empty>{name} has not run yet.</Empty>}
      {executions.data && executions.data.items.length > 0 && (
        <table aria-live="polite">
          <caption>Executions of {name}</caption>
          <TableHead columns={['Id', 'Status', 'Trigger', 'Tasks', 'Started', 'Ended']} actions />
          <tbody>
            {executions.data.items.map((e) => (
              <tr key={e.id}>
                <td>#{e.id}</td>
                <td>
                  <Status value={e.status} />
                  {e.status_message && <div class="muted">{e.status_message}</div>}
                </td>
                <td>{e.trigger.toLowerCase()}</td>
                <td>
                  {e.metrics.success_task_count}/{e.metrics.task_count} ok{e.metrics.error_task_count > 0 && `, ${e.metrics.error_task_count} failed`}
                </td>
                <td>{time(e.start_time)}</td>
                <td>{time(e.end_time)}</td>
                <td>
                  <button type="button" aria-expanded={open === e.id} aria-label={`Tasks of preheat execution ${e.id}`} onClick={() => setOpen(open === e.id ? undefined : e.id)}>
                    Tasks
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open !== undefined && <PreheatTasks path={`${path}/executions/${open}/tasks`} id={open} />}
    </>
  );
}
