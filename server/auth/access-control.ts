import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { apiErrors } from '../admin/errors.js';
import { requireSysadmin, type AdminDeps } from '../admin/context.js';
import { adminRouter } from '../admin/router.js';
import type { RegistryDeps } from '../oci/deps.js';
import { AuditLog } from './audit.js';
import { AllowAll, type Authorizer } from './authorizer.js';
import { bootstrapAccess } from './bootstrap.js';
import { Authenticator } from './credentials.js';
import { AccessPolicy } from './policy.js';
import { AccessRecords, now } from './records.js';
import type { Principal } from './principal.js';
import { ConflictError } from '../../storage-adapters/meta/meta-store.js';
import { RefreshTokens } from './refresh-tokens.js';
import { registryAudit } from './registry-audit.js';
import { SigningKeys } from './signing-keys.js';
import { TokenAuthorizer } from './token-authorizer.js';
import { tokenRouter } from './token-routes.js';
import { TokenService } from './tokens.js';

// Puts access control together for one app: with auth token, the token service, the /v2 authorizer, the audit
// hook and the admin API; with auth none, /v2 stays open exactly as before and the admin API has no checks.

/** The `service` of challenges and the tokens' audience and issuer. */
export const SERVICE = 'berth';

export interface AccessControlWiring {
  authorizer: Authorizer;
  routers: Router[];
  /** App-level middleware, to run around the routers (error shaping, /v2 audit). */
  middleware: Middleware[];
  /** For other admin surfaces (replication's API): throws 401/403 unless a system admin calls. Absent: auth none. */
  requireSysadmin?: (ctx: Context) => Promise<void>;
  /** For this process's own writes into the registry over HTTP (replication's pull policies). Absent: auth none. */
  localAccess?: LocalAccess;
}

/** How an in-process component authenticates to this registry as the system, and makes room for a project. */
export interface LocalAccess {
  /** An Authorization header value granting pull, push and delete on `repository`. */
  authorization(repository: string): Promise<string>;
  /** Creates the project (private, owned by the system) when it is missing. */
  ensureProject(name: string): Promise<void>;
}

/** The identity of in-process writers (replication): a system admin that is no user account and cannot log in. */
const systemPrincipal = { kind: 'user', id: 0, name: 'berth-replicator', sysadmin: true } satisfies Principal;

export interface AccessControlOptions {
  /** Where a generated admin password is shown once (stderr in `berth serve`). */
  announce: (text: string) => void;
}

export async function setUpAccessControl(deps: RegistryDeps, opts: AccessControlOptions): Promise<AccessControlWiring> {
  const { config, meta, log } = deps;
  const records = new AccessRecords(meta);
  const policy = new AccessPolicy(records);
  const audit = new AuditLog(meta, log);
  const token = config.auth === 'token';
  await bootstrapAccess(records, { adminPassword: config.admin_password, generateAdmin: token, announce: opts.announce, log });
  const errors = apiErrors(['/api', '/service']);

  if (!token) {
    return { authorizer: new AllowAll(), routers: [adminRouter({ registry: deps, records, policy, audit })], middleware: [errors] };
  }

  const window = config.login_failure_window_seconds * 1000;
  const authenticator = new Authenticator(records, audit, {
    perUser: { maxFailures: config.login_max_failures_per_user, windowMs: window },
    perAddress: { maxFailures: config.login_max_failures_per_address, windowMs: window },
  });
  const keys = new SigningKeys(meta, { rotationMs: config.signing_key_rotation_seconds * 1000, tokenTtlMs: config.token_ttl_seconds * 1000, log });
  await keys.current();
  const tokens = new TokenService(keys, policy, { service: SERVICE, issuer: SERVICE, ttlSeconds: config.token_ttl_seconds });
  const refreshTokens = new RefreshTokens(meta, config.refresh_token_ttl_seconds * 1000);
  const admin: AdminDeps = { registry: deps, records, policy, audit, authenticator, refreshTokens };
  return {
    authorizer: new TokenAuthorizer(tokens, authenticator, policy, config.public_url, [systemPrincipal]),
    routers: [tokenRouter({ tokens, authenticator, refreshTokens, keys }), adminRouter(admin)],
    middleware: [errors, registryAudit(audit, records)],
    requireSysadmin: async (ctx) => {
      await requireSysadmin(ctx, admin);
    },
    localAccess: {
      authorization: async (repository) => {
        const issued = await tokens.issue(systemPrincipal, [{ type: 'repository', name: repository, actions: ['pull', 'push', 'delete'] }]);
        return `Bearer ${issued.token}`;
      },
      ensureProject: async (name) => {
        if (await records.projects.findOne('name', name)) return;
        const t = now();
        try {
          await records.projects.insert({ name, public: false, owner_id: systemPrincipal.id, creation_time: t, update_time: t });
        } catch (e) {
          if (!(e instanceof ConflictError)) throw e; // created meanwhile by someone else: fine
        }
      },
    },
  };
}
