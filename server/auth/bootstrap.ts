import { ConfigError } from '../../core/config.js';
import type { Logger } from '../../core/log.js';
import { ConflictError } from '../../storage-adapters/meta/meta-store.js';
import { generateSecret, hashPassword, passwordProblem } from './passwords.js';
import { memberKey, now, type AccessRecords } from './records.js';
import { PROJECT_ADMIN } from './roles.js';

// First start: the public project `library` and the system admin `admin`. Safe to run on every start and from
// several instances at once (a lost insert race is a ConflictError, and the winner's record stands).

export interface BootstrapOptions {
  /** BERTH_ADMIN_PASSWORD. Only read when `admin` does not exist yet. */
  adminPassword?: string;
  /** Whether to make up a password when none is configured (token mode; with auth none nobody logs in). */
  generateAdmin: boolean;
  /** Where a generated password is shown, once. Not the log: logs are shipped and kept. */
  announce: (text: string) => void;
  log: Logger;
}

export async function bootstrapAccess(records: AccessRecords, opts: BootstrapOptions): Promise<void> {
  if (opts.adminPassword !== undefined) {
    const problem = passwordProblem(opts.adminPassword);
    if (problem) throw new ConfigError(`invalid configuration:\n  admin_password (BERTH_ADMIN_PASSWORD): ${problem}`);
  }
  let admin = await records.users.findOne('username', 'admin');
  if (!admin && (opts.adminPassword !== undefined || opts.generateAdmin)) {
    const generated = opts.adminPassword === undefined;
    const password = opts.adminPassword ?? generateSecret(24);
    const t = now();
    try {
      admin = await records.users.insert({
        username: 'admin',
        email: '',
        realname: 'system admin',
        comment: 'created at first start',
        password_hash: await hashPassword(password),
        sysadmin_flag: true,
        creation_time: t,
        update_time: t,
      });
      opts.log.info({ user: 'admin', generatedPassword: generated }, 'created the admin user');
      if (generated) {
        opts.announce(
          `berth: created user "admin" with password ${password}\n` +
            `berth: this password is shown once and not stored; change it with PUT /api/v2.0/users/${admin.id}/password\n`,
        );
      }
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      admin = await records.users.findOne('username', 'admin');
    }
  }

  if (!(await records.projectByName('library'))) {
    const t = now();
    try {
      const library = await records.projects.insert({ name: 'library', public: true, owner_id: admin?.id ?? 0, creation_time: t, update_time: t });
      if (admin) {
        await records.members.insert({ key: memberKey(library.id, admin.id), project_id: library.id, user_id: admin.id, role_id: PROJECT_ADMIN, creation_time: t, update_time: t });
      }
      opts.log.info({ project: 'library' }, 'created the public project library');
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
  }
}
