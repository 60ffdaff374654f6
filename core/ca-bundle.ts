import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { ConfigError } from './config.js';

// Extra CA certificates (a PEM bundle) trusted beside the system's, for the HTTPS calls Berth makes to other
// registries (replication: ca_file) and to its origin (agents: agent_ca_file).

/** The bundle named by `setting`, read once at start; an unreadable one is a configuration error. */
export function readCaBundle(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ConfigError(`cannot read ${setting} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The roots a TLS client trusts with `ca`: Node's `ca` option replaces the default roots, so they are listed too. */
export function withSystemRoots(ca: string | Buffer): string[] {
  return [...rootCertificates, ca.toString()];
}
