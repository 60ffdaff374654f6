// Berth as the real-client tests meet it: token auth, TLS on `addr` with a certificate from a CA the test makes,
// a plain listener on loopback for the test's own admin calls, a private project `team` and a robot that may pull
// and push there.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { writeOciLayout, type Image } from './oci-fixtures.js';
import { AdminApi } from '../auth/access.js';
import { freePort, startBerth, type BerthProcess } from './berth-process.js';
import { makeTestCa, type TestCa } from './test-ca.js';

export interface TlsRegistry {
  berth: BerthProcess;
  ca: TestCa;
  /** host:port clients use (TLS). */
  registry: string;
  /** The plain listener, http://127.0.0.1:port. */
  plainUrl: string;
  password: string;
  admin: AdminApi;
  robot: { name: string; secret: string };
  /** `Authorization` for admin on the plain listener. */
  adminAuthorization: string;
}

export async function startTlsRegistry(t: Test, o: { password: string; host?: string; robot: string }): Promise<TlsRegistry> {
  const ca = await makeTestCa();
  t.teardown(() => ca.remove());
  const { certFile, keyFile } = await ca.issue('berth', undefined, o.host ? [o.host] : []);
  const port = await freePort();
  const plain = await freePort();
  const berth = await startBerth({
    port,
    tlsCa: ca.cert,
    ...(o.host && { host: o.host }),
    env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: o.password, BERTH_TLS_CERT_FILE: certFile, BERTH_TLS_KEY_FILE: keyFile, BERTH_HTTP_ADDR: `127.0.0.1:${plain}` },
  });
  t.teardown(() => berth.stop());
  const plainUrl = `http://127.0.0.1:${plain}`;
  const admin = new AdminApi(plainUrl, { username: 'admin', password: o.password });
  await admin.createProject('team', false);
  const robot = await admin.createRobot({
    name: o.robot, level: 'project', duration: -1,
    permissions: [{ kind: 'project', namespace: 'team', access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'push' }] }],
  });
  return {
    berth,
    ca,
    registry: `${o.host ?? '127.0.0.1'}:${port}`,
    plainUrl,
    password: o.password,
    admin,
    robot,
    adminAuthorization: `Basic ${Buffer.from(`admin:${o.password}`).toString('base64')}`,
  };
}

/** The tags Berth holds for `repository`, read on the plain listener as admin. */
export async function tagsOf(r: TlsRegistry, repository: string): Promise<string[]> {
  const reply = await fetch(`${r.plainUrl}/v2/${repository}/tags/list`, { headers: { Authorization: r.adminAuthorization } });
  return ((await reply.json()) as { tags: string[] }).tags;
}

/** Pushes `image` to `repository:tag` with skopeo as admin over the plain listener (every child of an index). */
export async function skopeoPush(r: Pick<TlsRegistry, 'plainUrl' | 'password'>, image: Image, repository: string, tag: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-skopeo-push-'));
  try {
    await writeOciLayout(join(dir, 'layout'), [{ tag, image }]);
    await writeFile(join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    // A cached blob location from an earlier run would make skopeo mount instead of upload.
    await rm('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
    const plainHost = r.plainUrl.replace(/^http:\/\//, '');
    await promisify(execFile)('skopeo', ['--policy', join(dir, 'policy.json'), 'copy', '--quiet', '--all', '--dest-tls-verify=false',
      '--dest-creds', `admin:${r.password}`, `oci:${join(dir, 'layout')}:${tag}`, `docker://${plainHost}/${repository}:${tag}`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
