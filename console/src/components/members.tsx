import { useState } from 'preact/hooks';
import { change, list } from '../api';
import { roles } from '../roles';
import { useLoad } from '../use-load';
import { Empty, ErrorNote } from './notice';
import { TableHead } from './table-head';
import { DangerButton } from './row-actions';

interface Member {
  id: number;
  entity_name: string;
  entity_type: string;
  role_id: number;
  role_name: string;
}

export function Members({ project }: { project: string }) {
  const path = `/projects/${encodeURIComponent(project)}/members`;
  const members = useLoad(() => list<Member>(`${path}?page_size=100`), [path]);
  const [error, setError] = useState<Error>();
  const act = async (f: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await f();
      members.reload();
    } catch (e) {
      setError(e as Error);
    }
  };
  const add = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    void act(async () => {
      await change('POST', path, { role_id: Number(data.get('role')), member_user: { username: String(data.get('username')) } });
      form.reset();
    });
  };
  return (
    <>
      <ErrorNote error={members.error ?? error} />
      {members.data?.items.length === 0 && <Empty>No members.</Empty>}
      {members.data && members.data.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Members of {project}</caption>
          <TableHead columns={['User', 'Role']} actions />
          <tbody>
            {members.data.items.map((m) => (
              <tr key={m.id}>
                <td>{m.entity_name}</td>
                <td>
                  <select
                    aria-label={`Role of ${m.entity_name}`}
                    value={String(m.role_id)}
                    onChange={(e) => act(() => change('PUT', `${path}/${m.id}`, { role_id: Number((e.target as HTMLSelectElement).value) }))}
                  >
                    {roles.map(([id, name]) => (
                      <option key={id} value={String(id)}>
                        {name}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  <DangerButton label={`Remove ${m.entity_name}`} onClick={() => act(() => change('DELETE', `${path}/${m.id}`))}>
                    Remove
                  </DangerButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="card" onSubmit={add} aria-labelledby="add-member">
        <h2 id="add-member">Add member</h2>
        <div class="row">
          <label>
            Username
            <input name="username" required autocomplete="off" />
          </label>
          <label>
            Role
            <select name="role">
              {roles.map(([id, name]) => (
                <option key={id} value={String(id)} selected={id === 2}>
                  {name}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="primary">
            Add member
          </button>
        </div>
      </form>
    </>
  );
}
