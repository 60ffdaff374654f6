import type { Logger } from '../../core/log.js';
import type { Collection, MetaStore } from '../../storage-adapters/meta/meta-store.js';

// The audit log: who did what to which resource, when, from where, and whether it worked. Harbor's AuditLog
// fields (id, username, resource, resource_type, operation, op_time) plus its newer operation_result /
// operation_description, the client address and the project, so project admins can read their own part.

export interface AuditRecord {
  id: number;
  username: string;
  resource: string;
  resource_type: string;
  operation: string;
  operation_result: boolean;
  operation_description: string;
  /** ISO 8601, UTC. */
  op_time: string;
  client_ip: string;
  /** The project the resource belongs to; 0 for none (users, system robots, logins). */
  project_id: number;
}

export type AuditEntry = Omit<AuditRecord, 'id' | 'op_time' | 'operation_result' | 'operation_description' | 'project_id'> &
  Partial<Pick<AuditRecord, 'operation_result' | 'operation_description' | 'project_id'>>;

export class AuditLog {
  readonly records: Collection<AuditRecord>;

  constructor(
    meta: MetaStore,
    private readonly log: Logger,
  ) {
    this.records = meta.collection<AuditRecord>('audit_logs');
  }

  /** Appends an entry. A failure to write is logged, never thrown: the audited action already happened. */
  async record(entry: AuditEntry): Promise<void> {
    try {
      await this.records.insert({
        operation_result: true,
        operation_description: '',
        project_id: 0,
        ...entry,
        op_time: new Date().toISOString(),
      });
    } catch (err) {
      this.log.error({ err, operation: entry.operation, resource: entry.resource }, 'audit log write failed');
    }
  }
}
