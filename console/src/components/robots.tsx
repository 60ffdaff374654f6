import { useState } from 'preact/hooks';
import { change, list } from '../api';
import { time } from '../format';
import { useLoad } from '../use-load';
import { CopyField } from './copy-button';
import { Empty, ErrorNote } from './notice';
import { TableHead } from './table-head';
import { DangerButton } from './row-actions';

interface Robot {
  id: number;
  name: string;
  description: string;
  disable: boolean;
  expires_at: number;
  creation_time: string;
  permissions: { kind: string; namespace: string; access: { resource: string; action: string }[] }[];
}

/** What a robot may do in its project, by checkbox. */
const grants: [string, string, string][] = [
  ['repository', 'pull', 'Pull'],
  ['repository', 'push', 'Push'],
  ['artifact', 'delete', 'Delete artifacts'],
  ['tag', 'create', 'Create tags'],
];

export function Robots({ project, projectId }: { project: string; projectId: number }) {
  const robots = useLoad(() => list<Robot>(`/robots?page_size=100&q=${encodeURIComponent(`Level=project,ProjectID=${projectId}`)}`), [projectId]);
  const [created, setCreated] = useState<{ name: string; secret: string }>();
  const [error, setError] = useState<Error>();
  const mine = (robots.data?.items ?? []).filter((r) => r.permissions.some((p) => p.kind === 'project' && p.namespace === project));
  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const access = grants.filter(([res, act]) => data.get(`${res}:${act}`)).map(([resource, action]) => ({ resource, action }));
    setError(undefined);
    try {
      const days = Number(data.get('days') || -1);
      const r = await change<{ name: string; secret: string }>('POST', '/robots', {
        name: String(data.get('name')),
        description: String(data.get('description') ?? ''),
        level: 'project',
        duration: days > 0 ? days : -1,
        permissions: [{ kind: 'project', namespace: project, access }],
      });
      setCreated({ name: r.body.name, secret: r.body.secret });
      form.reset();
      robots.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const remove = async (r: Robot) => {
    try {
      await change('DELETE', `/robots/${r.id}`);
      robots.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <>
      <ErrorNote error={robots.error ?? error} />
      {created && (
        <div class="card secret" role="status">
          <h2>Robot {created.name} created</h2>
          <p>This secret is shown once; copy it now.</p>
          <CopyField text={created.name} label="Copy robot name" />
          <CopyField text={created.secret} label="Copy robot secret" />
          <button type="button" onClick={() => setCreated(undefined)}>
            Done
          </button>
        </div>
      )}
      {robots.data && mine.length === 0 && <Empty>No robot accounts in {project}.</Empty>}
      {mine.length > 0 && (
        <table>
          <caption class="visually-hidden">Robot accounts of {project}</caption>
          <TableHead columns={['Name', 'Permissions', 'Expires', 'Created']} actions />
          <tbody>
            {mine.map((r) => (
              <tr key={r.id}>
                <td>
                  {r.name}
                  {r.disable && <span class="muted"> (disabled)</span>}
                </td>
                <td>{r.permissions.flatMap((p) => p.access.map((a) => `${a.resource}:${a.action}`)).join(', ')}</td>
                <td>{r.expires_at === -1 ? 'never' : time(r.expires_at)}</td>
                <td>{time(r.creation_time)}</td>
                <td>
                  <DangerButton label={`Delete ${r.name}`} onClick={() => remove(r)}>
                    Delete
                  </DangerButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="card" onSubmit={create} aria-labelledby="new-robot">
        <h2 id="new-robot">New robot account</h2>
        <div class="row">
          <label>
            Name
            <input name="name" required pattern="[a-z0-9]+([._\-][a-z0-9]+)*" title="lowercase letters and digits" />
          </label>
          <label>
            Description
            <input name="description" />
          </label>
          <label>
            Expires after (days, empty: never)
            <input name="days" type="number" min="1" />
          </label>
        </div>
        <fieldset>
          <legend>Permissions</legend>
          {grants.map(([res, act, label]) => (
            <label class="check" key={`${res}:${act}`}>
              <input type="checkbox" name={`${res}:${act}`} defaultChecked={act === 'pull' || act === 'push'} /> {label}
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary">
          Create robot
        </button>
      </form>
    </>
  );
}
