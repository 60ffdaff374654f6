import { randomUUID } from 'node:crypto';
import type { WebhookEventType, WebhookPolicyRecord } from './records.js';

// The bodies Harbor sends: its default payload ({type, occur_at, operator, event_data}) and, for targets that ask
// for it, a structured CloudEvents 1.0 message (application/cloudevents+json) carrying the same event_data.

export interface WebhookEvent {
  type: WebhookEventType;
  /** Epoch ms. */
  at: number;
  operator: string;
  repository: string;
  digest?: string;
  tag?: string;
  /** Quota events: the numbers. */
  quota?: { size: number; used: number; hard: number };
  /** REPLICATION: the execution that ended. */
  replication?: { execution_id: number; policy_id: number; status: string; trigger: string };
  /** A stable id: retries and re-reads after a restart carry the same one (receivers dedupe on it). */
  id: string;
}

const cloudTypes: Record<WebhookEventType, string> = {
  PUSH_ARTIFACT: 'harbor.artifact.pushed',
  PULL_ARTIFACT: 'harbor.artifact.pulled',
  DELETE_ARTIFACT: 'harbor.artifact.deleted',
  QUOTA_EXCEED: 'harbor.quota.exceed',
  QUOTA_WARNING: 'harbor.quota.warning',
  REPLICATION: 'harbor.replication.status.changed',
  TAG_RETENTION: 'harbor.tag_retention.finished',
};

function eventData(e: WebhookEvent, host: string, isPublic: boolean) {
  const slash = e.repository.indexOf('/');
  const namespace = e.repository.slice(0, slash);
  const name = e.repository.slice(slash + 1);
  const resource = { ...(e.digest && { digest: e.digest }), ...(e.tag && { tag: e.tag }), resource_url: `${host}/${e.repository}${e.tag ? `:${e.tag}` : e.digest ? `@${e.digest}` : ''}` };
  return {
    resources: [resource],
    repository: { name, namespace, repo_full_name: e.repository, repo_type: isPublic ? 'public' : 'private' },
    ...(e.quota && { custom_attributes: { Details: `usage ${e.quota.used} of ${e.quota.hard} bytes, adding ${e.quota.size}` } }),
    ...(e.replication && {
      replication: { harbor_hostname: host, job_status: e.replication.status, trigger_type: e.replication.trigger, execution_id: e.replication.execution_id, policy_id: e.replication.policy_id },
    }),
  };
}

/** The body and Content-Type for `policy`'s target in `format`. */
export function render(e: WebhookEvent, policy: WebhookPolicyRecord, format: 'Default' | 'CloudEvents', host: string, isPublic: boolean): { body: string; contentType: string } {
  const data = eventData(e, host, isPublic);
  if (format === 'CloudEvents') {
    return {
      contentType: 'application/cloudevents+json',
      body: JSON.stringify({
        specversion: '1.0',
        id: e.id,
        requestid: randomUUID(),
        source: `/projects/${policy.project_id}/webhook/policies/${policy.id}`,
        type: cloudTypes[e.type],
        datacontenttype: 'application/json',
        time: new Date(e.at).toISOString(),
        operator: e.operator,
        data,
      }),
    };
  }
  return { contentType: 'application/json', body: JSON.stringify({ type: e.type, occur_at: Math.floor(e.at / 1000), operator: e.operator, event_data: data }) };
}
