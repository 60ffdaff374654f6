import { useEffect, useRef, useState } from 'preact/hooks';
import { change, list } from '../api';
import type { Policy, RegistryEndpoint } from '../replication-types';
import { useLoad } from '../use-load';
import { Link } from './link';
import { ErrorNote } from './notice';
import { FormActions } from './form-actions';

const filterOf = (p: Policy | undefined, type: string) => p?.filters.find((f) => f.type === type && f.decoration !== 'excludes')?.value ?? '';

/** Creates a replication policy, or with `editing` changes that one (PUT, the same fields prefilled). Mount it
 *  with a `key` per policy so the fields start from the policy's values. */
export function PolicyForm({ onCreated, editing, onDone }: { onCreated: () => void; editing?: Policy; onDone?: () => void }) {
  const registries = useLoad(() => list<RegistryEndpoint>('/registries?page_size=100'), []);
  const [error, setError] = useState<Error>();
  const [trigger, setTrigger] = useState(editing?.trigger.type ?? 'manual');
  const [mode, setMode] = useState(editing && editing.src_registry.id !== 0 ? 'pull' : 'push');
  const remoteOf = editing && (editing.src_registry.id !== 0 ? editing.src_registry : editing.dest_registry);
  const nameField = useRef<HTMLInputElement>(null);
  // Edit was pressed in the table above: bring the form into view with the keyboard focus in it.
  useEffect(() => {
    if (editing) nameField.current?.focus();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const d = new FormData(form);
    const remote = { id: Number(d.get('registry')) };
    const filters = [
      ...(d.get('name_filter') ? [{ type: 'name', value: String(d.get('name_filter')) }] : []),
      ...(d.get('tag_filter') ? [{ type: 'tag', value: String(d.get('tag_filter')) }] : []),
      // Filters the form does not show (excludes, labels) are kept as they are.
      ...(editing?.filters.filter((f) => !((f.type === 'name' || f.type === 'tag') && f.decoration !== 'excludes')) ?? []),
    ];
    const speed = Number(d.get('speed') || 0);
    setError(undefined);
    try {
      const body = {
        ...editing,
        name: String(d.get('name')),
        description: String(d.get('description') ?? editing?.description ?? ''),
        ...(mode === 'push' ? { dest_registry: remote, src_registry: { id: 0 } } : { src_registry: remote, dest_registry: { id: 0 } }),
        dest_namespace: String(d.get('dest_namespace') ?? ''),
        filters,
        trigger: { type: trigger, trigger_settings: { cron: String(d.get('cron') ?? '') } },
        replicate_deletion: Boolean(d.get('deletion')),
        override: editing?.override ?? true,
        speed: speed > 0 ? Math.round(speed * 1024) : -1,
        enabled: editing?.enabled ?? true,
      };
      if (editing) await change('PUT', `/replication/policies/${editing.id}`, body);
      else await change('POST', '/replication/policies', body);
      form.reset();
      setTrigger('manual');
      onCreated();
      onDone?.();
    } catch (err) {
      setError(err as Error);
    }
  };
  const items = registries.data?.items ?? [];
  return (
    <form class="card" onSubmit={submit} aria-labelledby="policy-form-title">
      <h2 id="policy-form-title">{editing ? `Edit policy ${editing.name}` : 'New replication policy'}</h2>
      {registries.data && items.length === 0 && (
        <p>
          Add a <Link href="/registries">registry</Link> first.
        </p>
      )}
      <div class="row">
        <label>
          Name
          <input name="name" required defaultValue={editing?.name} ref={nameField} />
        </label>
        <label>
          Mode
          <select name="mode" value={mode} onChange={(e) => setMode((e.target as HTMLSelectElement).value)}>
            <option value="push">Push-based (this registry → remote)</option>
            <option value="pull">Pull-based (remote → this registry)</option>
          </select>
        </label>
        <label>
          {mode === 'push' ? 'Destination registry' : 'Source registry'}
          <select name="registry" required defaultValue={remoteOf ? String(remoteOf.id) : undefined}>
            {items.map((r) => (
              <option key={r.id} value={String(r.id)}>
                {r.name} ({r.url})
              </option>
            ))}
          </select>
        </label>
      </div>
      <div class="row">
        <label>
          Repositories (glob, e.g. library/**)
          <input name="name_filter" defaultValue={filterOf(editing, 'name')} />
        </label>
        <label>
          Tags (glob)
          <input name="tag_filter" defaultValue={filterOf(editing, 'tag')} />
        </label>
        <label>
          Destination namespace
          <input name="dest_namespace" defaultValue={editing?.dest_namespace} />
        </label>
      </div>
      <div class="row">
        <label>
          Trigger
          <select name="trigger" value={trigger} onChange={(e) => setTrigger((e.target as HTMLSelectElement).value)}>
            <option value="manual">Manual</option>
            {mode === 'push' && <option value="event_based">On every push and delete</option>}
            <option value="scheduled">Scheduled (cron)</option>
          </select>
        </label>
        {trigger === 'scheduled' && (
          <label>
            Cron (seconds first, as Harbor)
            <input name="cron" required placeholder="0 0 * * * *" defaultValue={editing?.trigger.trigger_settings?.cron} />
          </label>
        )}
        <label>
          Bandwidth limit (KiB/s, empty: none)
          <input name="speed" type="number" min="0" defaultValue={editing?.speed && editing.speed > 0 ? String(editing.speed / 1024) : undefined} />
        </label>
        <label class="check">
          <input name="deletion" type="checkbox" defaultChecked={editing?.replicate_deletion} /> Replicate deletions
        </label>
      </div>
      <ErrorNote error={error} />
      <FormActions editing={Boolean(editing)} add="Create policy" save="Save policy" onCancel={onDone} disabled={items.length === 0} />
    </form>
  );
}
