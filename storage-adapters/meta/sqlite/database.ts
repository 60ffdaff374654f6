// What every part of the SQLite MetaStore runs its statements through: promises over synchronous calls, IMMEDIATE
// write transactions, statements prepared once.
import Database from 'better-sqlite3';
import { StorageUnavailableError } from '../../blob/blob-store.js';

export type Statement = Database.Statement<unknown[], unknown>;

/** Statements for SQL assembled at run time, each prepared the first time its text is seen. */
export class StatementCache {
  private readonly byText = new Map<string, Statement>();
  constructor(private readonly db: Database.Database) {}

  get(sql: string): Statement {
    let s = this.byText.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.byText.set(sql, s);
    }
    return s;
  }
}

/** Runs a synchronous database call as a promise. Failures that mean "the database cannot serve now" become
 *  StorageUnavailableError (a 503 upstream); everything else passes through. */
export function io<T>(db: Database.Database, fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    if (!db.open) return Promise.reject(new StorageUnavailableError('metadata database is closed', { cause: e }));
    if (e instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY)/.test(e.code)) {
      return Promise.reject(new StorageUnavailableError(`metadata database unavailable: ${e.message}`, { cause: e }));
    }
    return Promise.reject(e);
  }
}

/** A write transaction that takes the write lock at BEGIN, so two processes on one file queue on busy_timeout
 *  instead of failing when a read lock cannot be upgraded. */
export function immediate<A extends unknown[], R>(db: Database.Database, fn: (...args: A) => R): (...args: A) => R {
  const tx = db.transaction(fn);
  return (...args: A) => tx.immediate(...args);
}

/** SQLite LIMIT: -1 is "no limit". */
export function limitOf(n: number | undefined): number {
  return n === undefined ? -1 : Math.max(0, Math.floor(n));
}
