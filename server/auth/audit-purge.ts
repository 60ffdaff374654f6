import type { Logger } from '../../core/log.js';
import { ScheduledJob } from '../../registry/scheduled-job.js';
import type { MetaStore } from '../../storage-adapters/meta/meta-store.js';
import type { AuditLog } from './audit.js';
import type { RefreshTokens } from './refresh-tokens.js';

// Harbor's audit-log purge (/system/purgeaudit): entries older than audit_retention_hour, of the operations
// listed (all when none are), are deleted; expired refresh tokens go in the same run.

export interface PurgeParameters {
  audit_retention_hour: number;
  /** Comma-separated operations (create, delete, pull, …); empty: every operation. Harbor 2.13+ calls it
   *  include_event_types, older releases include_operations; both are read. */
  include_operations: string;
  dry_run: boolean;
}

export const DEFAULT_PURGE_PARAMETERS: PurgeParameters = { audit_retention_hour: 24 * 30, include_operations: '', dry_run: false };

export async function purgeAudit(audit: AuditLog, p: PurgeParameters, now = Date.now()): Promise<number> {
  const cutoff = now - p.audit_retention_hour * 3600 * 1000;
  const ops = new Set(p.include_operations.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  let purged = 0;
  // Oldest first; ids grow with op_time, so the first entry inside the retention ends the walk.
  for (let offset = 0; ; ) {
    const { items } = await audit.records.list({ order: 'asc', offset, limit: 500 });
    let kept = 0;
    for (const r of items) {
      if (Date.parse(r.op_time) >= cutoff) return purged;
      if (ops.size > 0 && !ops.has(r.operation.toLowerCase())) {
        kept++;
        continue;
      }
      purged++;
      if (p.dry_run) kept++;
      else await audit.records.delete(r.id);
    }
    if (items.length < 500) return purged;
    offset += kept;
  }
}

export function purgeAuditJob(meta: MetaStore, log: Logger, audit: AuditLog, refreshTokens?: RefreshTokens): ScheduledJob<PurgeParameters> {
  return new ScheduledJob<PurgeParameters>('purgeaudit', meta, log, async (p) => {
    const purged = await purgeAudit(audit, p);
    const tokens = (await refreshTokens?.purgeExpired(p.dry_run)) ?? 0;
    const verb = p.dry_run ? 'dry run: would purge' : 'purged';
    return { ok: true, lines: [`${verb} ${purged} audit log entries older than ${p.audit_retention_hour} h${p.include_operations ? ` (operations ${p.include_operations})` : ''}`, `${verb} ${tokens} expired refresh tokens`], report: { purged_entries: purged, purged_refresh_tokens: tokens } };
  }, DEFAULT_PURGE_PARAMETERS);
}
