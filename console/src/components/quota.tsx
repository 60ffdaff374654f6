import { change, get, list, type Me } from '../api';
import { bytes } from '../format';
import { useAction, useLoad } from '../use-load';
import { ErrorNote } from './notice';

interface Summary {
  quota?: { hard: { storage: number }; used: { storage: number } };
}

const units: [string, number][] = [
  ['MiB', 2 ** 20],
  ['GiB', 2 ** 30],
  ['TiB', 2 ** 40],
];

/** A project's storage used against its limit (GET …/summary), as a bar; system admins set the limit (PUT /quotas/{id}). */
export function Quota({ project, projectId, me }: { project: string; projectId: number; me: Me }) {
  const summary = useLoad(() => get<Summary>(`/projects/${encodeURIComponent(project)}/summary`), [project]);
  // Only system admins may read /quotas, which holds the id to change.
  const quotaId = useLoad(
    () => (me.sysadmin_flag ? list<{ id: number }>(`/quotas?reference=project&reference_id=${projectId}`).then((p) => p.items[0]?.id) : Promise.resolve(undefined)),
    [projectId, me.sysadmin_flag],
  );
  const action = useAction(summary.reload);
  const q = summary.data?.quota;
  const setLimit = (storage: number) => action.run(() => change('PUT', `/quotas/${quotaId.data}`, { hard: { storage } }));
  const submit = (e: Event) => {
    e.preventDefault();
    const data = new FormData(e.currentTarget as HTMLFormElement);
    const unit = units.find(([u]) => u === data.get('unit'))?.[1] ?? 2 ** 20;
    void setLimit(Math.round(Number(data.get('limit')) * unit));
  };
  const limited = q && q.hard.storage > 0;
  return (
    <div class="quota">
      <ErrorNote error={summary.error ?? action.error} />
      {q && (
        <p class="meta">
          <span id="quota-label">Storage</span>
          {limited && <meter aria-labelledby="quota-label" min={0} max={q.hard.storage} value={q.used.storage} high={q.hard.storage * 0.8} optimum={0} />}
          <span data-testid="quota-usage">
            {bytes(q.used.storage)} used of {limited ? bytes(q.hard.storage) : 'unlimited'}
            {limited && ` (${Math.round((q.used.storage / q.hard.storage) * 100)} %)`}
          </span>
        </p>
      )}
      {quotaId.data !== undefined && (
        <form class="row" onSubmit={submit} aria-label="Storage limit">
          <label>
            Storage limit
            <input name="limit" type="number" min="0.01" step="any" required />
          </label>
          <label>
            Unit
            <select name="unit">
              {units.map(([u]) => (
                <option key={u}>{u}</option>
              ))}
            </select>
          </label>
          <button type="submit">Set limit</button>
          {limited && (
            <button type="button" onClick={() => setLimit(-1)}>
              Make unlimited
            </button>
          )}
        </form>
      )}
    </div>
  );
}
