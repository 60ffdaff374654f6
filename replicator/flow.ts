import { LRUCache } from 'lru-cache';
import type { Digest } from '../core/digest.js';
import { formatVersion } from '../core/hlc.js';
import type { PolicyRecord, TaskRecord } from './records.js';
import type { Route } from './route.js';
import { copyArtifact, deleteArtifact, SourceGoneError, type TransferContext } from './transfer.js';

// One task: make the destination match the source's current state of the tag (or manifest). Current state, not
// the event's: an older task retried late can never undo a newer change, whatever order tasks finish in. The
// flow reads and writes through the policy's Route and never asks which way it goes.

export type FlowTask = Pick<TaskRecord, 'operation' | 'resource_type' | 'src_repository' | 'dst_repository' | 'tag' | 'digest' | 'version'>;

/** The transfer context minus mount candidates, which the flow works out from the route and its hints. */
export type FlowContext = Omit<TransferContext, 'mountCandidates'>;

/** Destination repositories by digest, from earlier uploads of a policy (mount candidates). */
export type MountHints = LRUCache<string, string>;

export function mountHints(): MountHints {
  return new LRUCache({ max: 10_000 });
}

const STALE = 'the destination holds a newer write of this tag (last writer wins)';

/** Runs `t` along `route`. Returns a note when nothing had to be sent (empty when something was). */
export async function performTask(route: Route, policy: Pick<PolicyRecord, 'override'>, hints: MountHints, t: FlowTask, flow: FlowContext): Promise<string> {
  const { source, destination } = route;
  const dest = await destination.client(t.dst_repository);
  await destination.prepare(t.dst_repository);
  const ctx: TransferContext = { ...flow, mountCandidates: (d) => mountCandidates(route, hints, d) };
  const versions = (version: string | undefined, from: string): Record<string, string> =>
    destination.isBerth && version ? { 'Berth-Tag-Version': version, ...(from && { 'Berth-Replicated-From': from }) } : {};

  if (t.resource_type === 'manifest') {
    const digest = t.digest as Digest;
    if (t.operation === 'copy') {
      return whileAtSource(async () => {
        const r = await copyArtifact({ source, srcRepository: t.src_repository, dest, destRepository: t.dst_repository, digest }, ctx);
        hints.set(digest, t.dst_repository);
        return r.present ? 'already at the destination' : '';
      });
    }
    if (await source.manifest(t.src_repository, digest)) return 'pushed again at the source meanwhile';
    const headers = versions(t.version ?? undefined, route.writerIdc());
    const r = await deleteArtifact({ dest, destRepository: t.dst_repository, reference: digest, headers, byDigestFallback: false, signal: ctx.signal });
    return r.absent ? 'already absent at the destination' : '';
  }

  const tag = t.tag!;
  const current = await source.tag(t.src_repository, tag);
  const from = route.writerIdc(current?.version);
  if (t.operation === 'copy') {
    const digest = current?.digest;
    if (!digest) return 'deleted at the source meanwhile';
    if (!policy.override) {
      const there = await destination.tagDigest(t.dst_repository, tag);
      if (there && there !== digest) return 'the destination has another artifact under this tag and override is off';
    }
    const tagHeaders = versions(current.version && formatVersion(current.version), from);
    const base = current.version && route.tagBase(t.src_repository, tag, current.version);
    if (destination.isBerth && base !== undefined) tagHeaders['Berth-Tag-Base'] = base;
    return whileAtSource(async () => {
      const r = await copyArtifact({ source, srcRepository: t.src_repository, dest, destRepository: t.dst_repository, digest, tag, tagHeaders }, ctx);
      hints.set(digest, t.dst_repository);
      if (r.tagWrite === 'stale') return STALE;
      return r.present ? 'already at the destination' : '';
    });
  }
  if (current?.digest) return 'pushed again at the source meanwhile';
  const version = current?.version ? formatVersion(current.version) : (t.version ?? undefined);
  const headers = versions(version, from);
  const r = await deleteArtifact({ dest, destRepository: t.dst_repository, reference: tag, headers, byDigestFallback: !destination.isBerth, signal: ctx.signal });
  if (r.tagWrite === 'stale') return STALE;
  return r.absent ? 'already absent at the destination' : '';
}

/** A copy whose source was deleted meanwhile has nothing left to do: not a failure. */
async function whileAtSource(copy: () => Promise<string>): Promise<string> {
  try {
    return await copy();
  } catch (err) {
    if (err instanceof SourceGoneError) return 'deleted at the source meanwhile';
    throw err;
  }
}

/** Where this policy sent the blob before, then where the route says it may be; at most four. */
async function mountCandidates(route: Route, hints: MountHints, digest: Digest): Promise<string[]> {
  const out = new Set<string>();
  const hint = hints.get(digest);
  if (hint) out.add(hint);
  for (const repo of await route.mountCandidates(digest)) out.add(repo);
  return [...out].slice(0, 4);
}
