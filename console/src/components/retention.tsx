import { useState } from 'preact/hooks';
import { change, get, idOf } from '../api';
import { describe, selectorsFrom, type RuleSelectors } from '../selectors';
import { useAction, useLoad } from '../use-load';
import { Empty, ErrorNote } from './notice';
import { RetentionExecutions } from './retention-executions';
import { SelectorFields } from './selector-fields';
import { TableHead } from './table-head';
import { FormActions } from './form-actions';
import { DangerButton, EnableToggle } from './row-actions';

interface Template {
  rule_template: string;
  display_text: string;
  params: { unit: string }[];
}

interface Rule extends RuleSelectors {
  template: string;
  params: Record<string, unknown>;
  disabled?: boolean;
}

interface Policy {
  id: number;
  rules: Rule[];
  trigger: { kind: string; settings: { cron?: string } };
  scope: { level: 'project'; ref: number };
}

/** A project's tag retention policy (Harbor's /retentions; the project's metadata retention_id names it): rules, schedule, runs. */
export function Retention({ projectId, retentionId, onCreated }: { projectId: number; retentionId?: number; onCreated: () => void }) {
  const templates = useLoad(() => get<{ templates: Template[] }>('/retentions/metadatas'), []);
  const policy = useLoad(() => (retentionId ? get<Policy>(`/retentions/${retentionId}`) : Promise.resolve(undefined)), [retentionId]);
  const [runs, setRuns] = useState(0);
  const action = useAction(policy.reload);
  const byName = new Map((templates.data?.templates ?? []).map((t) => [t.rule_template, t]));
  const text = (r: Rule) => (byName.get(r.template)?.display_text ?? r.template).replace('#', String(Object.values(r.params ?? {})[0] ?? ''));
  const p = policy.data;
  const save = (rules: Rule[], cron = p?.trigger.settings.cron ?? '') =>
    action.run(async () => {
      const body = { algorithm: 'or', rules, trigger: { kind: 'Schedule', settings: { cron } }, scope: { level: 'project', ref: projectId } };
      if (p) await change('PUT', `/retentions/${p.id}`, { ...body, id: p.id });
      else if (idOf((await change('POST', '/retentions', body)).location)) onCreated();
    });
  // The rule being edited (its index), or none: the form adds one.
  const [editing, setEditing] = useState<number>();
  const edited = editing === undefined ? undefined : p?.rules[editing];
  const submitRule = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const template = String(data.get('template'));
    const rule: Rule = { template, params: byName.get(template)?.params.length ? { [template]: Number(data.get('count')) } : {}, disabled: edited?.disabled ?? false, ...selectorsFrom(data) };
    const rules = edited ? p!.rules.map((r, i) => (i === editing ? rule : r)) : [...(p?.rules ?? []), rule];
    void save(rules).then((done) => {
      if (!done) return;
      form.reset();
      setEditing(undefined);
      setTemplate('latestPushedK');
    });
  };
  const edit = (i: number) => {
    setEditing(i);
    setTemplate(p!.rules[i].template);
  };
  const run = (dryRun: boolean) =>
    action.run(async () => {
      await change('POST', `/retentions/${p!.id}/executions`, { dry_run: dryRun });
      setRuns((n) => n + 1);
    });
  const [template, setTemplate] = useState('latestPushedK');
  const unit = byName.get(template)?.params[0]?.unit;
  return (
    <>
      <ErrorNote error={templates.error ?? policy.error ?? action.error} />
      <p class="muted">An artifact is kept when any rule retains it; everything else in the repositories the rules cover is deleted when the policy runs.</p>
      {(!p || p.rules.length === 0) && <Empty>No retention rules: nothing is deleted.</Empty>}
      {p && p.rules.length > 0 && (
        <table>
          <caption class="visually-hidden">Retention rules</caption>
          <TableHead columns={['Retain', 'Repositories', 'Tags', 'State']} actions />
          <tbody>
            {p.rules.map((r, i) => (
              <tr key={i}>
                <td>{text(r)}</td>
                <td>{describe(r.scope_selectors.repository)}</td>
                <td>{describe(r.tag_selectors)}</td>
                <td>{r.disabled ? 'Disabled' : 'Enabled'}</td>
                <td class="actions">
                  <button type="button" aria-label={`Edit rule ${text(r)}`} onClick={() => edit(i)}>
                    Edit
                  </button>
                  <EnableToggle enabled={!r.disabled} name={`rule ${text(r)}`} onClick={() => save(p.rules.map((x, j) => (j === i ? { ...x, disabled: !x.disabled } : x)))} />
                  <DangerButton label={`Remove rule ${text(r)}`} onClick={() => save(p.rules.filter((_, j) => j !== i))}>
                    Remove
                  </DangerButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="card" key={editing ?? 'new'} onSubmit={submitRule} aria-labelledby="retention-rule-title">
        <h2 id="retention-rule-title">{edited ? `Edit retention rule ${text(edited)}` : 'Add retention rule'}</h2>
        <div class="row">
          <label>
            Retain
            <select name="template" value={template} onChange={(e) => setTemplate((e.target as HTMLSelectElement).value)}>
              {(templates.data?.templates ?? []).map((t) => (
                <option key={t.rule_template} value={t.rule_template}>
                  {t.display_text}
                </option>
              ))}
            </select>
          </label>
          {unit && (
            <label>
              {unit === 'DAYS' ? 'Days' : 'Count'}
              <input name="count" type="number" min="0" required defaultValue={edited?.template === template ? String(Object.values(edited.params ?? {})[0] ?? '') : undefined} />
            </label>
          )}
          <SelectorFields initial={edited} />
          <FormActions editing={Boolean(edited)} add="Add rule" save="Save rule" onCancel={() => (setEditing(undefined), setTemplate('latestPushedK'))} />
        </div>
      </form>
      {p && (
        <>
          <form
            class="row"
            aria-label="Retention schedule"
            onSubmit={(e) => {
              e.preventDefault();
              void save(p.rules, String(new FormData(e.currentTarget as HTMLFormElement).get('cron') ?? ''));
            }}
          >
            <label>
              Schedule (cron, empty for none)
              <input name="cron" defaultValue={p.trigger.settings.cron ?? ''} placeholder="0 0 3 * * *" autocomplete="off" />
            </label>
            <button type="submit">Save schedule</button>
          </form>
          <div class="toolbar">
            <button type="button" class="primary" onClick={() => run(false)}>
              Run now
            </button>
            <button type="button" onClick={() => run(true)}>
              Dry run
            </button>
          </div>
          <RetentionExecutions policyId={p.id} refresh={runs} />
        </>
      )}
    </>
  );
}
