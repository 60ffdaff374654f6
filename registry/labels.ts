import type { Collection, MetaStore } from '../storage-adapters/meta/meta-store.js';
import { ConflictError } from '../storage-adapters/meta/meta-store.js';

// Harbor's labels: global ones (scope g) and a project's own (scope p), and which artifacts carry them. Stored
// as MetaStore collections, so SQLite and Redis hold them alike; a name is unique within its scope and project.

export type LabelScope = 'g' | 'p';

export interface LabelRecord {
  id: number;
  name: string;
  description: string;
  color: string;
  scope: LabelScope;
  /** 0 for a global label. */
  project_id: number;
  /** `<scope>:<project_id>:<name>`: what makes a name unique. */
  scope_key: string;
  creation_time: string;
  update_time: string;
}

/** One label on one artifact (a manifest of a repository). */
export interface ArtifactLabelRecord {
  id: number;
  /** `<repository>@<digest>#<label id>`: a label is on an artifact once. */
  key: string;
  repository: string;
  digest: string;
  label_id: number;
  creation_time: string;
}

export type NewLabel = Pick<LabelRecord, 'name' | 'description' | 'color' | 'scope' | 'project_id'>;

const scopeKey = (l: Pick<LabelRecord, 'scope' | 'project_id' | 'name'>) => `${l.scope}:${l.project_id}:${l.name}`;
const linkKey = (repository: string, digest: string, labelId: number) => `${repository}@${digest}#${labelId}`;

export class Labels {
  private readonly labels: Collection<LabelRecord>;
  private readonly links: Collection<ArtifactLabelRecord>;

  constructor(meta: MetaStore) {
    this.labels = meta.collection<LabelRecord>('labels', { unique: ['scope_key'] });
    this.links = meta.collection<ArtifactLabelRecord>('artifact_labels', { unique: ['key'] });
  }

  /** Throws ConflictError when the scope (and project) already has a label of that name. */
  create(label: NewLabel): Promise<LabelRecord> {
    const t = new Date().toISOString();
    return this.labels.insert({ ...label, scope_key: scopeKey(label), creation_time: t, update_time: t });
  }

  get(id: number): Promise<LabelRecord | undefined> {
    return this.labels.get(id);
  }

  /** Renames, recolours, redescribes; throws ConflictError on a name taken in the same scope. */
  async update(label: LabelRecord, change: Pick<LabelRecord, 'name' | 'description' | 'color'>): Promise<void> {
    const next = { ...label, ...change, update_time: new Date().toISOString() };
    await this.labels.update({ ...next, scope_key: scopeKey(next) });
  }

  /** Deletes the label and takes it off every artifact. */
  async delete(id: number): Promise<boolean> {
    for (;;) {
      const { items } = await this.links.list({ where: { label_id: id }, limit: 500 });
      for (const link of items) await this.links.delete(link.id);
      if (items.length < 500) break;
    }
    return this.labels.delete(id);
  }

  /** Every label of a scope (and project), by id. */
  async list(scope: LabelScope, projectId = 0): Promise<LabelRecord[]> {
    return this.all({ scope, project_id: scope === 'g' ? 0 : projectId });
  }

  /** Puts the label on the artifact; false when it was already there. */
  async attach(repository: string, digest: string, labelId: number): Promise<boolean> {
    try {
      await this.links.insert({ key: linkKey(repository, digest, labelId), repository, digest, label_id: labelId, creation_time: new Date().toISOString() });
      return true;
    } catch (e) {
      if (e instanceof ConflictError) return false;
      throw e;
    }
  }

  /** Takes the label off the artifact; false when it was not on it. */
  async detach(repository: string, digest: string, labelId: number): Promise<boolean> {
    const link = await this.links.findOne('key', linkKey(repository, digest, labelId));
    return link ? this.links.delete(link.id) : false;
  }

  /** The labels on an artifact, in the order they were put on. */
  async of(repository: string, digest: string): Promise<LabelRecord[]> {
    const links = await this.allLinks({ repository, digest });
    const labels = await Promise.all(links.map((l) => this.labels.get(l.label_id)));
    return labels.filter((l): l is LabelRecord => l !== undefined);
  }

  /** The names of the labels on an artifact (replication's label filters). */
  async namesOf(repository: string, digest: string): Promise<string[]> {
    return (await this.of(repository, digest)).map((l) => l.name);
  }

  /** Forgets the labels of an artifact that is gone (a later push of the same digest starts without them). */
  async forget(repository: string, digest: string): Promise<void> {
    for (const link of await this.allLinks({ repository, digest })) await this.links.delete(link.id);
  }

  /** Forgets every label link of a deleted repository. */
  async forgetRepository(repository: string): Promise<void> {
    for (const link of await this.allLinks({ repository })) await this.links.delete(link.id);
  }

  private async all(where: Partial<Record<keyof LabelRecord & string, string | number>>): Promise<LabelRecord[]> {
    const out: LabelRecord[] = [];
    for (let offset = 0; ; offset += 500) {
      const { items } = await this.labels.list({ where, offset, limit: 500 });
      out.push(...items);
      if (items.length < 500) return out;
    }
  }

  private async allLinks(where: Partial<Record<keyof ArtifactLabelRecord & string, string | number>>): Promise<ArtifactLabelRecord[]> {
    const out: ArtifactLabelRecord[] = [];
    for (let offset = 0; ; offset += 500) {
      const { items } = await this.links.list({ where, offset, limit: 500 });
      out.push(...items);
      if (items.length < 500) return out;
    }
  }
}
