import { list } from '../api';
import { time } from '../format';
import { useInterval, useLoad } from '../use-load';
import { LogView } from './log-view';
import { Empty, ErrorNote, Status } from './notice';
import { TableHead } from './table-head';

interface Execution {
  id: number;
  status: string;
  status_message?: string;
  extra_attrs: { event_type: string };
  start_time: string;
  end_time?: string;
}

/** A webhook policy's deliveries (one execution per event and target, one task each), with each one's log. */
export function WebhookExecutions({ path, name }: { path: string; name: string }) {
  const executions = useLoad(() => list<Execution>(`${path}/executions?page_size=20`), [path]);
  const busy = (executions.data?.items ?? []).some((e) => e.status === 'Pending' || e.status === 'Running');
  useInterval(executions.reload, busy ? 1000 : null);
  return (
    <>
      <ErrorNote error={executions.error} />
      {executions.data?.items.length === 0 && <Empty>Nothing delivered for {name} yet.</Empty>}
      {executions.data && executions.data.items.length > 0 && (
        <table aria-live="polite">
          <caption>Deliveries of {name}</caption>
          <TableHead columns={['Id', 'Event', 'Status', 'Started', 'Ended', 'Log']} />
          <tbody>
            {executions.data.items.map((e) => (
              <tr key={e.id}>
                <td>#{e.id}</td>
                <td>{e.extra_attrs.event_type}</td>
                <td>
                  <Status value={e.status} />
                  {e.status_message && <div class="muted">{e.status_message}</div>}
                </td>
                <td>{time(e.start_time)}</td>
                <td>{time(e.end_time)}</td>
                <td>
                  <LogView path={`${path}/executions/${e.id}/tasks/${e.id}/log`} label={`Log of delivery ${e.id}`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
