import type { ServerConfig } from '../core/config.js';
import type { Collection, MetaStore } from '../storage-adapters/meta/meta-store.js';
import { upsert } from '../storage-adapters/meta/upsert.js';

// The settings an admin changes at run time (Harbor's PUT /configurations), kept in the MetaStore so every
// instance sharing it obeys the same value; read through a short cache, so a change holds everywhere within
// CACHE_MS. What is not here comes from the configuration file and cannot be changed over the API.

const CACHE_MS = 1000;

export interface Settings {
  /** Harbor's read_only: every write (push, delete, admin change) refused until turned off. */
  read_only: boolean;
  /** Harbor's project_creation_restriction. */
  project_creation_restriction: 'everyone' | 'adminonly';
  /** Harbor's system CVE allowlist, kept as sent (Berth has no scanner to apply it). */
  cve_allowlist: { items: { cve_id: string }[]; expires_at?: number | null };
}

interface SettingDoc {
  id: number;
  name: string;
  /** JSON. */
  value: string;
}

export class RuntimeSettings {
  private readonly docs: Collection<SettingDoc>;
  private cached: { at: number; value: Settings } | undefined;

  constructor(
    meta: MetaStore,
    private readonly config: ServerConfig,
  ) {
    this.docs = meta.collection<SettingDoc>('settings', { unique: ['name'] });
  }

  /** The file's values, before any admin change. */
  defaults(): Settings {
    return { read_only: false, project_creation_restriction: this.config.allow_user_projects ? 'everyone' : 'adminonly', cve_allowlist: { items: [] } };
  }

  async get(): Promise<Settings> {
    if (this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.value;
    const value = this.defaults();
    const { items } = await this.docs.list({ limit: 100 });
    for (const doc of items) if (doc.name in value) (value as unknown as Record<string, unknown>)[doc.name] = JSON.parse(doc.value);
    this.cached = { at: Date.now(), value };
    return value;
  }

  async update(patch: Partial<Settings>): Promise<void> {
    for (const [name, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      const value = JSON.stringify(v);
      await upsert(this.docs, 'name', name, () => ({ name, value }));
    }
    this.cached = undefined;
  }
}
