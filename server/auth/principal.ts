import type { RobotLevel, RobotPermission } from './records.js';

/** Who is asking. Built per request from credentials or a token; never stored. */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'user'; id: number; name: string; sysadmin: boolean }
  | {
      kind: 'robot';
      id: number;
      name: string;
      level: RobotLevel;
      projectId: number;
      permissions: RobotPermission[];
      /** Unix seconds; -1 never. */
      expiresAt: number;
    };

export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous' });

/** The name written to the audit log and into a token's `sub`. */
export function principalName(p: Principal): string {
  return p.kind === 'anonymous' ? 'anonymous' : p.name;
}

export function isSysadmin(p: Principal): boolean {
  return p.kind === 'user' && p.sysadmin;
}
