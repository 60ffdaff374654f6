// A record collection (users, projects, policies…) on SQLite: documents as JSON in `records`, unique values
// claimed in `record_keys`, whose primary key is what enforces them.
import type Database from 'better-sqlite3';
import { ConflictError, NotFoundError, type Collection, type FieldValue, type ListQuery } from '../meta-store.js';
import { immediate, io, limitOf, type StatementCache } from './database.js';
import type { Statements } from './statements.js';

export class SqliteCollection<T extends { id: number }> implements Collection<T> {
  private readonly insertTx: (doc: Omit<T, 'id'>) => T;
  private readonly updateTx: (doc: T) => void;
  private readonly listTx: (query: ListQuery<T>) => { items: T[]; total: number };

  constructor(
    private readonly db: Database.Database,
    private readonly stmt: Statements,
    dynamic: StatementCache,
    private readonly name: string,
    private readonly unique: readonly string[],
  ) {
    this.insertTx = immediate(db, (doc: Omit<T, 'id'>) => {
      const { last_id: id } = stmt.nextRecordId.get(name) as { last_id: number };
      const full = { ...doc, id } as T;
      stmt.insertRecord.run(name, id, JSON.stringify(full));
      this.claimKeys(full);
      return full;
    });
    this.updateTx = immediate(db, (doc: T) => {
      if (stmt.getRecord.get(name, doc.id) === undefined) throw new NotFoundError(name, doc.id);
      stmt.deleteRecordKeys.run(name, doc.id);
      stmt.updateRecord.run(JSON.stringify(doc), name, doc.id);
      this.claimKeys(doc);
    });
    // A read transaction: items and total come from one snapshot.
    this.listTx = db.transaction((query: ListQuery<T>) => {
      const { sql, params } = whereClause(query.where);
      const order = query.order === 'desc' ? 'DESC' : 'ASC';
      const rows = dynamic
        .get(`SELECT doc FROM records WHERE collection = ?${sql} ORDER BY id ${order} LIMIT ? OFFSET ?`)
        .all(name, ...params, limitOf(query.limit), Math.max(0, query.offset ?? 0)) as { doc: string }[];
      const count = dynamic.get(`SELECT count(*) AS n FROM records WHERE collection = ?${sql}`);
      const { n } = count.get(name, ...params) as { n: number };
      return { items: rows.map((r) => JSON.parse(r.doc) as T), total: n };
    });
  }

  insert(doc: Omit<T, 'id'>): Promise<T> {
    return io(this.db, () => this.insertTx(doc));
  }

  get(id: number): Promise<T | undefined> {
    return io(this.db, () => {
      const row = this.stmt.getRecord.get(this.name, id) as { doc: string } | undefined;
      return row && (JSON.parse(row.doc) as T);
    });
  }

  findOne(field: keyof T & string, value: FieldValue): Promise<T | undefined> {
    return io(this.db, () => {
      if (this.unique.includes(field) && value !== null) {
        const row = this.stmt.findByKey.get(this.name, field, JSON.stringify(value)) as { doc: string } | undefined;
        return row && (JSON.parse(row.doc) as T);
      }
      const where = { [field]: value } as ListQuery<T>['where'];
      return this.listTx({ where, limit: 1 }).items[0];
    });
  }

  update(doc: T): Promise<void> {
    return io(this.db, () => this.updateTx(doc));
  }

  delete(id: number): Promise<boolean> {
    // record_keys rows go by ON DELETE CASCADE.
    return io(this.db, () => this.stmt.deleteRecord.run(this.name, id).changes > 0);
  }

  list(query: ListQuery<T> = {}): Promise<{ items: T[]; total: number }> {
    return io(this.db, () => this.listTx(query));
  }

  /** Inside a transaction: records the document's unique values, or throws ConflictError (rolling back). */
  private claimKeys(doc: T): void {
    for (const field of this.unique) {
      const value = (doc as Record<string, unknown>)[field];
      if (value === undefined || value === null) continue; // like SQL: absent values never collide
      const { changes } = this.stmt.claimKey.run(this.name, field, JSON.stringify(value), doc.id);
      if (changes === 0) throw new ConflictError(this.name, field);
    }
  }
}

const fieldName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Equality on top-level JSON fields, type included: 1 does not match "1" nor true. */
function whereClause(where: Record<string, FieldValue | undefined> | undefined): { sql: string; params: unknown[] } {
  let sql = '';
  const params: unknown[] = [];
  for (const [field, value] of Object.entries(where ?? {})) {
    if (value === undefined) continue;
    if (!fieldName.test(field)) throw new Error(`invalid field name ${JSON.stringify(field)}`);
    const path = `$.${field}`;
    if (value === null) {
      sql += ` AND json_type(doc, ?) = 'null'`;
      params.push(path);
    } else if (typeof value === 'boolean') {
      sql += ` AND json_type(doc, ?) = ?`;
      params.push(path, value ? 'true' : 'false');
    } else if (typeof value === 'number') {
      sql += ` AND json_type(doc, ?) IN ('integer', 'real') AND json_extract(doc, ?) = ?`;
      params.push(path, path, value);
    } else {
      sql += ` AND json_type(doc, ?) = 'text' AND json_extract(doc, ?) = ?`;
      params.push(path, path, value);
    }
  }
  return { sql, params };
}
