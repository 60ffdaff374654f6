import type { RuleSelectors, Selector } from '../selectors';

/** A selector's two fields: whether the pattern includes or excludes, and the pattern. */
function SelectorField({ labels, name, options, initial }: { labels: [string, string]; name: 'repo' | 'tag'; options: [string, string]; initial?: Selector }) {
  return (
    <>
      <label>
        {labels[0]}
        <select name={`${name}Decoration`} defaultValue={initial?.decoration}>
          <option value={options[0]}>matching</option>
          <option value={options[1]}>excluding</option>
        </select>
      </label>
      <label>
        {labels[1]}
        <input name={name} placeholder="**" autocomplete="off" defaultValue={initial?.pattern} />
      </label>
    </>
  );
}

/** The repository and tag pattern fields of a rule form (read back with selectorsFrom); `initial` fills them from
 *  a rule being edited. */
export function SelectorFields({ initial }: { initial?: RuleSelectors }) {
  return (
    <>
      <SelectorField labels={['Repositories', 'Repository pattern']} name="repo" options={['repoMatches', 'repoExcludes']} initial={initial?.scope_selectors.repository[0]} />
      <SelectorField labels={['Tags', 'Tag pattern']} name="tag" options={['matches', 'excludes']} initial={initial?.tag_selectors[0]} />
    </>
  );
}
