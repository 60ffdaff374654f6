// podman and buildah against Berth over TLS, trusting only the test's CA (--cert-dir): login, push, pull by tag
// and by digest, a robot, a multi-arch manifest list, a refused push that prints Berth's reason, logout. Both
// run without a daemon, on storage of the test's own (vfs), with an auth file of their own.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { tarArchive } from '../helpers/oci-fixtures.js';
import { runTool } from '../helpers/daemon.js';
import { startTlsRegistry } from '../helpers/tls-registry.js';

const work = await mkdtemp(join(tmpdir(), 'berth-podman-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const reg = await startTlsRegistry(t, { password: 'Podman-admin-1', robot: 'builder' });
const { registry, password, robot, ca } = reg;
const certDir = join(work, 'certs');
await mkdir(certDir);
await copyFile(ca.certFile, join(certDir, 'ca.crt'));
const authfile = join(work, 'auth.json');
await writeFile(authfile, '{"auths":{}}');
const registriesConf = join(work, 'registries.conf');
await writeFile(registriesConf, 'unqualified-search-registries = []\n');
const policy = join(work, 'policy.json');
await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
const env = { ...process.env, REGISTRY_AUTH_FILE: authfile, CONTAINERS_REGISTRIES_CONF: registriesConf, CONTAINERS_POLICY_JSON: policy };

const run = (cmd: string, args: string[], input?: string | Buffer) => runTool(cmd, args, { env, ...(input !== undefined && { input }) });
const storage = (tool: string) => ['--root', join(work, tool, 'root'), '--runroot', join(work, tool, 'run'), '--storage-driver', 'vfs'];
const podman = (...args: string[]) => run('podman', [...storage('podman'), '--events-backend', 'file', '--cgroup-manager', 'cgroupfs', ...args]);
const buildah = (...args: string[]) => run('buildah', [...storage('buildah'), ...args]);
const tls = ['--cert-dir', certDir];
const imageTar = (name: string) => tarArchive([{ name, content: Buffer.from(`${name} ${Date.now()}\n`) }]);

t.test('podman over TLS: login, push, pull, digest, manifest list, refusal with its reason, logout', async (t) => {
  t.comment((await podman('--version')).out.trim());
  const tarFile = join(work, 'podman.tar');
  await writeFile(tarFile, imageTar('podman.txt'));
  t.equal((await podman('import', tarFile, `${registry}/team/podman:v1`)).code, 0, 'podman import');

  const untrusted = await run('podman', [...storage('podman'), 'login', '-u', 'admin', '--password-stdin', registry], password);
  t.not(untrusted.code, 0, 'without --cert-dir the certificate is refused');
  t.match(untrusted.out, /x509|certificate/);
  const login = await run('podman', [...storage('podman'), 'login', ...tls, '-u', 'admin', '--password-stdin', registry], password);
  t.equal(login.code, 0, 'podman login');
  t.match(login.out, /Login Succeeded/);

  const digestFile = join(work, 'podman.digest');
  t.equal((await podman('push', ...tls, '--digestfile', digestFile, `${registry}/team/podman:v1`)).code, 0, 'podman push');
  const digest = (await import('node:fs/promises').then((f) => f.readFile(digestFile, 'utf8'))).trim();
  t.match(digest, /^sha256:[0-9a-f]{64}$/);
  t.equal((await podman('rmi', `${registry}/team/podman:v1`)).code, 0);
  t.equal((await podman('pull', ...tls, `${registry}/team/podman:v1`)).code, 0, 'podman pull by tag');
  const byDigest = await podman('pull', ...tls, `${registry}/team/podman@${digest}`);
  t.equal(byDigest.code, 0, 'podman pull by digest');

  // A manifest list of two images, pushed with every child.
  t.equal((await podman('manifest', 'create', `${registry}/team/multi:v1`)).code, 0, 'podman manifest create');
  t.equal((await podman('manifest', 'add', '--arch', 'amd64', '--os', 'linux', `${registry}/team/multi:v1`, `containers-storage:${registry}/team/podman:v1`)).code, 0);
  await writeFile(tarFile, imageTar('arm.txt'));
  await podman('import', tarFile, `${registry}/team/arm:v1`);
  t.equal((await podman('manifest', 'add', '--arch', 'arm64', '--os', 'linux', `${registry}/team/multi:v1`, `containers-storage:${registry}/team/arm:v1`)).code, 0);
  const pushed = await podman('manifest', 'push', ...tls, '--all', `${registry}/team/multi:v1`, `docker://${registry}/team/multi:v1`);
  t.equal(pushed.code, 0, `podman manifest push --all ${pushed.code ? pushed.out : ''}`);
  const inspect = await run('skopeo', ['inspect', '--raw', '--cert-dir', certDir, '--creds', `admin:${password}`, `docker://${registry}/team/multi:v1`]);
  const list = JSON.parse(inspect.out) as { manifests: { platform: { architecture: string } }[] };
  t.same(list.manifests.map((m) => m.platform.architecture).sort(), ['amd64', 'arm64'], 'Berth serves the list with both children');

  const refused = await podman('push', ...tls, `${registry}/team/podman:v1`, `docker://${registry}/nosuch/podman:v1`);
  t.not(refused.code, 0, 'a push to a missing project fails');
  t.comment(`podman printed: ${refused.out.trim().split("\n").slice(-2).join(" / ")}`);
  t.match(refused.out, /denied: project nosuch does not exist/, 'and says why');

  t.equal((await podman('logout', registry)).code, 0, 'podman logout');
  const anonymous = await podman('pull', ...tls, `${registry}/team/podman:v1`);
  t.not(anonymous.code, 0, 'after logout the private image cannot be pulled');
  t.match(anonymous.out, /unauthorized|authentication required|denied/i);
});

t.test('buildah over TLS: a robot logs in, builds from scratch, pushes; a refused push prints the reason', async (t) => {
  t.comment((await buildah('--version')).out.trim());
  const login = await run('buildah', [...storage('buildah'), 'login', ...tls, '-u', robot.name, '--password-stdin', registry], robot.secret);
  t.equal(login.code, 0, `buildah login as ${robot.name}`);
  const from = await buildah('from', 'scratch');
  t.equal(from.code, 0, 'buildah from scratch');
  const container = from.out.trim().split('\n').pop()!;
  const file = join(work, 'built.txt');
  await writeFile(file, `built ${Date.now()}\n`);
  t.equal((await buildah('copy', container, file, '/built.txt')).code, 0);
  t.equal((await buildah('commit', container, `${registry}/team/built:v1`)).code, 0, 'buildah commit');
  t.equal((await buildah('push', ...tls, `${registry}/team/built:v1`)).code, 0, 'buildah push as the robot');
  t.equal((await buildah('pull', ...tls, `${registry}/team/built:v1`)).code, 0, 'buildah pull');
  const refused = await buildah('push', ...tls, `${registry}/team/built:v1`, `docker://${registry}/other/built:v1`);
  t.not(refused.code, 0, 'the robot may not push outside its project');
  t.comment(`buildah printed: ${refused.out.trim().split("\n").slice(-2).join(" / ")}`);
  t.match(refused.out, /denied: project other does not exist/, 'and says why');
  t.equal((await buildah('logout', registry)).code, 0, 'buildah logout');
});
