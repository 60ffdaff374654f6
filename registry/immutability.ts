import picomatch from 'picomatch';
import type { Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import type { Collection, Lock, MetaStore } from '../storage-adapters/meta/meta-store.js';
import { projectOf } from './quotas.js';

// Harbor's immutable tag rules, per project: a tag matched by an enabled rule (repository and tag patterns,
// doublestar globs, each "matches" or "excludes") never moves to another manifest and is never deleted. Checked
// here, before every tag write and delete, so OCI pushes, replicated writes and the admin API all obey it.
// Between IDCs a replicated write that would move such a tag is refused and recorded as a conflict (see
// Manifests.put): both sides keep what they had and the divergence is listed, never resolved by the clock.

export interface Selector {
  kind: 'doublestar';
  /** Tags: matches | excludes. Repositories: repoMatches | repoExcludes. */
  decoration: string;
  pattern: string;
}

/** Harbor's ImmutableRule, kept as Harbor shows it, plus the project it belongs to. */
export interface ImmutableRuleRecord {
  id: number;
  project: string;
  project_id: number;
  priority: number;
  disabled: boolean;
  action: string;
  template: string;
  params: Record<string, unknown>;
  tag_selectors: Selector[];
  scope_selectors: { repository: Selector[] };
}

export function immutableRules(meta: MetaStore): Collection<ImmutableRuleRecord> {
  return meta.collection<ImmutableRuleRecord>('immutable_rules');
}

const compiled = new Map<string, (s: string) => boolean>();
function glob(pattern: string): (s: string) => boolean {
  let m = compiled.get(pattern);
  if (!m) {
    // doublestar: `*` stays within a path segment, `**` crosses them, `{a,b}` alternates; dotfiles match too.
    m = picomatch(pattern, { dot: true });
    compiled.set(pattern, m);
  }
  return m;
}

/** Whether `value` passes every selector: a "…matches" selector must match, an "…excludes" one must not. */
function selects(selectors: Selector[], value: string): boolean {
  return selectors.every((s) => {
    const hit = glob(s.pattern)(value);
    return /excludes$/i.test(s.decoration) ? !hit : hit;
  });
}

/** Whether `rule` makes `tag` of `repository` (its name inside the project, as Harbor matches it) immutable. */
export function ruleMatches(rule: Pick<ImmutableRuleRecord, 'disabled' | 'tag_selectors' | 'scope_selectors'>, repository: string, tag: string): boolean {
  if (rule.disabled) return false;
  return selects(rule.scope_selectors.repository ?? [], repository) && selects(rule.tag_selectors, tag);
}

export class Immutability {
  readonly rules: Collection<ImmutableRuleRecord>;

  constructor(private readonly meta: MetaStore) {
    this.rules = immutableRules(meta);
  }

  /** The rules of `project`, by priority then id. */
  async ofProject(project: string): Promise<ImmutableRuleRecord[]> {
    const out: ImmutableRuleRecord[] = [];
    for (let offset = 0; ; offset += 500) {
      const { items } = await this.rules.list({ where: { project }, offset, limit: 500 });
      out.push(...items);
      if (items.length < 500) break;
    }
    return out.sort((a, b) => a.priority - b.priority || a.id - b.id);
  }

  /** Whether a rule of the repository's project makes `tag` immutable (the artifacts API's with_immutable_status). */
  async isImmutable(repository: string, tag: string): Promise<boolean> {
    return (await this.matcher(repository))(tag);
  }

  /** A test for many tags of one repository with one read of the rules. */
  async matcher(repository: string): Promise<(tag: string) => boolean> {
    const project = projectOf(repository);
    if (!project) return () => false;
    const rules = (await this.ofProject(project)).filter((r) => !r.disabled);
    if (rules.length === 0) return () => false;
    const inside = repository.slice(project.length + 1);
    return (tag) => rules.some((r) => ruleMatches(r, inside, tag));
  }

  /** Locks the immutable ones among `tags` (MetaStore leases, shared by every instance) for a check and write;
   *  undefined when none is immutable. UNAVAILABLE when a lock stays taken for 10 s. */
  async lockTags(repository: string, tags: string[]): Promise<Lock | undefined> {
    if (tags.length === 0) return undefined;
    const test = await this.matcher(repository);
    const names = [...new Set(tags.filter(test))].sort(); // one order everywhere: no deadlock
    if (names.length === 0) return undefined;
    const held: Lock[] = [];
    const release = async () => {
      for (const l of held.reverse()) await l.release().catch(() => undefined);
    };
    try {
      for (const name of names) {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const lock = await this.meta.acquireLock(`immutable-tag:${repository}:${name}`, 30_000);
          if (lock) {
            held.push(lock);
            break;
          }
          if (Date.now() > deadline) throw new RegistryError('UNAVAILABLE', `the tag ${repository}:${name} is being written; try again`);
          await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
        }
      }
    } catch (e) {
      await release();
      throw e;
    }
    return { release };
  }

  /** DENIED unless moving `tag` from `current` (undefined: not live) to `next` is allowed. */
  async checkMove(repository: string, tag: string, current: Digest | null | undefined, next: Digest): Promise<void> {
    if (!current || current === next) return; // a first push, or the same content again
    if (await this.isImmutable(repository, tag)) throw immutableError(repository, tag, 'overwritten');
  }

  /** DENIED when any of `tags` is immutable (a tag, manifest or repository delete would remove them). */
  async checkDelete(repository: string, tags: string[]): Promise<void> {
    if (tags.length === 0) return;
    const test = await this.matcher(repository);
    const hit = tags.find(test);
    if (hit !== undefined) throw immutableError(repository, hit, 'deleted');
  }
}

export function immutableError(repository: string, tag: string, what: 'overwritten' | 'deleted'): RegistryError {
  return new RegistryError('DENIED', `the tag ${repository}:${tag} is immutable and cannot be ${what} (an immutable tag rule of its project matches it)`, {
    detail: { repository, tag, reason: 'immutable' },
  });
}
