import { change, get, list } from '../api';
import { bytes, time } from '../format';
import type { Execution as ExecutionRecord, Task } from '../replication-types';
import { useInterval, useLoad } from '../use-load';
import { Link } from './link';
import { Empty, ErrorNote, Status } from './notice';
import { TableHead } from './table-head';
import { DangerButton } from './row-actions';

/** One execution and its tasks: what was copied, bytes, attempts, errors. */
export function Execution({ id }: { id: number }) {
  const execution = useLoad(() => get<ExecutionRecord>(`/replication/executions/${id}`), [id]);
  const tasks = useLoad(() => list<Task>(`/replication/executions/${id}/tasks?page_size=100`), [id]);
  const running = execution.data?.status === 'InProgress';
  useInterval(() => (execution.reload(), tasks.reload()), running ? 2000 : null);
  const e = execution.data;
  const total = (tasks.data?.items ?? []).reduce((s, t) => s + t.bytes, 0);
  return (
    <section>
      <p class="crumbs">
        <Link href="/replication">Replication</Link> /
      </p>
      <h1>Execution #{id}</h1>
      <ErrorNote error={execution.error ?? tasks.error} />
      {e && (
        <p class="meta">
          <Status value={e.status} />
          <span>
            {e.succeed}/{e.total} tasks succeeded{e.failed > 0 && `, ${e.failed} failed`}
          </span>
          <span>{bytes(total)} copied</span>
          <span>
            {time(e.start_time)} → {time(e.end_time)}
          </span>
          {running && (
            <DangerButton onClick={() => change('PUT', `/replication/executions/${id}`).then(execution.reload)}>
              Stop
            </DangerButton>
          )}
        </p>
      )}
      {e?.status_text && <p class="muted">{e.status_text}</p>}
      {tasks.data?.items.length === 0 && <Empty>No tasks (nothing to copy).</Empty>}
      {tasks.data && tasks.data.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Tasks</caption>
          <TableHead columns={['Operation', 'Source', 'Destination', 'Status', 'Bytes', 'Attempts', 'Error']} />
          <tbody>
            {tasks.data.items.map((t) => (
              <tr key={t.id}>
                <td>{t.operation}</td>
                <td>
                  <code>{t.src_resource}</code>
                </td>
                <td>
                  <code>{t.dst_resource}</code>
                </td>
                <td>
                  <Status value={t.status} />
                </td>
                <td>{bytes(t.bytes)}</td>
                <td>{t.attempts}</td>
                <td class="error-text">{t.error ?? t.note ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
