import { useState } from 'preact/hooks';
import { change, list, type Me } from '../api';
import { bytes, time } from '../format';
import { useLoad } from '../use-load';
import { Link } from './link';
import { Empty, ErrorNote } from './notice';
import { Pager } from './pager';
import { TableHead } from './table-head';

export interface Project {
  project_id: number;
  name: string;
  owner_name: string;
  creation_time: string;
  repo_count: number;
  current_user_role_id: number;
  metadata: Record<string, string>;
  storage_limit?: number;
}

const SIZE = 25;

export function Projects({ me }: { me: Me }) {
  const [q, setQ] = useState('');
  const [page, setPage] = useState(1);
  const projects = useLoad(() => list<Project>(`/projects?page=${page}&page_size=${SIZE}&sort=name${q ? `&name=${encodeURIComponent(q)}` : ''}`), [q, page]);
  return (
    <section>
      <h1>Projects</h1>
      <div class="toolbar">
        <label class="search">
          Search projects
          <input type="search" value={q} onInput={(e) => (setQ((e.target as HTMLInputElement).value), setPage(1))} placeholder="name contains…" />
        </label>
      </div>
      <ErrorNote error={projects.error} />
      {projects.data && projects.data.items.length === 0 && <Empty>No projects{q ? ` matching “${q}”` : ''}.</Empty>}
      {projects.data && projects.data.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Projects</caption>
          <TableHead columns={['Name', 'Access', 'Repositories', 'Quota', 'Owner', 'Created']} />
          <tbody>
            {projects.data.items.map((p) => (
              <tr key={p.project_id}>
                <td>
                  <Link href={`/projects/${encodeURIComponent(p.name)}`}>{p.name}</Link>
                </td>
                <td>{p.metadata.public === 'true' ? 'Public' : 'Private'}</td>
                <td>{p.repo_count}</td>
                <td>{p.storage_limit && p.storage_limit > 0 ? bytes(p.storage_limit) : 'unlimited'}</td>
                <td>{p.owner_name}</td>
                <td>{time(p.creation_time)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager page={page} size={SIZE} total={projects.data?.total} onPage={setPage} />
      {me.sysadmin_flag && <NewProject onCreated={projects.reload} />}
    </section>
  );
}

function NewProject({ onCreated }: { onCreated: () => void }) {
  const [error, setError] = useState<Error>();
  const [done, setDone] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const limitGiB = Number(data.get('limit') || 0);
    setError(undefined);
    try {
      const name = String(data.get('name'));
      await change('POST', '/projects', {
        project_name: name,
        metadata: { public: data.get('public') ? 'true' : 'false' },
        storage_limit: limitGiB > 0 ? Math.round(limitGiB * 1024 ** 3) : -1,
      });
      form.reset();
      setDone(`Project ${name} created.`);
      onCreated();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="new-project">
      <h2 id="new-project">New project</h2>
      <div class="row">
        <label>
          Name
          <input name="name" required pattern="[a-z0-9]+([._\-][a-z0-9]+)*" title="lowercase letters and digits, separated by . _ or -" />
        </label>
        <label>
          Storage quota (GiB, empty: unlimited)
          <input name="limit" type="number" min="0" step="any" />
        </label>
        <label class="check">
          <input name="public" type="checkbox" /> Public (anyone may pull)
        </label>
        <button type="submit" class="primary">
          Create project
        </button>
      </div>
      <ErrorNote error={error} />
      {done && <p role="status">{done}</p>}
    </form>
  );
}
