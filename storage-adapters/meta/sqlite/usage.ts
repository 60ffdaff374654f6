// Usage ledgers (MetaStore.chargeUsage and friends): each decision and its effect in one IMMEDIATE transaction,
// so two processes on one file cannot both pass a limit.
import type Database from 'better-sqlite3';
import type { UsageCharge, UsageItem } from '../meta-store.js';
import { immediate } from './database.js';

export class SqliteUsage {
  readonly charge: (scope: string, item: string, size: number, limit: number) => UsageCharge;
  readonly release: (scope: string, item: string, holders: string, chargedBefore?: number) => boolean;
  private readonly total: Database.Statement;
  private readonly items: Database.Statement;

  constructor(db: Database.Database) {
    this.total = db.prepare('SELECT total FROM usage_totals WHERE scope = ?');
    this.items = db.prepare('SELECT item, size, charged_at FROM usage_items WHERE scope = ? ORDER BY item');
    const item = db.prepare('SELECT size, charged_at FROM usage_items WHERE scope = ? AND item = ?');
    const add = db.prepare('INSERT INTO usage_items (scope, item, size, charged_at) VALUES (?, ?, ?, ?)');
    const remove = db.prepare('DELETE FROM usage_items WHERE scope = ? AND item = ?');
    const bump = db.prepare(
      'INSERT INTO usage_totals (scope, total) VALUES (@scope, @delta) ON CONFLICT (scope) DO UPDATE SET total = total + @delta',
    );
    // Prefix match by range, so the (digest, repository) indexes serve it.
    const linked = db.prepare('SELECT 1 FROM blob_links WHERE digest = @item AND repository >= @lo AND repository < @hi LIMIT 1');
    const manifest = db.prepare('SELECT 1 FROM manifests WHERE digest = @item AND repository >= @lo AND repository < @hi LIMIT 1');

    this.charge = immediate(db, (scope: string, it: string, size: number, limit: number): UsageCharge => {
      const total = this.totalOf(scope);
      if (item.get(scope, it)) return { outcome: 'present', total };
      if (limit >= 0 && total + size > limit) return { outcome: 'refused', total };
      add.run(scope, it, size, Date.now());
      bump.run({ scope, delta: size });
      return { outcome: 'charged', total: total + size };
    });

    this.release = immediate(db, (scope: string, it: string, holders: string, chargedBefore?: number): boolean => {
      const row = item.get(scope, it) as { size: number; charged_at: number } | undefined;
      if (!row) return false;
      if (chargedBefore !== undefined && row.charged_at >= chargedBefore) return false;
      const range = { item: it, lo: holders, hi: `${holders}\uffff` };
      if (linked.get(range) || manifest.get(range)) return false;
      remove.run(scope, it);
      bump.run({ scope, delta: -row.size });
      return true;
    });
  }

  totalOf(scope: string): number {
    return (this.total.get(scope) as { total: number } | undefined)?.total ?? 0;
  }

  list(scope: string): UsageItem[] {
    const rows = this.items.all(scope) as { item: string; size: number; charged_at: number }[];
    return rows.map((r) => ({ item: r.item, size: r.size, chargedAt: r.charged_at }));
  }
}
