/** The repository and tag pattern fields of a rule form (read back with selectorsFrom). */
export function SelectorFields() {
  return (
    <>
      <label>
        Repositories
        <select name="repoDecoration">
          <option value="repoMatches">matching</option>
          <option value="repoExcludes">excluding</option>
        </select>
      </label>
      <label>
        Repository pattern
        <input name="repo" placeholder="**" autocomplete="off" />
      </label>
      <label>
        Tags
        <select name="tagDecoration">
          <option value="matches">matching</option>
          <option value="excludes">excluding</option>
        </select>
      </label>
      <label>
        Tag pattern
        <input name="tag" placeholder="**" autocomplete="off" />
      </label>
    </>
  );
}
