import type { Context, Next } from 'koa';
import { RegistryError } from '../../core/errors.js';
import { LRUCache } from 'lru-cache';
import type { AuditLog } from './audit.js';
import { projectOf } from './policy.js';
import type { AccessRecords } from './records.js';

// Writes push, pull and delete events of the /v2 API to the audit log, by looking at what the OCI routes
// answered: the routes themselves stay free of auditing. Refusals are recorded too: every 403, and every 401 of a
// caller who presented credentials (the anonymous 401 that starts each token dance is no event).

const manifestOrBlob = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/;

export function registryAudit(audit: AuditLog, records: AccessRecords) {
  // Project ids by name, for the audit rows' project_id (read for every pull otherwise).
  const projectIds = new LRUCache<string, { id: number }>({ max: 10_000, ttl: 60_000 });
  const projectId = async (repository: string): Promise<number> => {
    const name = projectOf(repository);
    if (name === undefined) return 0;
    let hit = projectIds.get(name);
    if (!hit) {
      hit = { id: (await records.projectByName(name))?.id ?? 0 };
      projectIds.set(name, hit);
    }
    return hit.id;
  };

  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (e) {
      if (e instanceof RegistryError && (e.status === 403 || (e.status === 401 && ctx.get('Authorization') !== '')) && ctx.path.startsWith('/v2')) {
        const repository = manifestOrBlob.exec(ctx.path)?.[1];
        await audit.record({
          // Its own operation, so queries for pushes and pulls list what happened, not what was attempted.
          operation: 'refused',
          resource_type: 'request',
          resource: `${ctx.method} ${ctx.path.slice(0, 300)}`,
          operation_result: false,
          operation_description: `${e.status} ${e.code}: ${e.message}`.slice(0, 300),
          username: (ctx.state.principalName as string | undefined) ?? 'anonymous',
          client_ip: (ctx.state.remote as string | undefined) ?? '',
          project_id: repository ? await projectId(repository) : 0,
        });
      }
      throw e;
    }
    const m = manifestOrBlob.exec(ctx.path);
    if (!m) return;
    const [, repository, kind, ref] = m as unknown as [string, string, string, string];
    const byDigest = ref.includes(':');
    const artifact = byDigest ? `${repository}@${ref}` : `${repository}:${ref}`;
    let event: { operation: string; resource_type: string; resource: string } | undefined;
    if (kind === 'manifests') {
      if (ctx.method === 'PUT' && ctx.status === 201) event = { operation: 'push', resource_type: 'artifact', resource: artifact };
      else if (ctx.method === 'GET' && ctx.status === 200) event = { operation: 'pull', resource_type: 'artifact', resource: artifact };
      else if (ctx.method === 'DELETE' && ctx.status === 202) event = { operation: 'delete', resource_type: byDigest ? 'artifact' : 'tag', resource: artifact };
    } else if (ctx.method === 'DELETE' && ctx.status === 202) {
      event = { operation: 'delete', resource_type: 'blob', resource: artifact };
    }
    if (!event) return;
    await audit.record({
      ...event,
      username: (ctx.state.principalName as string | undefined) ?? 'anonymous',
      client_ip: (ctx.state.remote as string | undefined) ?? '',
      project_id: await projectId(repository),
    });
  };
}
