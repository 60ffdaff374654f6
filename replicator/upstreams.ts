import type { Upstream } from '../registry/proxy-cache.js';
import type { CredentialCipher } from './credentials.js';
import { RemoteRegistry } from './endpoint.js';
import type { ReplicationRecords } from './records.js';

// The registry endpoints as upstreams of proxy-cache projects: the same records, credentials and TLS settings
// replication uses, one client per endpoint (rebuilt when its record changes).

const UPSTREAM_TIMEOUT_MS = 10_000;

export class Upstreams {
  private readonly clients = new Map<number, { updated: string; upstream: Upstream }>();

  constructor(
    private readonly records: ReplicationRecords,
    private readonly cipher: CredentialCipher,
    private readonly ca?: Buffer,
  ) {}

  async upstream(id: number): Promise<Upstream | undefined> {
    const record = await this.records.registries.get(id);
    if (!record) {
      this.clients.delete(id);
      return undefined;
    }
    const known = this.clients.get(id);
    if (known?.updated === record.update_time) return known.upstream;
    // A pull waits on the upstream: a short timeout, after which the cached copy is served.
    const remote = RemoteRegistry.fromRecord(record, this.cipher, UPSTREAM_TIMEOUT_MS, this.ca);
    const upstream: Upstream = { client: remote.client, name: record.name, dockerHub: record.type === 'docker-hub' };
    this.clients.set(id, { updated: record.update_time, upstream });
    return upstream;
  }
}
