import { ConflictError, type Collection, type FieldValue } from './meta-store.js';

// Writes by a unique field that several instances may race on: the loser of an insert (ConflictError) reads the
// winner's document instead of failing.

/** The document whose unique `field` is `value`, inserted as `make()` when there is none (`make` runs only
 *  then, so it may be costly). */
export async function findOrInsert<T extends { id: number }>(c: Collection<T>, field: keyof T & string, value: FieldValue, make: () => Omit<T, 'id'> | Promise<Omit<T, 'id'>>): Promise<T> {
  const found = await c.findOne(field, value);
  if (found) return found;
  try {
    return await c.insert(await make());
  } catch (e) {
    if (!(e instanceof ConflictError)) throw e;
    const theirs = await c.findOne(field, value);
    if (!theirs) throw e;
    return theirs;
  }
}

/** Inserts `change(undefined)` or replaces the stored document with `change(stored)`; an insert another writer
 *  won meanwhile becomes an update of theirs. */
export async function upsert<T extends { id: number }>(c: Collection<T>, field: keyof T & string, value: FieldValue, change: (stored: T | undefined) => Omit<T, 'id'>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const stored = await c.findOne(field, value);
    try {
      if (stored) await c.update({ ...change(stored), id: stored.id } as T);
      else await c.insert(change(undefined));
      return;
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt === 2) throw e;
    }
  }
}
