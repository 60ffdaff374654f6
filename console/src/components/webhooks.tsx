import { useState } from 'preact/hooks';
import { change, get, list } from '../api';
import { time } from '../format';
import { useAction, useLoad } from '../use-load';
import { Empty, ErrorNote } from './notice';
import { WebhookExecutions } from './webhook-executions';
import { TableHead } from './table-head';

interface Target {
  type: 'http';
  address: string;
  auth_header?: string;
  skip_cert_verify: boolean;
  payload_format: string;
}

interface Policy {
  id: number;
  name: string;
  description: string;
  targets: Target[];
  event_types: string[];
  enabled: boolean;
}

interface Events {
  event_type: string[];
  payload_formats: { formats: string[] }[];
}

const label = (event: string) => event.toLowerCase().replace(/_/g, ' ');

/** A project's webhook policies (Harbor's /projects/{p}/webhook): where events are POSTed, which ones, and the deliveries. */
export function Webhooks({ project }: { project: string }) {
  const base = `/projects/${encodeURIComponent(project)}/webhook`;
  const policies = useLoad(() => list<Policy>(`${base}/policies?page_size=100`), [base]);
  const events = useLoad(() => get<Events>(`${base}/events`), [base]);
  const last = useLoad(() => get<{ policy_name: string; last_trigger_time?: string }[]>(`${base}/lasttrigger`), [base, policies.data]);
  const action = useAction(policies.reload);
  const [open, setOpen] = useState<number>();
  const lastOf = (name: string) =>
    (last.data ?? [])
      .filter((l) => l.policy_name === name && l.last_trigger_time)
      .map((l) => l.last_trigger_time!)
      .sort()
      .pop();
  const add = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const auth = String(data.get('auth') ?? '');
    const target: Target = { type: 'http', address: String(data.get('address')), skip_cert_verify: data.get('skip') === 'on', payload_format: String(data.get('format')), ...(auth && { auth_header: auth }) };
    void action.run(async () => {
      await change('POST', `${base}/policies`, { name: data.get('name'), description: '', targets: [target], event_types: data.getAll('events'), enabled: true });
      form.reset();
    });
  };
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
                  <button type="button" aria-label={`${p.enabled ? 'Disable' : 'Enable'} ${p.name}`} onClick={() => action.run(() => change('PUT', `${base}/policies/${p.id}`, { ...p, enabled: !p.enabled }))}>
                    {p.enabled ? 'Disable' : 'Enable'}
                  </button>
                  <button type="button" class="danger" aria-label={`Delete ${p.name}`} onClick={() => action.run(() => change('DELETE', `${base}/policies/${p.id}`))}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open !== undefined && <WebhookExecutions path={`${base}/policies/${open}`} name={policies.data?.items.find((p) => p.id === open)?.name ?? ''} />}
      <form class="card" onSubmit={add} aria-labelledby="add-webhook">
        <h2 id="add-webhook">Add webhook</h2>
        <div class="row">
          <label>
            Name
            <input name="name" required autocomplete="off" />
          </label>
          <label>
            Endpoint URL
            <input name="address" type="url" required placeholder="https://hooks.example.com/berth" />
          </label>
          <label>
            Auth header
            <input name="auth" autocomplete="off" placeholder="Bearer …" />
          </label>
          <label>
            Payload format
            <select name="format">
              {(events.data?.payload_formats[0]?.formats ?? ['Default']).map((f) => (
                <option key={f}>{f}</option>
              ))}
            </select>
          </label>
          <label class="check">
            <input name="skip" type="checkbox" /> Skip certificate verification
          </label>
        </div>
        <fieldset>
          <legend>Events</legend>
          {(events.data?.event_type ?? []).map((ev) => (
            <label class="check" key={ev}>
              <input type="checkbox" name="events" value={ev} defaultChecked={ev === 'PUSH_ARTIFACT'} /> {label(ev)}
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary">
          Add webhook
        </button>
      </form>
    </>
  );
}
