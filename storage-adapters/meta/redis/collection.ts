// A record collection (users, projects, policies…) on Redis: documents in a hash, ids in a sorted set, unique
// values claimed in one hash per field — each write one Lua script (lua-collections.ts).
import { ConflictError, NotFoundError, type Collection, type FieldValue, type ListQuery } from '../meta-store.js';
import { execResult, type RedisConnection } from './connection.js';
import { collectionKey } from './keys.js';

export class RedisCollection<T extends { id: number }> implements Collection<T> {
  constructor(
    private readonly conn: RedisConnection,
    private readonly name: string,
    private readonly unique: readonly string[],
  ) {}

  async insert(doc: Omit<T, 'id'>): Promise<T> {
    const { id: _drop, ...rest } = doc as Omit<T, 'id'> & { id?: unknown };
    const keys = [this.key('seq'), this.key('docs'), this.key('ids'), this.key('claims'), ...this.uniqueKeys()];
    const out = (await this.conn.run((r) =>
      r.berthInsertDoc(keys.length, ...keys, JSON.stringify(rest), ...this.uniqueArgs(rest)),
    )) as [string, string];
    if (out[0] === 'conflict') throw new ConflictError(this.name, out[1]);
    return { ...rest, id: Number(out[1]) } as unknown as T;
  }

  async get(id: number): Promise<T | undefined> {
    const v = await this.conn.run((r) => r.hget(this.key('docs'), String(id)));
    return v === null ? undefined : (JSON.parse(v) as T);
  }

  async findOne(field: keyof T & string, value: FieldValue): Promise<T | undefined> {
    if (this.unique.includes(field) && value !== null) {
      const v = await this.conn.run(async (r) => {
        const id = await r.hget(this.key(`unique:${field}`), JSON.stringify(value));
        return id === null ? null : r.hget(this.key('docs'), id);
      });
      return v === null ? undefined : (JSON.parse(v) as T);
    }
    const where = { [field]: value } as ListQuery<T>['where'];
    return (await this.list({ where, limit: 1 })).items[0];
  }

  async update(doc: T): Promise<void> {
    const keys = [this.key('docs'), this.key('claims'), ...this.uniqueKeys()];
    const out = (await this.conn.run((r) =>
      r.berthUpdateDoc(keys.length, ...keys, String(doc.id), JSON.stringify(doc), ...this.uniqueArgs(doc)),
    )) as [string, string?];
    if (out[0] === 'notfound') throw new NotFoundError(this.name, doc.id);
    if (out[0] === 'conflict') throw new ConflictError(this.name, out[1]!);
  }

  async delete(id: number): Promise<boolean> {
    const keys = [this.key('docs'), this.key('ids'), this.key('claims'), ...this.uniqueKeys()];
    const n = await this.conn.run((r) => r.berthDeleteDoc(keys.length, ...keys, String(id), ...this.unique));
    return n === 1;
  }

  async list(query: ListQuery<T> = {}): Promise<{ items: T[]; total: number }> {
    const offset = Math.max(0, Math.floor(query.offset ?? 0));
    const limit = query.limit === undefined ? Infinity : Math.max(0, Math.floor(query.limit));
    const where = Object.entries(query.where ?? {}).filter(([, v]) => v !== undefined);
    if (where.length === 0) {
      // total and the page of ids in one transaction, then their documents
      const [total, docs] = await this.conn.run(async (r) => {
        if (limit === 0) return [await r.zcard(this.key('ids')), []] as const;
        const stop = limit === Infinity ? -1 : offset + limit - 1;
        const tx = r.multi().zcard(this.key('ids'));
        if (query.order === 'desc') tx.zrevrange(this.key('ids'), offset, stop);
        else tx.zrange(this.key('ids'), String(offset), String(stop));
        const [count, ids] = execResult(await tx.exec()) as [number, string[]];
        return [count, ids.length ? await r.hmget(this.key('docs'), ...ids) : []] as const;
      });
      return { items: docs.filter((d): d is string => d !== null).map((d) => JSON.parse(d) as T), total };
    }
    // Equality filters scan the collection's documents (admin records: users, projects, policies).
    const all = (await this.conn.run((r) => r.hvals(this.key('docs'))))
      .map((d) => JSON.parse(d) as T)
      .filter((doc) => where.every(([f, v]) => (doc as Record<string, unknown>)[f] === v))
      .sort((a, b) => (query.order === 'desc' ? b.id - a.id : a.id - b.id));
    return { items: all.slice(offset, offset + limit), total: all.length };
  }

  private key(part: string): string {
    return collectionKey(this.name, part);
  }

  private uniqueKeys(): string[] {
    return this.unique.map((f) => this.key(`unique:${f}`));
  }

  /** Per unique field: its name and its value as JSON (so 1 and "1" differ); '' when absent or null (like SQL,
   *  absent values never collide). */
  private uniqueArgs(doc: object): string[] {
    return this.unique.flatMap((f) => {
      const v = (doc as Record<string, unknown>)[f];
      return [f, v === undefined || v === null ? '' : JSON.stringify(v)];
    });
  }
}
