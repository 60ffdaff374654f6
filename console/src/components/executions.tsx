import { useState } from 'preact/hooks';
import { change, list } from '../api';
import { time } from '../format';
import type { Execution } from '../replication-types';
import { useInterval, useLoad } from '../use-load';
import { Link } from './link';
import { Empty, ErrorNote, Status } from './notice';
import { TableHead } from './table-head';
import { DangerButton } from './row-actions';

/** The latest executions, refreshed every 2 s while one is running. */
export function Executions({ policyNames, refresh }: { policyNames: Map<number, string>; refresh: number }) {
  const executions = useLoad(() => list<Execution>('/replication/executions?page_size=20'), [refresh]);
  const [error, setError] = useState<Error>();
  const running = (executions.data?.items ?? []).some((e) => e.status === 'InProgress');
  useInterval(executions.reload, running ? 2000 : null);
  const stop = async (id: number) => {
    try {
      await change('PUT', `/replication/executions/${id}`);
      executions.reload();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <>
      <h2>Executions</h2>
      <ErrorNote error={executions.error ?? error} />
      {executions.data?.items.length === 0 && <Empty>Nothing has run yet.</Empty>}
      {executions.data && executions.data.items.length > 0 && (
        <table aria-live="polite">
          <caption class="visually-hidden">Replication executions</caption>
          <TableHead columns={['Id', 'Policy', 'Status', 'Trigger', 'Tasks', 'Started', 'Ended']} actions />
          <tbody>
            {executions.data.items.map((e) => (
              <tr key={e.id}>
                <td>
                  <Link href={`/replication/executions/${e.id}`}>#{e.id}</Link>
                </td>
                <td>{policyNames.get(e.policy_id) ?? e.policy_id}</td>
                <td>
                  <Status value={e.status} />
                  {e.status_text && <div class="muted">{e.status_text}</div>}
                </td>
                <td>{e.trigger}</td>
                <td>
                  {e.succeed}/{e.total} ok{e.failed > 0 && `, ${e.failed} failed`}
                  {e.in_progress > 0 && `, ${e.in_progress} running`}
                </td>
                <td>{time(e.start_time)}</td>
                <td>{time(e.end_time)}</td>
                <td>
                  {e.status === 'InProgress' && (
                    <DangerButton label={`Stop execution ${e.id}`} onClick={() => stop(e.id)}>
                      Stop
                    </DangerButton>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
