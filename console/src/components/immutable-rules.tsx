import { change, list } from '../api';
import { describe, selectorsFrom, type RuleSelectors } from '../selectors';
import { useAction, useLoad } from '../use-load';
import { Empty, ErrorNote } from './notice';
import { SelectorFields } from './selector-fields';
import { TableHead } from './table-head';
import { DangerButton, EnableToggle } from './row-actions';

interface Rule extends RuleSelectors {
  id: number;
  priority: number;
  disabled: boolean;
}

/** A project's immutable tag rules (Harbor's /projects/{p}/immutabletagrules): a matching tag cannot be pushed over or deleted. */
export function ImmutableRules({ project }: { project: string }) {
  const path = `/projects/${encodeURIComponent(project)}/immutabletagrules`;
  const rules = useLoad(() => list<Rule>(`${path}?page_size=100`), [path]);
  const action = useAction(rules.reload);
  const add = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    void action.run(async () => {
      await change('POST', path, { disabled: false, action: 'immutable', template: 'immutable_template', ...selectorsFrom(new FormData(form)) });
      form.reset();
    });
  };
  return (
    <>
      <ErrorNote error={rules.error ?? action.error} />
      {rules.data?.items.length === 0 && <Empty>No immutable tag rules: every tag can be pushed over and deleted.</Empty>}
      {rules.data && rules.data.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Immutable tag rules of {project}</caption>
          <TableHead columns={['Repositories', 'Tags', 'State']} actions />
          <tbody>
            {rules.data.items.map((r) => {
              const name = `rule ${describe(r.scope_selectors.repository)} / ${describe(r.tag_selectors)}`;
              return (
                <tr key={r.id}>
                  <td>{describe(r.scope_selectors.repository)}</td>
                  <td>{describe(r.tag_selectors)}</td>
                  <td>{r.disabled ? 'Disabled' : 'Enabled'}</td>
                  <td class="actions">
                    <EnableToggle enabled={!r.disabled} name={name} onClick={() => action.run(() => change('PUT', `${path}/${r.id}`, { ...r, disabled: !r.disabled }))} />
                    <DangerButton label={`Delete ${name}`} onClick={() => action.run(() => change('DELETE', `${path}/${r.id}`))}>
                      Delete
                    </DangerButton>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <form class="card" onSubmit={add} aria-labelledby="add-immutable">
        <h2 id="add-immutable">Add immutable tag rule</h2>
        <div class="row">
          <SelectorFields />
          <button type="submit" class="primary">
            Add rule
          </button>
        </div>
      </form>
    </>
  );
}
