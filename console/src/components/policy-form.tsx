import { useState } from 'preact/hooks';
import { change, list } from '../api';
import type { RegistryEndpoint } from '../replication-types';
import { useLoad } from '../use-load';
import { Link } from './link';
import { ErrorNote } from './notice';

export function PolicyForm({ onCreated }: { onCreated: () => void }) {
  const registries = useLoad(() => list<RegistryEndpoint>('/registries?page_size=100'), []);
  const [error, setError] = useState<Error>();
  const [trigger, setTrigger] = useState('manual');
  const [mode, setMode] = useState('push');
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const d = new FormData(form);
    const remote = { id: Number(d.get('registry')) };
    const filters = [
      ...(d.get('name_filter') ? [{ type: 'name', value: String(d.get('name_filter')) }] : []),
      ...(d.get('tag_filter') ? [{ type: 'tag', value: String(d.get('tag_filter')) }] : []),
    ];
    const speed = Number(d.get('speed') || 0);
    setError(undefined);
    try {
      await change('POST', '/replication/policies', {
        name: String(d.get('name')),
        description: String(d.get('description') ?? ''),
        ...(mode === 'push' ? { dest_registry: remote } : { src_registry: remote }),
        dest_namespace: String(d.get('dest_namespace') ?? ''),
        filters,
        trigger: { type: trigger, trigger_settings: { cron: String(d.get('cron') ?? '') } },
        replicate_deletion: Boolean(d.get('deletion')),
        override: true,
        ...(speed > 0 && { speed: Math.round(speed * 1024) }),
        enabled: true,
      });
      form.reset();
      setTrigger('manual');
      onCreated();
    } catch (err) {
      setError(err as Error);
    }
  };
  const items = registries.data?.items ?? [];
  return (
    <form class="card" onSubmit={submit} aria-labelledby="new-policy">
      <h2 id="new-policy">New replication policy</h2>
      {registries.data && items.length === 0 && (
        <p>
          Add a <Link href="/registries">registry</Link> first.
        </p>
      )}
      <div class="row">
        <label>
          Name
          <input name="name" required />
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
          <select name="registry" required>
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
          <input name="name_filter" />
        </label>
        <label>
          Tags (glob)
          <input name="tag_filter" />
        </label>
        <label>
          Destination namespace
          <input name="dest_namespace" />
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
            <input name="cron" required placeholder="0 0 * * * *" />
          </label>
        )}
        <label>
          Bandwidth limit (KiB/s, empty: none)
          <input name="speed" type="number" min="0" />
        </label>
        <label class="check">
          <input name="deletion" type="checkbox" /> Replicate deletions
        </label>
      </div>
      <ErrorNote error={error} />
      <button type="submit" class="primary" disabled={items.length === 0}>
        Create policy
      </button>
    </form>
  );
}
