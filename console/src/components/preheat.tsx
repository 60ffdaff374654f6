import { useState } from 'preact/hooks';
import { change, list } from '../api';
import { useAction, useLoad } from '../use-load';
import { Empty, ErrorNote } from './notice';
import { PreheatExecutions } from './preheat-executions';
import { TableHead } from './table-head';
import { DangerButton, EnableToggle } from './row-actions';

interface Policy {
  id: number;
  name: string;
  description: string;
  provider_name: string;
  /** JSON strings, as Harbor sends them. */
  filters: string;
  trigger: string;
  enabled: boolean;
}

const parse = <T,>(s: string, fallback: T): T => {
  try {
    return JSON.parse(s) as T;
  } catch {
    return fallback;
  }
};
const filterOf = (p: Policy, type: string) => parse<{ type: string; value: unknown }[]>(p.filters, []).find((f) => f.type === type)?.value ?? '**';
const triggers: [string, string][] = [
  ['manual', 'Manual'],
  ['event_based', 'On push'],
];

/** A project's P2P preheat policies (Harbor's /projects/{p}/preheat/policies): which artifacts seed agents fetch ahead, and when. */
export function Preheat({ project }: { project: string }) {
  const base = `/projects/${encodeURIComponent(project)}/preheat/policies`;
  const policies = useLoad(() => list<Policy>(`${base}?page_size=100`), [base]);
  const [open, setOpen] = useState<string>();
  const [runs, setRuns] = useState(0);
  const action = useAction(policies.reload);
  const policyPath = (name: string) => `${base}/${encodeURIComponent(name)}`;
  const add = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const filters = [
      { type: 'repository', value: String(data.get('repo') || '**') },
      { type: 'tag', value: String(data.get('tag') || '**') },
    ];
    void action.run(async () => {
      await change('POST', base, { name: data.get('name'), description: '', filters: JSON.stringify(filters), trigger: JSON.stringify({ type: data.get('trigger') }), enabled: true });
      form.reset();
    });
  };
  const preheat = (name: string) =>
    action.run(async () => {
      await change('POST', policyPath(name));
      setOpen(name);
      setRuns((n) => n + 1);
    });
  return (
    <>
      <ErrorNote error={policies.error ?? action.error} />
      {policies.data?.items.length === 0 && <Empty>No preheat policies.</Empty>}
      {policies.data && policies.data.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Preheat policies of {project}</caption>
          <TableHead columns={['Name', 'Repositories', 'Tags', 'Trigger', 'Provider', 'State']} actions />
          <tbody>
            {policies.data.items.map((p) => {
              const trigger = parse<{ type: string }>(p.trigger, { type: 'manual' }).type;
              return (
                <tr key={p.id}>
                  <td>{p.name}</td>
                  <td>
                    <code>{String(filterOf(p, 'repository'))}</code>
                  </td>
                  <td>
                    <code>{String(filterOf(p, 'tag'))}</code>
                  </td>
                  <td>{triggers.find(([t]) => t === trigger)?.[1] ?? trigger}</td>
                  <td>{p.provider_name}</td>
                  <td>{p.enabled ? 'Enabled' : 'Disabled'}</td>
                  <td class="actions">
                    <button type="button" disabled={!p.enabled} aria-label={`Preheat now: ${p.name}`} onClick={() => preheat(p.name)}>
                      Preheat now
                    </button>
                    <button type="button" aria-expanded={open === p.name} aria-label={`Executions of ${p.name}`} onClick={() => setOpen(open === p.name ? undefined : p.name)}>
                      Executions
                    </button>
                    <EnableToggle enabled={p.enabled} name={p.name} onClick={() => action.run(() => change('PUT', policyPath(p.name), { ...p, enabled: !p.enabled }))} />
                    <DangerButton label={`Delete ${p.name}`} onClick={() => action.run(() => change('DELETE', policyPath(p.name)))}>
                      Delete
                    </DangerButton>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {open !== undefined && <PreheatExecutions path={policyPath(open)} name={open} refresh={runs} />}
      <form class="card" onSubmit={add} aria-labelledby="add-preheat">
        <h2 id="add-preheat">Add preheat policy</h2>
        <div class="row">
          <label>
            Name
            <input name="name" required autocomplete="off" />
          </label>
          <label>
            Repository pattern
            <input name="repo" placeholder="**" autocomplete="off" />
          </label>
          <label>
            Tag pattern
            <input name="tag" placeholder="**" autocomplete="off" />
          </label>
          <label>
            Trigger
            <select name="trigger">
              {triggers.map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="primary">
            Add policy
          </button>
        </div>
      </form>
    </>
  );
}
