import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { AuditLog } from './audit.js';
import { LoginThrottle, type ThrottleLimits } from './login-throttle.js';
import { hashPassword, verifyPassword, verifyRobotSecret } from './passwords.js';
import type { Principal } from './principal.js';
import { ROBOT_PREFIX, type AccessRecords, type RobotRecord, type UserRecord } from './records.js';

// Checks a username and password (or robot name and secret). Failures are throttled per user and per address
// and written to the audit log. Successful checks are remembered briefly under an HMAC of the credentials
// (never the credentials), so clients sending Basic auth on every /v2 request do not pay argon2 each time.

export class LoginFailed extends Error {
  constructor(
    message: string,
    /** Set when refused for too many failures: seconds until a new try is considered. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'LoginFailed';
  }
}

export interface AuthenticatorOptions {
  perUser: ThrottleLimits;
  perAddress: ThrottleLimits;
  /** How long a verified credential is remembered (admin changes in this process forget at once). */
  cacheTtlMs?: number;
  clock?: () => number;
}

export class Authenticator {
  private readonly byUser: LoginThrottle;
  private readonly byAddress: LoginThrottle;
  private readonly verified: LRUCache<string, Principal>;
  private readonly cacheKey = randomBytes(32);
  private readonly clock: () => number;
  /** A hash to verify against when the user does not exist, so timing does not reveal which names do. */
  private decoy?: Promise<string>;

  constructor(
    private readonly records: AccessRecords,
    private readonly audit: AuditLog,
    opts: AuthenticatorOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.byUser = new LoginThrottle(opts.perUser, this.clock);
    this.byAddress = new LoginThrottle(opts.perAddress, this.clock);
    this.verified = new LRUCache({ max: 10_000, ttl: opts.cacheTtlMs ?? 30_000 });
  }

  /** `Authorization: Basic …` → the principal, or LoginFailed. */
  async basic(header: string, address: string): Promise<Principal> {
    const credentials = parseBasic(header);
    if (!credentials) throw new LoginFailed('malformed Basic credentials');
    return this.login(credentials.username, credentials.password, address);
  }

  async login(username: string, password: string, address: string): Promise<Principal> {
    // The throttle first: once a (user, address) pair or an address is over its limit, every try waits, remembered
    // or not. Keyed by the pair so guesses from elsewhere cannot lock the user out of their own address.
    const wait = Math.max(this.byUser.retryAfterMs(`u:${username}@${address}`), this.byAddress.retryAfterMs(`a:${address}`));
    if (wait > 0) throw new LoginFailed('too many failed logins; try again later', Math.ceil(wait / 1000));
    const key = createHmac('sha256', this.cacheKey).update(username).update('\0').update(password).digest('base64');
    const known = this.verified.get(key);
    if (known && this.stillValid(known)) return known;

    const outcome = username.startsWith(ROBOT_PREFIX) ? await this.checkRobot(username, password) : await this.checkUser(username, password);
    if (typeof outcome === 'string') {
      this.byUser.recordFailure(`u:${username}@${address}`);
      this.byAddress.recordFailure(`a:${address}`);
      await this.audit.record({
        username: username.slice(0, 255),
        operation: 'login',
        resource: username.slice(0, 255),
        resource_type: username.startsWith(ROBOT_PREFIX) ? 'robot' : 'user',
        operation_result: false,
        operation_description: outcome,
        client_ip: address,
      });
      throw new LoginFailed('invalid username or password');
    }
    this.byUser.reset(`u:${username}@${address}`);
    this.verified.set(key, outcome);
    return outcome;
  }

  /** The principal a token subject names, as it stands now; undefined when gone, disabled or expired. */
  async principalByName(name: string): Promise<Principal | undefined> {
    if (name.startsWith(ROBOT_PREFIX)) {
      const robot = await this.records.robots.findOne('name', name);
      return robot && this.usableRobot(robot) ? robotPrincipal(robot) : undefined;
    }
    const user = await this.records.users.findOne('username', name);
    return user && userPrincipal(user);
  }

  /** Forget remembered credentials: a password, a secret, a flag or a robot changed. */
  invalidate(): void {
    this.verified.clear();
  }

  private async checkUser(username: string, password: string): Promise<Principal | string> {
    const user = await this.records.users.findOne('username', username);
    if (!user) {
      this.decoy ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(await this.decoy, password);
      return 'unknown user';
    }
    if (!(await verifyPassword(user.password_hash, password))) return 'wrong password';
    return userPrincipal(user);
  }

  private async checkRobot(name: string, secret: string): Promise<Principal | string> {
    const robot = await this.records.robots.findOne('name', name);
    if (!robot) return 'unknown robot';
    if (!(await verifyRobotSecret(robot.secret_hash, secret))) return 'wrong secret';
    if (robot.disable) return 'robot disabled';
    if (!this.usableRobot(robot)) return 'robot expired';
    return robotPrincipal(robot);
  }

  private usableRobot(robot: RobotRecord): boolean {
    return !robot.disable && (robot.expires_at === -1 || robot.expires_at * 1000 > this.clock());
  }

  private stillValid(p: Principal): boolean {
    return p.kind !== 'robot' || p.expiresAt === -1 || p.expiresAt * 1000 > this.clock();
  }
}

export function userPrincipal(user: UserRecord): Principal {
  return { kind: 'user', id: user.id, name: user.username, sysadmin: user.sysadmin_flag };
}

export function robotPrincipal(robot: RobotRecord): Principal {
  return {
    kind: 'robot',
    id: robot.id,
    name: robot.name,
    level: robot.level,
    projectId: robot.project_id,
    permissions: robot.permissions,
    expiresAt: robot.expires_at,
  };
}

/** RFC 7617: base64 of `user:password`, split at the first colon. */
export function parseBasic(header: string): { username: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) return undefined;
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}
