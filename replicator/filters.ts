import picomatch from 'picomatch';
import type { PolicyFilter, PolicyRecord } from './records.js';

// What a policy replicates (name and tag filters, doublestar globs as Harbor writes them) and where it lands
// (dest_namespace with dest_namespace_replace_count).

type Matcher = (s: string) => boolean;

/** A label filter's names: Harbor sends a list; a single string is one name. */
export const labelNames = (f: PolicyFilter): string[] => (Array.isArray(f.value) ? f.value : [f.value]).filter((n) => n !== '');

export class PolicySelector {
  private readonly names: { match: Matcher; exclude: boolean }[];
  private readonly tags: { match: Matcher; exclude: boolean }[];
  private readonly labels: { names: string[]; exclude: boolean }[];

  constructor(private readonly policy: Pick<PolicyRecord, 'filters' | 'dest_namespace' | 'dest_namespace_replace_count'>) {
    const compile = (f: PolicyFilter) => ({ match: picomatch(String(f.value) || '**', { dot: true }), exclude: f.decoration === 'excludes' });
    this.names = policy.filters.filter((f) => f.type === 'name').map(compile);
    this.tags = policy.filters.filter((f) => f.type === 'tag').map(compile);
    this.labels = policy.filters.filter((f) => f.type === 'label').map((f) => ({ names: labelNames(f), exclude: f.decoration === 'excludes' }));
  }

  /** The policy filters by label: what a tag points to must be looked up. */
  get byLabel(): boolean {
    return this.labels.length > 0;
  }

  /** The artifact's labels pass: every `matches` filter's names are all on it, no `excludes` filter's name is. */
  labelsMatch(on: string[]): boolean {
    const have = new Set(on);
    return this.labels.every((f) => (f.exclude ? f.names.every((n) => !have.has(n)) : f.names.every((n) => have.has(n))));
  }

  repositoryMatches(repository: string): boolean {
    return passes(this.names, repository);
  }

  tagMatches(tag: string): boolean {
    return passes(this.tags, tag);
  }

  /** A name filter without glob characters names exactly one repository (no catalog needed, e.g. Docker Hub). */
  literalRepositories(): string[] | undefined {
    const inc = this.policy.filters.filter((f) => f.type === 'name' && f.decoration !== 'excludes');
    if (inc.length !== 1 || picomatch.scan(String(inc[0]!.value)).isGlob) return undefined;
    return [String(inc[0]!.value)];
  }

  destination(repository: string): string {
    return destinationRepository(repository, this.policy.dest_namespace, this.policy.dest_namespace_replace_count);
  }
}

/** Every `matches` filter must match and no `excludes` filter may. */
function passes(filters: { match: Matcher; exclude: boolean }[], s: string): boolean {
  return filters.every((f) => f.match(s) !== f.exclude);
}

/**
 * Harbor's rewrite: no namespace keeps the name; -1 (legacy) swaps the first component (the project) for the
 * namespace; 0 prefixes it; n swaps the first n components, keeping at least the last one.
 */
export function destinationRepository(repository: string, namespace: string, replaceCount: number): string {
  if (!namespace) return repository;
  const parts = repository.split('/');
  if (replaceCount < 0) return `${namespace}/${parts.length > 1 ? parts.slice(1).join('/') : repository}`;
  if (replaceCount === 0) return `${namespace}/${repository}`;
  if (replaceCount > parts.length) {
    throw new Error(`repository ${repository} has ${parts.length} path components, fewer than the replace count ${replaceCount}`);
  }
  return `${namespace}/${parts.slice(Math.min(replaceCount, parts.length - 1)).join('/')}`;
}

/** Validates a policy's filters: a filter error is a 400 at creation, not a failure at replication time. */
export function checkFilters(filters: PolicyFilter[]): string | undefined {
  for (const f of filters) {
    if (f.type === 'resource') {
      // pkg/reg/model/policy.go Filter.Validate
      if (f.value !== 'image' && f.value !== 'artifact') return `invalid resource filter ${JSON.stringify(f.value)} (image or artifact)`;
      continue;
    }
    if (f.type === 'label') {
      if (labelNames(f).length === 0) return 'a label filter names at least one label';
      continue;
    }
    if (f.type !== 'name' && f.type !== 'tag') return `unsupported filter type ${String(f.type)} (name, tag, label or resource)`;
    if (Array.isArray(f.value)) return `a ${f.type} filter is one pattern, not a list`;
    try {
      picomatch(f.value || '**');
    } catch (e) {
      return `invalid ${f.type} filter ${JSON.stringify(f.value)}: ${(e as Error).message}`;
    }
  }
  return undefined;
}
