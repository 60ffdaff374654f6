import type { Collection, MetaStore } from '../../storage-adapters/meta/meta-store.js';

// Webhook policies (Harbor's WebhookPolicy), the jobs delivering one event to one target (Harbor shows each as
// an execution with one task), and the dispatcher's outbox cursor.

export const WEBHOOK_EVENT_TYPES = ['PUSH_ARTIFACT', 'PULL_ARTIFACT', 'DELETE_ARTIFACT', 'QUOTA_EXCEED', 'QUOTA_WARNING', 'REPLICATION', 'TAG_RETENTION'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
export const PAYLOAD_FORMATS = ['Default', 'CloudEvents'] as const;

export interface WebhookTarget {
  type: 'http';
  address: string;
  /** Sent as the Authorization header. */
  auth_header?: string;
  skip_cert_verify: boolean;
  payload_format: (typeof PAYLOAD_FORMATS)[number];
}

export interface WebhookPolicyRecord {
  id: number;
  /** Unique per project: `<project_id>/<name>`. */
  key: string;
  name: string;
  description: string;
  project_id: number;
  project: string;
  targets: WebhookTarget[];
  event_types: WebhookEventType[];
  creator: string;
  enabled: boolean;
  creation_time: string;
  update_time: string;
}

export type JobStatus = 'Pending' | 'Running' | 'Success' | 'Error';

export interface WebhookJobRecord {
  id: number;
  /** What makes a job unique: the event's source and the target, so re-reading the outbox after a crash never
   *  makes a second job. */
  key: string;
  /** `<policy_id>/<target index>`: jobs of one queue are delivered one at a time, in id order. */
  queue: string;
  policy_id: number;
  project_id: number;
  event_type: WebhookEventType;
  /** When the event happened (ms): a queue delivers in this order, then by id. */
  event_at: number;
  address: string;
  status: JobStatus;
  status_message: string;
  attempts: number;
  /** Epoch ms before which the next attempt waits (backoff). */
  next_attempt_at: number;
  /** The body sent, as sent. */
  payload: string;
  content_type: string;
  creation_time: string;
  update_time: string;
  start_time?: string;
  end_time?: string;
}

export interface CursorRecord {
  id: number;
  name: string;
  seq: number;
}

/** How long a pull's webhook lookup trusts what it read (a manifest GET must not cost a store read): a policy
 *  made on another instance starts getting pull events within this; on this instance at once. */
const PULL_LOOKUP_MS = 2000;

export class WebhookRecords {
  readonly policies: Collection<WebhookPolicyRecord>;
  private readonly recent = new Map<string, { at: number; items: WebhookPolicyRecord[] }>();
  readonly jobs: Collection<WebhookJobRecord>;
  readonly cursors: Collection<CursorRecord>;

  constructor(meta: MetaStore) {
    this.policies = meta.collection<WebhookPolicyRecord>('webhook_policies', { unique: ['key'] });
    this.jobs = meta.collection<WebhookJobRecord>('webhook_jobs', { unique: ['key'] });
    this.cursors = meta.collection<CursorRecord>('webhook_cursors', { unique: ['name'] });
  }

  async ofProject(projectId: number): Promise<WebhookPolicyRecord[]> {
    return (await this.policies.list({ where: { project_id: projectId }, limit: 1000 })).items;
  }

  async enabledFor(project: string, type: WebhookEventType): Promise<WebhookPolicyRecord[]> {
    // Pulls are the hot path; pushes, deletes and the rest always read the store.
    const cached = type === 'PULL_ARTIFACT' ? this.recent.get(project) : undefined;
    let items = cached && Date.now() - cached.at < PULL_LOOKUP_MS ? cached.items : undefined;
    if (!items) {
      items = (await this.policies.list({ where: { project, enabled: true }, limit: 1000 })).items;
      if (this.recent.size > 10_000) this.recent.clear();
      this.recent.set(project, { at: Date.now(), items });
    }
    return items.filter((p) => p.event_types.includes(type));
  }

  /** A policy of `project` was made, changed or deleted here: the next lookup reads the store. */
  /**
   * Keeps the delivery history bounded: a finished job (Success or Error) goes once its policy has `keep` newer
   * ones, or its policy is gone, and it ended before `endedBefore`. Pending and running jobs always stay, and so
   * do recent ones (whose keys stop a re-read of the outbox after a crash from delivering twice). Returns how
   * many were deleted.
   */
  async pruneJobs(keep: number, endedBefore: string): Promise<number> {
    const policies = new Set((await this.policies.list({ limit: 100_000 })).items.map((p) => p.id));
    const seen = new Map<number, number>();
    const doomed: number[] = [];
    for (let offset = 0; ; offset += 1000) {
      const { items } = await this.jobs.list({ order: 'desc', offset, limit: 1000 });
      for (const j of items) {
        const newer = seen.get(j.policy_id) ?? 0;
        seen.set(j.policy_id, newer + 1);
        const finished = j.status === 'Success' || j.status === 'Error';
        const ended = (j.end_time ?? j.update_time) < endedBefore;
        if (finished && ended && (newer >= keep || !policies.has(j.policy_id))) doomed.push(j.id);
      }
      if (items.length < 1000) break;
    }
    for (const id of doomed) await this.jobs.delete(id);
    return doomed.length;
  }

  changed(project: string): void {
    this.recent.delete(project);
  }
}
