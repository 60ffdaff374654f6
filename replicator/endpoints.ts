import type { Logger } from '../core/log.js';
import type { CredentialCipher } from './credentials.js';
import { RemoteRegistry } from './endpoint.js';
import { isConnectivity } from './failures.js';
import type { RegistryRecord, ReplicationRecords } from './records.js';

// The remote registries the policies name, as the engine last saw them: a client each (rebuilt when the record
// changes), a Berth peer's IDC (learned once), and health. Tasks for an unreachable registry wait; it is probed
// every second until it answers.

export interface EndpointState {
  record: RegistryRecord;
  remote: RemoteRegistry;
  healthy: boolean;
  lastProbe: number;
}

export class Endpoints {
  private readonly known = new Map<number, EndpointState>();

  constructor(
    private readonly records: ReplicationRecords,
    private readonly cipher: CredentialCipher,
    private readonly log: Logger,
    /** BERTH_CA_FILE's certificates, trusted for every endpoint. */
    private readonly ca?: Buffer,
  ) {}

  get(id: number): EndpointState | undefined {
    return this.known.get(id);
  }

  status(id: number): 'healthy' | 'unhealthy' | undefined {
    const e = this.known.get(id);
    return e ? (e.healthy ? 'healthy' : 'unhealthy') : undefined;
  }

  /** Re-reads the registry's record: a new client when it changed, forgotten when it is gone. */
  async refresh(id: number): Promise<EndpointState | undefined> {
    const record = await this.records.registries.get(id);
    if (!record) {
      this.known.delete(id);
      return undefined;
    }
    let e = this.known.get(id);
    if (!e || e.record.update_time !== record.update_time || e.record.idc !== record.idc) {
      e = { record, remote: RemoteRegistry.fromRecord(record, this.cipher, undefined, this.ca), healthy: e?.healthy ?? true, lastProbe: 0 };
      this.known.set(id, e);
    }
    if (e.remote.isBerth && !e.remote.idc && Date.now() - e.lastProbe > 5000) {
      // The peer's IDC keeps events from going back where they came from; learn it once.
      e.lastProbe = Date.now();
      const info = await e.remote.info().catch(() => undefined);
      if (info?.idc) {
        e.remote.idc = info.idc;
        const fresh = await this.records.registries.get(id);
        if (fresh) await this.records.registries.update({ ...fresh, idc: info.idc });
        e.record = { ...record, idc: info.idc };
      }
    }
    return e;
  }

  /** Probes the unreachable registries (once a second each); returns the ids of those that answer again. */
  async probe(): Promise<number[]> {
    const now = Date.now();
    const back: number[] = [];
    for (const e of this.known.values()) {
      if (e.healthy || now - e.lastProbe < 1000) continue;
      e.lastProbe = now;
      if (!(await e.remote.reachable())) continue;
      e.healthy = true;
      this.log.info({ registry: e.record.name }, 'registry reachable again');
      back.push(e.record.id);
    }
    return back;
  }

  /** After a failure: a registry that did not answer at all is held as unreachable until a probe says otherwise. */
  markUnreachable(id: number, err: unknown): void {
    const e = this.known.get(id);
    if (!e || !isConnectivity(err) || !e.healthy) return;
    e.healthy = false;
    e.lastProbe = Date.now();
    this.log.warn({ registry: e.record.name, err: (err as Error).message }, 'registry unreachable; holding its tasks');
  }
}
