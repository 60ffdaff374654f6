// A certificate authority of the test's own (openssl), and server certificates it signs for 127.0.0.1: what a
// TLS test trusts is exactly this CA, never the system's.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  /** PEM of the CA certificate. */
  cert: Buffer;
  certFile: string;
  /** Signs a certificate for `cn` valid for 127.0.0.1, ::1, localhost and `ips`; returns its PEM files. */
  issue(cn: string, into?: { certFile: string; keyFile: string }, ips?: string[]): Promise<{ certFile: string; keyFile: string }>;
  remove(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function makeTestCa(name = 'Berth Test CA'): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-ca-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', `/CN=${name}`, '-days', '2'], dir);
  let serial = 0;
  return {
    dir,
    cert: await readFile(join(dir, 'ca.crt')),
    certFile: join(dir, 'ca.crt'),
    async issue(cn, into, ips = []) {
      const n = ++serial;
      const ext = join(dir, `ext-${n}.cnf`);
      const sans = ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost', ...ips.map((a) => `IP:${a}`)].join(',');
      await writeFile(ext, `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
      openssl(['req', ...ec, '-keyout', `s${n}.key`, '-out', `s${n}.csr`, '-subj', `/CN=${cn}`], dir);
      openssl(['x509', '-req', '-in', `s${n}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(1000 + n), '-out', `s${n}.crt`, '-days', '2', '-extfile', ext], dir);
      const out = into ?? { certFile: join(dir, `s${n}.crt`), keyFile: join(dir, `s${n}.key`) };
      if (into) {
        // Key first, then certificate, as a renewal tool would; the watcher must cope with the moment between.
        await writeFile(into.keyFile, await readFile(join(dir, `s${n}.key`)));
        await writeFile(into.certFile, await readFile(join(dir, `s${n}.crt`)));
      }
      return out;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
