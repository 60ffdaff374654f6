import { useState } from 'preact/hooks';
import { list } from '../api';
import { time } from '../format';
import { useLoad } from '../use-load';
import { Link } from './link';
import { Empty, ErrorNote } from './notice';
import { Pager } from './pager';
import { TableHead } from './table-head';

interface Repository {
  name: string;
  artifact_count: number;
  pull_count: number;
  update_time?: string;
}

const SIZE = 25;

export function Repositories({ project }: { project: string }) {
  const [q, setQ] = useState('');
  const [page, setPage] = useState(1);
  const repos = useLoad(
    () => list<Repository>(`/projects/${encodeURIComponent(project)}/repositories?page=${page}&page_size=${SIZE}${q ? `&q=${encodeURIComponent(`name=~${q}`)}` : ''}`),
    [project, q, page],
  );
  return (
    <>
      <label class="search">
        Search repositories
        <input type="search" value={q} onInput={(e) => (setQ((e.target as HTMLInputElement).value), setPage(1))} />
      </label>
      <ErrorNote error={repos.error} />
      {repos.data?.items.length === 0 && <Empty>No repositories yet. Push one: docker push {location.host}/{project}/IMAGE:TAG</Empty>}
      {repos.data && repos.data.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Repositories of {project}</caption>
          <TableHead columns={['Repository', 'Artifacts', 'Pulls', 'Last push']} />
          <tbody>
            {repos.data.items.map((r) => {
              const inner = r.name.slice(project.length + 1);
              return (
                <tr key={r.name}>
                  <td>
                    <Link href={`/projects/${encodeURIComponent(project)}/repositories/${encodeURIComponent(inner)}`}>{r.name}</Link>
                  </td>
                  <td>{r.artifact_count}</td>
                  <td>{r.pull_count}</td>
                  <td>{time(r.update_time)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager page={page} size={SIZE} total={repos.data?.total} onPage={setPage} />
    </>
  );
}
