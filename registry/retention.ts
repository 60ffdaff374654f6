import picomatch from 'picomatch';
import type { Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import type { Artifacts } from './artifacts.js';
import type { Immutability } from './immutability.js';
import type { PullStats } from './pull-stats.js';

// Tag retention (Harbor's retention policies), decided and applied here so the deletes go through the domain
// layer like any other: versioned, replicated where replicate_deletion says, refused for immutable tags.
// Per repository the candidates are its artifacts (an index's children and accessories go with their parent);
// each enabled rule whose repository selectors match picks candidates by their tags and retains some of them by
// its template; what no rule retains is deleted (Harbor's `or` algorithm with the `retain` action).

export type RetentionTemplate = 'latestPushedK' | 'latestPulledN' | 'nDaysSinceLastPush' | 'nDaysSinceLastPull' | 'always';
export const RETENTION_TEMPLATES: RetentionTemplate[] = ['latestPushedK', 'latestPulledN', 'nDaysSinceLastPush', 'nDaysSinceLastPull', 'always'];

export interface RetentionSelector {
  kind: 'doublestar';
  decoration: 'matches' | 'excludes' | 'repoMatches' | 'repoExcludes';
  pattern: string;
  /** Harbor's tag-selector extras, a JSON string: `{"untagged": true}` also selects untagged artifacts. */
  extras?: string;
}

export interface RetentionRule {
  disabled?: boolean;
  template: RetentionTemplate;
  params?: Record<string, unknown>;
  tag_selectors: RetentionSelector[];
  scope_selectors: { repository?: RetentionSelector[] };
}

export interface Candidate {
  digest: Digest;
  tags: string[];
  pushedAt: number;
  /** 0 when never pulled. */
  pulledAt: number;
}

export interface RepositoryOutcome {
  repository: string;
  total: number;
  retained: Candidate[];
  /** Deleted (or, in a dry run, what would be). */
  deleted: Candidate[];
  /** Not deleted though no rule retained it, with why (an immutable tag, an index still listing it). */
  kept: { candidate: Candidate; reason: string }[];
}

const DAY_MS = 24 * 3600 * 1000;

function glob(pattern: string): (s: string) => boolean {
  return picomatch(pattern || '**', { dot: true });
}

/** Whether a rule applies to `name` (the repository inside its project). */
export function ruleCovers(rule: RetentionRule, name: string): boolean {
  const sel = rule.scope_selectors.repository ?? [];
  return sel.every((s) => (s.decoration === 'repoExcludes' ? !glob(s.pattern)(name) : glob(s.pattern)(name)));
}

function untaggedToo(s: RetentionSelector): boolean {
  try {
    return Boolean((JSON.parse(s.extras || '{}') as { untagged?: boolean }).untagged);
  } catch {
    return false;
  }
}

/** The candidates a rule's tag selectors pick: any tag matching (or, for excludes, any tag not matching). */
function selected(rule: RetentionRule, candidates: Candidate[]): Candidate[] {
  return candidates.filter((c) =>
    rule.tag_selectors.every((s) => {
      if (c.tags.length === 0) return untaggedToo(s);
      const m = glob(s.pattern);
      return s.decoration === 'excludes' ? c.tags.some((t) => !m(t)) : c.tags.some((t) => m(t));
    }),
  );
}

function param(rule: RetentionRule): number {
  const v = Object.values(rule.params ?? {})[0];
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/** What one rule retains of the candidates it selected. */
function retains(rule: RetentionRule, picked: Candidate[], now: number): Candidate[] {
  const n = param(rule);
  switch (rule.template) {
    case 'always':
      return picked;
    case 'latestPushedK':
      return [...picked].sort((a, b) => b.pushedAt - a.pushedAt).slice(0, n);
    case 'latestPulledN':
      return [...picked].filter((c) => c.pulledAt > 0).sort((a, b) => b.pulledAt - a.pulledAt).slice(0, n);
    case 'nDaysSinceLastPush':
      return picked.filter((c) => now - c.pushedAt <= n * DAY_MS);
    case 'nDaysSinceLastPull':
      return picked.filter((c) => c.pulledAt > 0 && now - c.pulledAt <= n * DAY_MS);
  }
}

/** The candidates the enabled rules retain, together. */
export function decide(rules: RetentionRule[], name: string, candidates: Candidate[], now = Date.now()): Set<Digest> {
  const keep = new Set<Digest>();
  for (const rule of rules) {
    if (rule.disabled || !ruleCovers(rule, name)) continue;
    for (const c of retains(rule, selected(rule, candidates), now)) keep.add(c.digest);
  }
  return keep;
}

export class Retention {
  constructor(
    private readonly artifacts: Artifacts,
    private readonly pulls: PullStats,
    private readonly immutability: Immutability,
  ) {}

  /** The repository's candidates: top-level artifacts with their tags, push and pull times. */
  async candidates(repository: string): Promise<Candidate[]> {
    const { records, tags } = await this.artifacts.listing(repository);
    const children = new Set(records.flatMap((r) => r.children));
    const top = records.filter((r) => !children.has(r.digest) && !r.subject);
    return Promise.all(
      top.map(async (r) => {
        const pulled = await this.pulls.artifactPulled(repository, r.digest);
        return { digest: r.digest, tags: (tags.get(r.digest) ?? []).map((t) => t.name).sort(), pushedAt: r.createdAt, pulledAt: pulled ? Date.parse(pulled) : 0 };
      }),
    );
  }

  /** Applies `rules` to `repository` (`name` is it inside its project); with `dryRun` nothing is deleted. */
  async apply(repository: string, name: string, rules: RetentionRule[], dryRun: boolean, stopped: () => boolean = () => false): Promise<RepositoryOutcome> {
    const candidates = await this.candidates(repository);
    const keep = decide(rules, name, candidates);
    const immutable = await this.immutability.matcher(repository);
    const out: RepositoryOutcome = { repository, total: candidates.length, retained: [], deleted: [], kept: [] };
    for (const c of candidates) {
      if (keep.has(c.digest)) {
        out.retained.push(c);
        continue;
      }
      // Said before any delete is tried, so a dry run shows what a real run would keep.
      const locked = c.tags.filter(immutable);
      if (locked.length > 0) {
        out.kept.push({ candidate: c, reason: `immutable tag ${locked.join(', ')} (an immutable tag rule covers it)` });
        continue;
      }
      if (dryRun) {
        out.deleted.push(c);
        continue;
      }
      if (stopped()) {
        out.kept.push({ candidate: c, reason: 'the execution was stopped' });
        continue;
      }
      try {
        const result = await this.artifacts.delete(repository, c.digest);
        if (result === 'referenced') out.kept.push({ candidate: c, reason: 'an index still lists it' });
        else out.deleted.push(c);
      } catch (e) {
        // An immutable tag (or another refusal the domain layer makes) keeps the artifact: say which.
        if (!(e instanceof RegistryError)) throw e;
        out.kept.push({ candidate: c, reason: e.message });
      }
    }
    return out;
  }
}
