import { useState } from 'preact/hooks';
import { change, get, list } from '../api';
import { time } from '../format';
import { useAction, useInterval, useLoad } from '../use-load';
import { LogView } from './log-view';
import { Empty, ErrorNote, Status } from './notice';
import { TableHead } from './table-head';

/** A parameter the run form asks for: a checkbox (boolean) or a number. */
export interface JobOption {
  name: string;
  label: string;
  type: 'checkbox' | 'number';
  initial: boolean | number;
}

interface Run {
  id: number;
  job_kind: string;
  job_status: string;
  job_parameters: string;
  creation_time: string;
  update_time: string;
}

interface Schedule {
  schedule: { type: string; cron: string; next_scheduled_time?: string };
}

const types = ['None', 'Hourly', 'Daily', 'Weekly', 'Custom'];

/** Harbor sends the parameters and the run's report as one JSON string: "dry_run: true, freed_space: 0, …". */
function describeParameters(json: string): string {
  try {
    return Object.entries(JSON.parse(json) as Record<string, unknown>)
      .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${String(v)}`)
      .join(', ');
  } catch {
    return json;
  }
}

/** One of Harbor's scheduled system jobs (/system/gc, /system/purgeaudit): schedule, run now, dry run, history with logs. */
export function SystemJob({ title, base, options }: { title: string; base: string; options: JobOption[] }) {
  const id = base.split('/').pop()!;
  const schedule = useLoad(() => get<Schedule>(`${base}/schedule`), [base]);
  const runs = useLoad(() => list<Run>(`${base}?page_size=10`), [base]);
  const action = useAction(() => (schedule.reload(), runs.reload()));
  const [type, setType] = useState<string>();
  const busy = (runs.data?.items ?? []).some((r) => r.job_status === 'Pending' || r.job_status === 'Running');
  useInterval(runs.reload, busy ? 1000 : null);
  const s = schedule.data?.schedule;
  const shownType = type ?? s?.type ?? 'None';
  const parameters = (form: HTMLFormElement) => {
    const data = new FormData(form);
    return Object.fromEntries(options.map((o) => [o.name, o.type === 'checkbox' ? data.get(o.name) === 'on' : Number(data.get(o.name))]));
  };
  const runNow = (e: Event, dryRun: boolean) => {
    const form = (e.currentTarget as HTMLButtonElement).form!;
    void action.run(() => change('POST', `${base}/schedule`, { schedule: { type: 'Manual' }, parameters: { ...parameters(form), dry_run: dryRun } }));
  };
  const saveSchedule = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const cron = String(new FormData(form).get('cron') ?? '');
    // Harbor creates a schedule with POST and changes one with PUT.
    void action.run(() => change(s?.type && s.type !== 'None' ? 'PUT' : 'POST', `${base}/schedule`, { schedule: { type: shownType, ...(shownType === 'Custom' && { cron }) }, parameters: parameters(form) }));
  };
  return (
    <section aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      <ErrorNote error={schedule.error ?? runs.error ?? action.error} />
      {s && (
        <p class="meta">
          <span>
            Schedule: {s.type}
            {s.cron && ` (${s.cron})`}
          </span>
          {s.next_scheduled_time && <span>next {time(s.next_scheduled_time)}</span>}
        </p>
      )}
      <form class="card" onSubmit={saveSchedule} aria-label={`${title} settings`}>
        <div class="row">
          {options.map((o) => (
            <label key={o.name} class={o.type === 'checkbox' ? 'check' : undefined}>
              {o.type === 'checkbox' ? (
                <>
                  <input type="checkbox" name={o.name} defaultChecked={o.initial === true} /> {o.label}
                </>
              ) : (
                <>
                  {o.label}
                  <input type="number" name={o.name} min="0" defaultValue={String(o.initial)} />
                </>
              )}
            </label>
          ))}
        </div>
        <div class="row">
          <label>
            Schedule
            <select name="type" value={shownType} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
              {types.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          </label>
          {shownType === 'Custom' && (
            <label>
              Cron
              <input name="cron" required defaultValue={s?.cron ?? ''} placeholder="0 0 3 * * *" autocomplete="off" />
            </label>
          )}
          <button type="submit">Save schedule</button>
          <button type="button" class="primary" onClick={(e) => runNow(e, false)}>
            Run {title.toLowerCase()} now
          </button>
          <button type="button" onClick={(e) => runNow(e, true)}>
            Dry run
          </button>
        </div>
      </form>
      {runs.data?.items.length === 0 && <Empty>No runs yet.</Empty>}
      {runs.data && runs.data.items.length > 0 && (
        <table aria-live="polite">
          <caption class="visually-hidden">{title} history</caption>
          <TableHead columns={['Id', 'Kind', 'Status', 'Parameters', 'Started', 'Updated', 'Log']} />
          <tbody>
            {runs.data.items.map((r) => (
              <tr key={r.id}>
                <td>#{r.id}</td>
                <td>{r.job_kind.toLowerCase()}</td>
                <td>
                  <Status value={r.job_status} />
                </td>
                <td class="params">{describeParameters(r.job_parameters)}</td>
                <td>{time(r.creation_time)}</td>
                <td>{time(r.update_time)}</td>
                <td>
                  <LogView path={`${base}/${r.id}/log`} label={`Log of ${title.toLowerCase()} run ${r.id}`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
