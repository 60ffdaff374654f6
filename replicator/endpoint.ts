import { OciClient, TlsCertificateError } from '../core/oci-client.js';
import type { CredentialCipher } from './credentials.js';
import type { RegistryRecord, RegistryType } from './records.js';
import type { Topology } from './topology-types.js';
import { fromWire, type SourceTag, type WireTag } from './tags.js';

// A remote registry as replication uses it: the OCI client (the one code path to Berth, CNCF distribution and
// Harbor) plus, for Berth peers, the small replication API that carries tag versions (anti-entropy) and the
// Harbor-shaped admin API that creates a missing destination project.

export const CREDENTIAL_CONTEXT = 'berth-registry-credential';

export interface RegistryAccess {
  url: string;
  type: RegistryType;
  username?: string;
  password?: string;
  /** HTTPS without verifying the registry's certificate (Harbor's "Verify Remote Cert" off). */
  insecure?: boolean;
  /** Extra CAs (PEM: BERTH_CA_FILE, the endpoint's ca_certificate) the certificate may chain to, beside the system's. */
  ca?: Buffer;
}

export class RemoteRegistry {
  readonly client: OciClient;
  private readonly base: string;
  private readonly projects = new Set<string>();

  constructor(
    readonly access: RegistryAccess,
    readonly id = 0,
    /** The peer's IDC when known. */
    public idc: string | null = null,
    timeoutMs = 30_000,
  ) {
    this.base = access.url.replace(/\/+$/, '');
    this.client = new OciClient({
      baseUrl: this.base,
      timeoutMs,
      userAgent: 'berth-replicator',
      insecure: access.insecure ?? false,
      ...(access.ca && { ca: access.ca }),
      ...(access.username !== undefined && { username: access.username, password: access.password ?? '' }),
    });
  }

  static fromRecord(r: RegistryRecord, cipher: CredentialCipher, timeoutMs?: number, ca?: Buffer): RemoteRegistry {
    // the endpoint's own CA (Harbor's ca_certificate) beside BERTH_CA_FILE's and the system's
    const cas = [ca, r.ca_certificate ? Buffer.from(`${r.ca_certificate.trim()}\n`) : undefined].filter((c): c is Buffer => c !== undefined);
    const access: RegistryAccess = { url: r.url, type: r.type, insecure: r.insecure, ...(cas.length > 0 && { ca: Buffer.concat(cas) }) };
    if (r.credential) {
      access.username = r.credential.access_key;
      access.password = cipher.decrypt(r.credential.access_secret_enc, CREDENTIAL_CONTEXT);
    }
    return new RemoteRegistry(access, r.id, r.idc, timeoutMs);
  }

  get isBerth(): boolean {
    return this.access.type === 'berth';
  }

  /** Reachable at all: any HTTP answer from /v2/ (401 included) means the registry is up. So does a certificate
   *  it showed and we refused: it is there, and its tasks should run and fail saying why rather than wait. */
  async reachable(timeoutMs = 2000): Promise<boolean> {
    try {
      const r = await this.client.fetch(`${this.base}/v2/`, { signal: AbortSignal.timeout(timeoutMs) });
      await r.body?.cancel();
      return r.status < 500;
    } catch (e) {
      return e instanceof TlsCertificateError;
    }
  }

  /** What the replication API says about a Berth peer (its IDC). */
  async info(): Promise<{ idc: string } | undefined> {
    const r = await this.api('GET', '/api/v2.0/berth/replication/info');
    if (r.status !== 200) {
      await r.body?.cancel();
      return undefined;
    }
    return (await r.json()) as { idc: string };
  }

  /** A Berth peer's view of the replication graph, `depth` hops on, leaving out the IDCs in `visited`; undefined
   *  when the peer has no such API. A refusal (401/403) or another failure throws with the peer's answer. */
  async topology(depth: number, visited: string[], timeoutMs: number): Promise<Topology | undefined> {
    const query = `depth=${depth}&visited=${encodeURIComponent(visited.join(','))}`;
    const r = await this.api('GET', `/api/v2.0/berth/replication/topology?${query}`, undefined, timeoutMs);
    if (r.status === 404 || r.status === 405) {
      await r.body?.cancel();
      return undefined;
    }
    if (r.status !== 200) throw new Error(`${r.status} ${(await r.text().catch(() => '')).slice(0, 200)}`);
    return (await r.json()) as Topology;
  }

  /** The label names on an artifact of a Berth or Harbor registry (its artifact API); undefined for registries
   *  without labels (distribution, Docker Hub). */
  async artifactLabels(repository: string, digest: string): Promise<string[] | undefined> {
    if (this.access.type !== 'berth' && this.access.type !== 'harbor') return undefined;
    const [project, ...rest] = repository.split('/');
    // Harbor's artifact API takes the repository inside the project with its slashes encoded twice.
    const repo = encodeURIComponent(encodeURIComponent(rest.join('/')));
    const r = await this.api('GET', `/api/v2.0/projects/${encodeURIComponent(project!)}/repositories/${repo}/artifacts/${digest}?with_label=true`);
    if (r.status === 404) {
      await r.body?.cancel();
      return [];
    }
    if (r.status !== 200) throw new Error(`labels of ${repository}@${digest}: ${r.status} ${(await r.text().catch(() => '')).slice(0, 200)}`);
    const body = (await r.json()) as { labels?: { name: string }[] | null };
    return (body.labels ?? []).map((l) => l.name);
  }

  /** Every tag record (tombstones and versions included) of a repository on a Berth peer; undefined when the
   *  peer does not offer the API. */
  async tagRecords(repository: string): Promise<SourceTag[] | undefined> {
    const r = await this.api('GET', `/api/v2.0/berth/replication/tags?repository=${encodeURIComponent(repository)}`);
    if (r.status === 404 || r.status === 405) {
      await r.body?.cancel();
      return undefined;
    }
    if (r.status !== 200) {
      const text = await r.text().catch(() => '');
      throw new Error(`tag records of ${repository}: ${r.status} ${text.slice(0, 200)}`);
    }
    const body = (await r.json()) as { tags: WireTag[] };
    return body.tags.map(fromWire);
  }

  /**
   * Creates the project (a repository's first path component) on a Berth or Harbor destination, private, when
   * it is missing. A registry without that API (CNCF distribution, Berth without access control) needs none.
   */
  async ensureProject(repository: string): Promise<void> {
    if (this.access.type === 'docker-registry' || this.access.type === 'docker-hub') return;
    const project = repository.split('/')[0]!;
    if (this.projects.has(project) || !repository.includes('/')) return;
    // POST and accept 409: one round trip whether or not it exists (and HEAD /projects is not everywhere).
    const r = await this.api('POST', '/api/v2.0/projects', { project_name: project, metadata: { public: 'false' } });
    const text = await r.text().catch(() => '');
    if (r.status === 201 || r.status === 409) {
      this.projects.add(project);
      return;
    }
    // 404 on POST: the registry has no projects API at all (auth off).
    if (r.status === 404 || r.status === 405) {
      this.projects.add(project);
      return;
    }
    throw new Error(`creating project ${project} at ${this.base}: ${r.status} ${text.slice(0, 200)}`);
  }

  private async api(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'berth-replicator' };
    if (this.access.username !== undefined) {
      headers.Authorization = `Basic ${Buffer.from(`${this.access.username}:${this.access.password ?? ''}`).toString('base64')}`;
    }
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return this.client.fetch(`${this.base}${path}`, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  }
}
