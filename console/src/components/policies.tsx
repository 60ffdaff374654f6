import { useState } from 'preact/hooks';
import { change, list } from '../api';
import type { Policy } from '../replication-types';
import { useLoad } from '../use-load';
import { Executions } from './executions';
import { Empty, ErrorNote } from './notice';
import { PolicyForm } from './policy-form';
import { TableHead } from './table-head';
import { DangerButton, EnableToggle } from './row-actions';

function direction(p: Policy): string {
  return p.src_registry.id === 0 ? `push to ${p.dest_registry.name}` : `pull from ${p.src_registry.name}`;
}

export function Policies() {
  const policies = useLoad(() => list<Policy>('/replication/policies?page_size=100'), []);
  const [error, setError] = useState<Error>();
  const [started, setStarted] = useState(0);
  const [editing, setEditing] = useState<Policy>();
  const act = async (f: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await f();
      policies.reload();
      setStarted((n) => n + 1);
    } catch (e) {
      setError(e as Error);
    }
  };
  const names = new Map((policies.data?.items ?? []).map((p) => [p.id, p.name]));
  return (
    <section>
      <h1>Replication</h1>
      <ErrorNote error={policies.error ?? error} />
      <h2>Policies</h2>
      {policies.data?.items.length === 0 && <Empty>No replication policies yet.</Empty>}
      {policies.data && policies.data.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Replication policies</caption>
          <TableHead columns={['Name', 'Direction', 'Filters', 'Trigger', 'Enabled']} actions />
          <tbody>
            {policies.data.items.map((p) => (
              <tr key={p.id}>
                <td>{p.name}</td>
                <td>{direction(p)}</td>
                <td>{p.filters.map((f) => `${f.type} ${f.decoration === 'excludes' ? '≠' : '='} ${f.value}`).join(', ') || 'everything'}</td>
                <td>
                  {p.trigger.type}
                  {p.trigger.type === 'scheduled' && ` (${p.trigger.trigger_settings?.cron})`}
                </td>
                <td>{p.enabled ? 'yes' : 'no'}</td>
                <td class="actions">
                  <button type="button" class="primary" disabled={!p.enabled} onClick={() => act(() => change('POST', '/replication/executions', { policy_id: p.id }))} aria-label={`Replicate now: ${p.name}`}>
                    Replicate
                  </button>
                  <EnableToggle enabled={p.enabled} onClick={() => act(() => change('PUT', `/replication/policies/${p.id}`, { ...p, enabled: !p.enabled }))} />
                  <button type="button" onClick={() => setEditing(p)} aria-label={`Edit policy ${p.name}`}>
                    Edit
                  </button>
                  <DangerButton label={`Delete policy ${p.name}`} onClick={() => act(() => change('DELETE', `/replication/policies/${p.id}`))}>
                    Delete
                  </DangerButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Executions policyNames={names} refresh={started} />
      {editing ? (
        <PolicyForm key={editing.id} editing={editing} onCreated={policies.reload} onDone={() => setEditing(undefined)} />
      ) : (
        <PolicyForm key="new" onCreated={policies.reload} />
      )}
    </section>
  );
}
