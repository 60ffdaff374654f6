import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OciClient, TlsCertificateError } from '../../core/oci-client.js';
import { addPolicy, api, pushImage, startDockerRegistry, startExecution, startIdc, waitExecution, waitFor, type DockerRegistry } from '../helpers/idc.js';

// A registry endpoint's `insecure` is Harbor's "Verify Remote Cert" turned off: false (the default) verifies the
// remote's certificate and fails saying so; true talks HTTPS to a self-signed registry without verifying.

const run = promisify(execFile);
const certProblem = /certificate verify failed: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\).*set insecure to skip verification/;

/** CNCF distribution serving HTTPS on loopback with a self-signed certificate for 127.0.0.1. */
async function startTlsRegistry(t: Test): Promise<DockerRegistry & { certificate: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-tls-'));
  const certificate = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('/usr/bin/openssl', [
    'req', '-x509', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', certificate,
  ]);
  const dr = await startDockerRegistry({ tls: { certificate, key } });
  t.teardown(async () => {
    await dr.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return Object.assign(dr, { certificate });
}

t.test('OciClient refuses a self-signed registry unless insecure', async (t) => {
  const dr = await startTlsRegistry(t);
  t.match(dr.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const verifying = new OciClient({ baseUrl: dr.url });
  const err = await verifying.ping().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof TlsCertificateError, 'a typed certificate error, not a generic "fetch failed"');
  t.match((err as Error).message, certProblem, 'the message names the certificate problem and the way out');
  await t.rejects(verifying.headManifest('lib/app', 'v1'), TlsCertificateError, 'every request verifies, not only ping');

  const insecure = new OciClient({ baseUrl: dr.url, insecure: true });
  await insecure.ping();
  t.pass('insecure pings the same server');
  const img = await pushImage(dr.url, 'lib/app', 'v1', { client: insecure });
  t.equal((await insecure.headManifest('lib/app', 'v1'))?.digest, img.digest, 'and pushes and reads over HTTPS');
});

t.test('replication to a self-signed registry: insecure=false fails naming the certificate, insecure=true copies', async (t) => {
  const [a, dr] = await Promise.all([startIdc('a'), startTlsRegistry(t)]);
  t.teardown(() => a.stop());

  // Ping without a stored endpoint (Harbor's "Test Connection" in the new-endpoint dialog).
  const pingVerifying = await api(a.url, 'POST', '/registries/ping', { type: 'docker-registry', url: dr.url });
  t.equal(pingVerifying.status, 400, 'ping verifies by default');
  t.match(pingVerifying.body.errors[0].message, certProblem, 'and says why it failed');
  t.equal((await api(a.url, 'POST', '/registries/ping', { type: 'docker-registry', url: dr.url, insecure: true })).status, 200, 'ping with insecure passes');

  const created = await api(a.url, 'POST', '/registries', { name: 'tls', url: dr.url, type: 'docker-registry' });
  t.equal(created.status, 201);
  const reg = Number(created.headers.get('location')!.split('/').pop());
  t.equal((await api(a.url, 'GET', `/registries/${reg}`)).body.insecure, false, 'insecure defaults to false');
  const pingStored = await api(a.url, 'POST', '/registries/ping', { id: reg });
  t.equal(pingStored.status, 400, 'ping of the stored endpoint verifies');
  t.match(pingStored.body.errors[0].message, certProblem);
  t.equal((await api(a.url, 'POST', '/registries/ping', { id: reg, insecure: true })).status, 200, 'ping may try insecure before saving it');

  const img = await pushImage(a.url, 'team/app', 'v1', { layers: 2 });
  const policy = await addPolicy(a.url, { name: 'to-tls', dest: reg, trigger: 'manual', filters: [{ type: 'name', value: 'team/**' }] });
  const failed = await waitExecution(a.url, await startExecution(a.url, policy));
  t.match(failed, { status: 'Failed' }, 'a manual push to the untrusted registry fails');
  t.match(failed.status_text, certProblem, 'the execution says it was the certificate');

  // Event-based: the task itself fails at once (no retries, no "unreachable" hold) with the same message.
  const events = await addPolicy(a.url, { name: 'events-to-tls', dest: reg, filters: [{ type: 'name', value: 'ev/**' }] });
  await pushImage(a.url, 'ev/app', 'v1');
  const task = await waitFor(async () => {
    for (const e of (await api(a.url, 'GET', `/replication/executions?policy_id=${events}`)).body as any[]) {
      const done = ((await api(a.url, 'GET', `/replication/executions/${e.id}/tasks`)).body as any[]).find((x) => x.status === 'Failed');
      if (done) return done;
    }
    return undefined;
  }, 30_000, 200);
  t.match(task.error, certProblem, 'an event task carries the certificate message');
  t.equal(task.attempts, 1, 'a certificate problem is not retried');

  const reader = new OciClient({ baseUrl: dr.url, insecure: true });
  t.equal(await reader.headManifest('team/app', 'v1'), undefined, 'nothing reached the registry');

  // Turn verification off (Harbor: untick "Verify Remote Cert"); the same policy now copies.
  t.equal((await api(a.url, 'PUT', `/registries/${reg}`, { insecure: true })).status, 200);
  t.equal((await api(a.url, 'GET', `/registries/${reg}`)).body.insecure, true);
  t.equal((await api(a.url, 'POST', '/registries/ping', { id: reg })).status, 200, 'the stored endpoint now pings');
  const ok = await waitExecution(a.url, await startExecution(a.url, policy));
  t.match(ok, { status: 'Succeed', failed: 0 }, 'the same manual push succeeds');
  t.ok(ok.succeed >= 1, 'with its task');
  const there = await reader.getManifest('team/app', 'v1');
  t.equal(there?.digest, img.digest, 'the TLS registry holds the manifest under the same digest');
  for (const b of img.blobs) t.equal(await reader.headBlob('team/app', b.digest), b.bytes.length, `blob ${b.digest.slice(7, 19)} arrived`);
});

t.test('BERTH_CA_FILE: a registry whose certificate chains to that CA is verified and copied to, insecure off', async (t) => {
  const dr = await startTlsRegistry(t);
  // The self-signed certificate is its own CA: trusting it as a bundle is what an operator with a private CA does.
  const a = await startIdc('a', { env: { BERTH_CA_FILE: dr.certificate } });
  t.teardown(() => a.stop());
  t.equal((await api(a.url, 'POST', '/registries/ping', { type: 'docker-registry', url: dr.url })).status, 200, 'ping verifies against the bundle');
  const created = await api(a.url, 'POST', '/registries', { name: 'tls-ca', url: dr.url, type: 'docker-registry' });
  const reg = Number(created.headers.get('location')!.split('/').pop());
  t.equal((await api(a.url, 'GET', `/registries/${reg}`)).body.insecure, false, 'verification stays on');
  const img = await pushImage(a.url, 'team/app', 'v1', { layers: 2 });
  const policy = await addPolicy(a.url, { name: 'to-tls-ca', dest: reg, trigger: 'manual', filters: [{ type: 'name', value: 'team/**' }] });
  t.match(await waitExecution(a.url, await startExecution(a.url, policy)), { status: 'Succeed', failed: 0 }, 'the push succeeds');
  const reader = new OciClient({ baseUrl: dr.url, ca: await readFile(dr.certificate) });
  t.equal((await reader.getManifest('team/app', 'v1'))?.digest, img.digest, 'and the registry holds the image');
});

t.test('an unreadable BERTH_CA_FILE stops the start with a clear message', async (t) => {
  await t.rejects(startIdc('a', { env: { BERTH_CA_FILE: '/nonexistent/ca.pem' } }), /berth: cannot read ca_file \/nonexistent\/ca.pem: ENOENT/);
});
