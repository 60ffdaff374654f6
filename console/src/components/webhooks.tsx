import { useState } from 'preact/hooks';
import { change, get, list } from '../api';
import { time } from '../format';
import { useAction, useLoad } from '../use-load';
import { Empty, ErrorNote } from './notice';
import { WebhookExecutions } from './webhook-executions';
import { label, WebhookForm, type Events, type Policy } from './webhook-form';
import { TableHead } from './table-head';
import { DangerButton, EnableToggle } from './row-actions';


/** A project's webhook policies (Harbor's /projects/{p}/webhook): where events are POSTed, which ones, and the deliveries. */
export function Webhooks({ project }: { project: string }) {
  const base = `/projects/${encodeURIComponent(project)}/webhook`;
  const policies = useLoad(() => list<Policy>(`${base}/policies?page_size=100`), [base]);
  const events = useLoad(() => get<Events>(`${base}/events`), [base]);
  const last = useLoad(() => get<{ policy_name: string; last_trigger_time?: string }[]>(`${base}/lasttrigger`), [base, policies.data]);
  const action = useAction(policies.reload);
  const [open, setOpen] = useState<number>();
  const [editing, setEditing] = useState<Policy>();
  const lastOf = (name: string) =>
    (last.data ?? [])
      .filter((l) => l.policy_name === name && l.last_trigger_time)
      .map((l) => l.last_trigger_time!)
      .sort()
      .pop();
  return (
    <>
      <ErrorNote error={policies.error ?? events.error ?? action.error} />
      {policies.data?.items.length === 0 && <Empty>No webhooks.</Empty>}
      {policies.data && policies.data.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Webhooks of {project}</caption>
          <TableHead columns={['Name', 'Endpoint', 'Events', 'State', 'Last triggered']} actions />
          <tbody>
            {policies.data.items.map((p) => (
              <tr key={p.id}>
                <td>{p.name}</td>
                <td>
                  {p.targets.map((t) => (
                    <div key={t.address}>
                      <code>{t.address}</code> <span class="muted">{t.payload_format}</span>
                    </div>
                  ))}
                </td>
                <td>{p.event_types.map(label).join(', ')}</td>
                <td>{p.enabled ? 'Enabled' : 'Disabled'}</td>
                <td>{time(lastOf(p.name))}</td>
                <td class="actions">
                  <button type="button" aria-expanded={open === p.id} aria-label={`Deliveries of ${p.name}`} onClick={() => setOpen(open === p.id ? undefined : p.id)}>
                    Deliveries
                  </button>
                  <EnableToggle enabled={p.enabled} name={p.name} onClick={() => action.run(() => change('PUT', `${base}/policies/${p.id}`, { ...p, enabled: !p.enabled }))} />
                  <button type="button" aria-label={`Edit ${p.name}`} onClick={() => setEditing(p)}>
                    Edit
                  </button>
                  <DangerButton label={`Delete ${p.name}`} onClick={() => action.run(() => change('DELETE', `${base}/policies/${p.id}`))}>
                    Delete
                  </DangerButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open !== undefined && <WebhookExecutions path={`${base}/policies/${open}`} name={policies.data?.items.find((p) => p.id === open)?.name ?? ''} />}
      {editing ? (
        <WebhookForm key={editing.id} base={base} events={events.data} editing={editing} onSaved={policies.reload} onDone={() => setEditing(undefined)} />
      ) : (
        <WebhookForm key="new" base={base} events={events.data} onSaved={policies.reload} />
      )}
    </>
  );
}
