import { useEffect, useRef } from 'preact/hooks';
import { change } from '../api';
import { useAction } from '../use-load';
import { ErrorNote } from './notice';
import { FormActions } from './form-actions';

export interface Target {
  type: 'http';
  address: string;
  auth_header?: string;
  skip_cert_verify: boolean;
  payload_format: string;
}

export interface Policy {
  id: number;
  name: string;
  description: string;
  targets: Target[];
  event_types: string[];
  enabled: boolean;
}

export interface Events {
  event_type: string[];
  payload_formats: { formats: string[] }[];
}

export const label = (event: string) => event.toLowerCase().replace(/_/g, ' ');

/** Adds a webhook policy to a project, or with `editing` changes that one (PUT, fields prefilled; an empty auth
 *  header keeps the one stored). Mount it with a `key` per policy. */
export function WebhookForm({ base, events, editing, onSaved, onDone }: { base: string; events?: Events; editing?: Policy; onSaved: () => void; onDone?: () => void }) {
  const action = useAction(onSaved);
  const target = editing?.targets[0];
  const nameField = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (editing) nameField.current?.focus();
  }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const auth = String(data.get('auth') ?? '') || target?.auth_header || '';
    const t: Target = { type: 'http', address: String(data.get('address')), skip_cert_verify: data.get('skip') === 'on', payload_format: String(data.get('format')), ...(auth && { auth_header: auth }) };
    const body = { ...editing, name: data.get('name'), description: editing?.description ?? '', targets: [t], event_types: data.getAll('events'), enabled: editing?.enabled ?? true };
    void action.run(async () => {
      await change(editing ? 'PUT' : 'POST', editing ? `${base}/policies/${editing.id}` : `${base}/policies`, body);
      form.reset();
      onDone?.();
    });
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="webhook-form-title">
      <h2 id="webhook-form-title">{editing ? `Edit webhook ${editing.name}` : 'Add webhook'}</h2>
      <ErrorNote error={action.error} />
      <div class="row">
        <label>
          Name
          <input name="name" required autocomplete="off" defaultValue={editing?.name} ref={nameField} />
        </label>
        <label>
          Endpoint URL
          <input name="address" type="url" required placeholder="https://hooks.example.com/berth" defaultValue={target?.address} />
        </label>
        <label>
          Auth header
          <input name="auth" autocomplete="off" placeholder={target?.auth_header ? '(unchanged)' : 'Bearer …'} />
        </label>
        <label>
          Payload format
          <select name="format" defaultValue={target?.payload_format}>
            {(events?.payload_formats[0]?.formats ?? ['Default']).map((f) => (
              <option key={f}>{f}</option>
            ))}
          </select>
        </label>
        <label class="check">
          <input name="skip" type="checkbox" defaultChecked={target?.skip_cert_verify} /> Skip certificate verification
        </label>
      </div>
      <fieldset>
        <legend>Events</legend>
        {(events?.event_type ?? []).map((ev) => (
          <label class="check" key={ev}>
            <input type="checkbox" name="events" value={ev} defaultChecked={editing ? editing.event_types.includes(ev) : ev === 'PUSH_ARTIFACT'} /> {label(ev)}
          </label>
        ))}
      </fieldset>
      <FormActions editing={Boolean(editing)} add="Add webhook" save="Save webhook" onCancel={onDone} />
    </form>
  );
}
