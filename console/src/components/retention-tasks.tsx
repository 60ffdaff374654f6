import { list } from '../api';
import { useLoad } from '../use-load';
import { LogView } from './log-view';
import { Empty, ErrorNote, Status } from './notice';
import { TableHead } from './table-head';

interface Task {
  id: number;
  repository: string;
  status: string;
  total: number;
  retained: number;
}

/** One retention run's tasks: one per repository, what it kept, and its log (what was or would be deleted). */
export function RetentionTasks({ path, id }: { path: string; id: number }) {
  const tasks = useLoad(() => list<Task>(`${path}?page_size=100`), [path]);
  return (
    <>
      <ErrorNote error={tasks.error} />
      {tasks.data?.items.length === 0 && <Empty>No repository was in scope.</Empty>}
      {tasks.data && tasks.data.items.length > 0 && (
        <table>
          <caption>Tasks of execution #{id}</caption>
          <TableHead columns={['Repository', 'Status', 'Retained', 'Log']} />
          <tbody>
            {tasks.data.items.map((t) => (
              <tr key={t.id}>
                <td>{t.repository}</td>
                <td>
                  <Status value={t.status} />
                </td>
                <td>
                  {t.retained} of {t.total}
                </td>
                <td>
                  <LogView path={`${path}/${t.id}`} label={`Log of ${t.repository}`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
