import { useState } from 'preact/hooks';
import { change, list } from '../api';
import type { RegistryEndpoint } from '../replication-types';
import { useLoad } from '../use-load';
import { Empty, ErrorNote, Status } from './notice';
import { TableHead } from './table-head';
import { DangerButton } from './row-actions';

export function Registries() {
  const registries = useLoad(() => list<RegistryEndpoint>('/registries?page_size=100'), []);
  const [error, setError] = useState<Error>();
  const [note, setNote] = useState('');
  const act = async (f: () => Promise<unknown>, done?: string) => {
    setError(undefined);
    setNote('');
    try {
      await f();
      if (done) setNote(done);
      registries.reload();
    } catch (e) {
      setError(e as Error);
    }
  };
  const create = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const d = new FormData(form);
    const user = String(d.get('access_key') ?? '');
    void act(async () => {
      await change('POST', '/registries', {
        name: String(d.get('name')),
        url: String(d.get('url')),
        type: String(d.get('type')),
        description: String(d.get('description') ?? ''),
        insecure: Boolean(d.get('insecure')),
        ...(user && { credential: { type: 'basic', access_key: user, access_secret: String(d.get('access_secret') ?? '') } }),
      });
      form.reset();
    }, 'Registry added.');
  };
  return (
    <section>
      <h1>Registries</h1>
      <p class="muted">The remote registries replication policies push to or pull from: other Berth IDCs, CNCF distribution, Harbor.</p>
      <ErrorNote error={registries.error ?? error} />
      {note && <p role="status">{note}</p>}
      {registries.data?.items.length === 0 && <Empty>No registries yet.</Empty>}
      {registries.data && registries.data.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Registries</caption>
          <TableHead columns={['Name', 'URL', 'Type', 'IDC', 'Status']} actions />
          <tbody>
            {registries.data.items.map((r) => (
              <tr key={r.id}>
                <td>{r.name}</td>
                <td>
                  <code>{r.url}</code>
                  {r.insecure && <span class="muted"> (certificate not verified)</span>}
                </td>
                <td>{r.type}</td>
                <td>{r.idc ?? '—'}</td>
                <td>
                  <Status value={r.status ?? 'unknown'} />
                </td>
                <td class="actions">
                  <button type="button" onClick={() => act(() => change('POST', '/registries/ping', { id: r.id }), `${r.name} answers.`)}>
                    Test connection
                  </button>
                  <DangerButton label={`Delete ${r.name}`} onClick={() => act(() => change('DELETE', `/registries/${r.id}`))}>
                    Delete
                  </DangerButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="card" onSubmit={create} aria-labelledby="new-registry">
        <h2 id="new-registry">New registry</h2>
        <div class="row">
          <label>
            Name
            <input name="name" required />
          </label>
          <label>
            URL
            <input name="url" type="url" required placeholder="https://registry.idc2.example" />
          </label>
          <label>
            Type
            <select name="type">
              <option value="berth">Berth</option>
              <option value="docker-registry">Docker registry (distribution)</option>
              <option value="harbor">Harbor</option>
            </select>
          </label>
        </div>
        <div class="row">
          <label>
            Username
            <input name="access_key" autocomplete="off" />
          </label>
          <label>
            Password or secret
            <input name="access_secret" type="password" autocomplete="new-password" />
          </label>
          <label class="check">
            <input name="insecure" type="checkbox" /> Do not verify its certificate
          </label>
          <label>
            Description
            <input name="description" />
          </label>
        </div>
        <button type="submit" class="primary">
          Add registry
        </button>
      </form>
    </section>
  );
}
