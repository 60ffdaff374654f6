import type { Context } from 'koa';
import type { MetaStore } from '../../storage-adapters/meta/meta-store.js';
import type { CredentialCipher } from '../credentials.js';
import type { Replicator } from '../engine.js';
import type { ReplicationRecords } from '../records.js';

export interface ReplicationApiDeps {
  records: ReplicationRecords;
  meta: MetaStore;
  cipher: CredentialCipher;
  /** Extra CAs (BERTH_CA_FILE) remote registries' certificates may chain to. */
  ca?: Buffer;
  idc: string;
  /** This registry's URL, shown as the local side of a policy. */
  localUrl: string;
  /** The engine when it runs in this process (it is told about changes at once); else the active one polls. */
  engine?: Replicator;
  /** Throws (401/403) unless the caller is a system admin. Absent: everyone may (auth none). */
  requireSysadmin?: (ctx: Context) => Promise<void>;
}
