import { RegistryError } from './errors.js';
import { parseDigest, type Digest } from './digest.js';

// distribution-spec "Pulling manifests": the <name> grammar and the tag grammar.
const nameGrammar = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const tagGrammar = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_NAME_LENGTH = 255;

/** A repository name. The grammar admits no '.' or '..' component, no '%' and no empty segment: no traversal. */
export function parseRepositoryName(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !nameGrammar.test(name)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { detail: { name: name.slice(0, 300) } });
  }
  return name;
}

export function isTag(ref: string): boolean {
  return tagGrammar.test(ref);
}

export function parseTag(tag: string): string {
  if (!isTag(tag)) throw new RegistryError('MANIFEST_INVALID', 'invalid tag', { detail: { tag: tag.slice(0, 200) } });
  return tag;
}

/** A manifest reference: a tag, or a digest (anything with a ':' is read as a digest). */
export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

export function parseReference(ref: string): Reference {
  if (ref.includes(':')) return { kind: 'digest', digest: parseDigest(ref) };
  return { kind: 'tag', tag: parseTag(ref) };
}

/** Upload session ids: the UUIDs Berth hands out, checked by the OCI routes and by every BlobStore before an id
 *  becomes part of a path or a key. */
export function isUploadId(id: unknown): boolean {
  return typeof id === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(id);
}
