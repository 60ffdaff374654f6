import { list } from '../api';
import { useLoad } from '../use-load';
import { LogView } from './log-view';
import { Empty, ErrorNote, Status } from './notice';
import { TableHead } from './table-head';

interface Task {
  id: number;
  status: string;
  status_message: string;
  extra_attrs: { artifact: string; digest: string; blobs?: number };
}

/** One preheat execution's tasks: one artifact each, with the seed agents' log. */
export function PreheatTasks({ path, id }: { path: string; id: number }) {
  const tasks = useLoad(() => list<Task>(`${path}?page_size=100`), [path]);
  return (
    <>
      <ErrorNote error={tasks.error} />
      {tasks.data?.items.length === 0 && <Empty>No artifact matched.</Empty>}
      {tasks.data && tasks.data.items.length > 0 && (
        <table>
          <caption>Tasks of preheat execution #{id}</caption>
          <TableHead columns={['Artifact', 'Status', 'Log']} />
          <tbody>
            {tasks.data.items.map((t) => (
              <tr key={t.id}>
                <td>
                  <code>{t.extra_attrs.artifact}</code>
                </td>
                <td>
                  <Status value={t.status} />
                  {t.status_message && <div class="muted">{t.status_message}</div>}
                </td>
                <td>
                  <LogView path={`${path}/${t.id}/logs`} label={`Log of ${t.extra_attrs.artifact}`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
