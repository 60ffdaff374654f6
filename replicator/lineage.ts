import { LRUCache } from 'lru-cache';
import { formatVersion, type TagVersion } from '../core/hlc.js';
import type { OutboxEvent } from '../storage-adapters/meta/meta-store.js';

// What each tag's previous value was, in outbox order, so a push can tell a Berth peer which version its write
// replaced (Berth-Tag-Base) and the peer can tell a concurrent write from a newer one.

interface Entry {
  last: string;
  /** null: nothing before it; undefined: not known. */
  prev: string | null | undefined;
}

export class Lineage {
  private readonly tags = new LRUCache<string, Entry>({ max: 100_000 });
  /** Every tag write since the outbox began has been seen: a tag without an entry had no earlier value. */
  complete = false;

  /** Notes a tag write (others are ignored). */
  track(e: OutboxEvent): void {
    if ((e.type !== 'tag.put' && e.type !== 'tag.delete') || !e.tag || !e.version) return;
    const key = `${e.repository}\0${e.tag}`;
    const before = this.tags.get(key);
    this.tags.set(key, { last: formatVersion(e.version), prev: before ? before.last : this.complete ? null : undefined });
  }

  /** The version the tag's `current` value replaced ('none': it had none); undefined when not known. */
  baseOf(repository: string, tag: string, current: TagVersion): string | undefined {
    const l = this.tags.get(`${repository}\0${tag}`);
    if (!l) return this.complete ? 'none' : undefined;
    if (l.last !== formatVersion(current) || l.prev === undefined) return undefined;
    return l.prev ?? 'none';
  }
}
