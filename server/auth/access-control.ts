import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { LocalAccess } from '../../core/local-access.js';
import { ConflictError } from '../../storage-adapters/meta/meta-store.js';
import type { RegistryDeps } from '../oci/deps.js';
import { AuditLog } from './audit.js';
import { AllowAll, type Authorizer } from './authorizer.js';
import { bootstrapAccess } from './bootstrap.js';
import { Authenticator } from './credentials.js';
import { AccessPolicy } from './policy.js';
import type { Principal } from './principal.js';
import { AccessRecords, now } from './records.js';
import { RefreshTokens } from './refresh-tokens.js';
import { registryAudit } from './registry-audit.js';
import { sessionRouter } from './session-routes.js';
import { ConsoleSessions } from './sessions.js';
import { SigningKeys } from './signing-keys.js';
import { TokenAuthorizer } from './token-authorizer.js';
import { tokenRouter } from './token-routes.js';
import { TokenService } from './tokens.js';

// Puts access control together for one app: with auth token, the token service, the /v2 authorizer and the
// audit hook; with auth none, /v2 stays open exactly as before. The surfaces that use it (the admin API,
// replication's) are composed above this folder, in server/serve.ts.


/** The `service` of challenges and the tokens' audience and issuer. */
export const SERVICE = 'berth';

export interface AccessControl {
  authorizer: Authorizer;
  records: AccessRecords;
  policy: AccessPolicy;
  audit: AuditLog;
  /** Absent with auth none: then nobody logs in. */
  authenticator?: Authenticator;
  refreshTokens?: RefreshTokens;
  /** Web console sessions (auth token only). */
  sessions?: ConsoleSessions;
  /** The token service and the console's login (auth token only). */
  routers: Router[];
  /** App-level middleware, to run around the routers (the /v2 audit hook). */
  middleware: Middleware[];
  /** For this process's own writes into the registry over HTTP (replication's pull policies). Absent: auth none. */
  localAccess?: LocalAccess;
}

/** The identity of in-process writers (replication): a system admin that is no user account and cannot log in. */
const systemPrincipal = { kind: 'user', id: 0, name: 'berth-replicator', sysadmin: true } satisfies Principal;

export interface AccessControlOptions {
  /** Where a generated admin password is shown once (stderr in `berth serve`). */
  announce: (text: string) => void;
}

export async function setUpAccessControl(deps: RegistryDeps, opts: AccessControlOptions): Promise<AccessControl> {
  const { config, meta, log } = deps;
  const records = new AccessRecords(meta);
  const policy = new AccessPolicy(records);
  const audit = new AuditLog(meta, log);
  const token = config.auth === 'token';
  await bootstrapAccess(records, { adminPassword: config.admin_password, generateAdmin: token, announce: opts.announce, log });

  if (!token) return { authorizer: new AllowAll(), records, policy, audit, routers: [], middleware: [] };

  const window = config.login_failure_window_seconds * 1000;
  const authenticator = new Authenticator(records, audit, {
    perUser: { maxFailures: config.login_max_failures_per_user, windowMs: window },
    perAddress: { maxFailures: config.login_max_failures_per_address, windowMs: window },
  });
  const keys = new SigningKeys(meta, { rotationMs: config.signing_key_rotation_seconds * 1000, tokenTtlMs: config.token_ttl_seconds * 1000, log });
  await keys.current();
  const tokens = new TokenService(keys, policy, { service: SERVICE, issuer: SERVICE, ttlSeconds: config.token_ttl_seconds });
  const refreshTokens = new RefreshTokens(meta, config.refresh_token_ttl_seconds * 1000);
  const sessions = new ConsoleSessions(meta, config.session_ttl_seconds * 1000);
  return {
    authorizer: new TokenAuthorizer(tokens, authenticator, policy, config.public_url, [systemPrincipal]),
    records,
    policy,
    audit,
    authenticator,
    refreshTokens,
    sessions,
    routers: [tokenRouter({ tokens, authenticator, refreshTokens, keys }), sessionRouter({ sessions, authenticator })],
    middleware: [registryAudit(audit, records)],
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
