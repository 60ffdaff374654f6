import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../../core/log.js';

// The certificate and key of the TLS listener, read from PEM files and re-read when either changes (a renewed
// certificate from cert-manager or certbot takes effect without a restart). A pair that does not load (a half-
// written file, a key of another certificate) is refused and the previous pair stays in use.

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

export interface LoadedPair {
  options: SecureContextOptions;
  /** The leaf certificate's subject and expiry, for the log. */
  subject: string;
  validTo: string;
  /** What the files looked like when read: a change of either means reload. */
  stamp: string;
}

/** Reads and checks the pair: the key must match the leaf certificate. Throws a message naming the file. */
export async function loadPair(files: TlsFiles): Promise<LoadedPair> {
  const [cert, key, stamp] = await Promise.all([readPem(files.certFile), readPem(files.keyFile), stampOf(files)]);
  const options: SecureContextOptions = { cert, key, minVersion: files.minVersion };
  try {
    createSecureContext(options);
  } catch (e) {
    throw new Error(`TLS certificate ${files.certFile} and key ${files.keyFile} do not load together: ${(e as Error).message}`);
  }
  const leaf = new X509Certificate(cert);
  return { options, subject: leaf.subject.replace(/\n/g, ', '), validTo: leaf.validTo, stamp };
}

async function readPem(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function stampOf(files: TlsFiles): Promise<string> {
  const parts = await Promise.all([files.certFile, files.keyFile].map(async (f) => stat(f).then((s) => `${s.mtimeMs}:${s.size}:${s.ino}`, () => 'absent')));
  return parts.join('|');
}

/**
 * Checks the files every `intervalMs` and hands a new pair to `apply` when they changed and load; a pair that
 * fails is logged and retried at the next change. Returns the stop function.
 */
export function watchPair(files: TlsFiles, current: LoadedPair, intervalMs: number, apply: (pair: LoadedPair) => void, log: Logger): () => void {
  let stamp = current.stamp;
  let failedStamp = '';
  const timer = setInterval(() => {
    void (async () => {
      const now = await stampOf(files);
      if (now === stamp || now === failedStamp) return;
      try {
        const pair = await loadPair(files);
        apply(pair);
        stamp = pair.stamp;
        log.info({ subject: pair.subject, validTo: pair.validTo }, 'TLS certificate reloaded');
      } catch (err) {
        failedStamp = now;
        log.error({ err: (err as Error).message }, 'TLS certificate change not applied; the previous certificate stays in use');
      }
    })();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
