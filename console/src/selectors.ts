// Harbor's doublestar selectors, shared by immutable tag rules and retention rules.

export interface Selector {
  kind: 'doublestar';
  decoration: string;
  pattern: string;
}

export interface RuleSelectors {
  tag_selectors: Selector[];
  scope_selectors: { repository: Selector[] };
}

/** The selectors from a form's repo/repoDecoration/tag/tagDecoration fields. */
export function selectorsFrom(data: FormData): RuleSelectors {
  const s = (decoration: FormDataEntryValue | null, pattern: FormDataEntryValue | null): Selector => ({ kind: 'doublestar', decoration: String(decoration), pattern: String(pattern || '**') });
  return { scope_selectors: { repository: [s(data.get('repoDecoration'), data.get('repo'))] }, tag_selectors: [s(data.get('tagDecoration'), data.get('tag'))] };
}

/** "matching app/**" / "excluding v1*". */
export function describe(selectors: Selector[] | undefined): string {
  return (selectors ?? []).map((s) => `${/excludes|Excludes/.test(s.decoration) ? 'excluding' : 'matching'} ${s.pattern}`).join(', ') || 'any';
}
