import type { RuleSelectors } from '../selectors';

/** The repository and tag pattern fields of a rule form (read back with selectorsFrom); `initial` fills them from
 *  a rule being edited. */
export function SelectorFields({ initial }: { initial?: RuleSelectors }) {
  const repo = initial?.scope_selectors.repository[0];
  const tag = initial?.tag_selectors[0];
  return (
    <>
      <label>
        Repositories
        <select name="repoDecoration" defaultValue={repo?.decoration}>
          <option value="repoMatches">matching</option>
          <option value="repoExcludes">excluding</option>
        </select>
      </label>
      <label>
        Repository pattern
        <input name="repo" placeholder="**" autocomplete="off" defaultValue={repo?.pattern} />
      </label>
      <label>
        Tags
        <select name="tagDecoration" defaultValue={tag?.decoration}>
          <option value="matches">matching</option>
          <option value="excludes">excluding</option>
        </select>
      </label>
      <label>
        Tag pattern
        <input name="tag" placeholder="**" autocomplete="off" defaultValue={tag?.pattern} />
      </label>
    </>
  );
}
