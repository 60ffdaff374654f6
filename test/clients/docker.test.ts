// docker against Berth over TLS, the way a node meets it: Debian's dockerd (its own engine, in a network namespace
// of its own, so the registry is a remote host at 198.18.x.1 — not a loopback registry docker would accept
// without TLS) trusting the test's CA through /etc/docker/certs.d/<host:port>/ca.crt. Login, push, pull by tag
// and by digest, a robot account, a refused push that prints Berth's reason, logout.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { dockerAvailable, startDockerd } from '../helpers/dockerd.js';
import { canMakeNamespaces, linkedNamespace } from '../helpers/netns.js';
import { multiArch, tarArchive } from '../helpers/oci-fixtures.js';
import { skopeoPush, startTlsRegistry, tagsOf } from '../helpers/tls-registry.js';

const skip = !canMakeNamespaces() ? 'needs root and ip netns' : !dockerAvailable() ? 'needs docker.io (dockerd, docker)' : false;

t.test('docker over TLS: login, push, pull, digest, robot, refusal with its reason, logout', { skip }, async (t) => {
  const ns = linkedNamespace('dk');
  t.teardown(() => ns.remove());
  const reg = await startTlsRegistry(t, { password: 'Docker-admin-1', host: ns.hostAddress, robot: 'ci' });
  const { registry, password, robot, ca } = reg;

  const engine = await startDockerd(ns.name);
  t.teardown(() => engine.stop());
  const docker = engine.docker;
  const version = (await docker(['version', '--format', '{{.Client.Version}} / {{.Server.Version}}'])).out.trim();
  t.comment(`docker client / engine: ${version}`);

  // An image without any base: one file, imported.
  const tar = tarArchive([{ name: 'hello.txt', content: Buffer.from(`hello from docker ${Date.now()}\n`) }]);
  t.equal((await docker(['import', '-', `${registry}/team/hello:v1`], { input: tar })).code, 0, 'docker import made an image');

  const untrusted = await docker(['login', '-u', 'admin', '--password-stdin', registry], { input: password });
  t.not(untrusted.code, 0, 'before the CA is installed docker refuses the certificate');
  t.match(untrusted.out, /x509|certificate/);
  // dockerd reads the CA for this host:port from here (the path is fixed; the port makes it this test's own).
  const certsDir = join('/etc/docker/certs.d', registry);
  await mkdir(certsDir, { recursive: true });
  await writeFile(join(certsDir, 'ca.crt'), ca.cert);
  t.teardown(() => rm(certsDir, { recursive: true, force: true }));
  const login = await docker(['login', '-u', 'admin', '--password-stdin', registry], { input: password });
  t.equal(login.code, 0, 'docker login over TLS, verified against the test CA');
  t.match(login.out, /Login Succeeded/);

  const push = await docker(['push', `${registry}/team/hello:v1`]);
  t.equal(push.code, 0, 'docker push');
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.out)?.[1];
  t.ok(digest, `push reports the digest (${digest})`);

  t.equal((await docker(['rmi', `${registry}/team/hello:v1`])).code, 0);
  t.equal((await docker(['pull', `${registry}/team/hello:v1`])).code, 0, 'docker pull by tag');
  const byDigest = await docker(['pull', `${registry}/team/hello@${digest}`]);
  t.equal(byDigest.code, 0, 'docker pull by digest');
  t.match(byDigest.out, digest!, 'the digest pulled is the digest pushed');

  // A multi-arch image (an OCI index pushed with skopeo --all): docker pulls its linux/amd64 child.
  const multi = multiArch('oci', undefined, 20_000);
  await skopeoPush(reg, multi, 'team/multi', 'v1');
  const multiPull = await docker(['pull', `${registry}/team/multi:v1`]);
  t.equal(multiPull.code, 0, `docker pull of a multi-arch index ${multiPull.code ? multiPull.out : ''}`);
  t.match(multiPull.out, multi.manifest.digest, 'by the index digest');
  const arch = await docker(['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}}', `${registry}/team/multi:v1`]);
  t.equal(arch.out.trim(), 'linux/amd64', 'the amd64 child was chosen');

  // Refused: a project that does not exist. docker prints Berth's reason.
  await docker(['tag', `${registry}/team/hello:v1`, `${registry}/nosuch/hello:v1`]);
  const refused = await docker(['push', `${registry}/nosuch/hello:v1`]);
  t.not(refused.code, 0, 'a push to a missing project fails');
  t.comment(`docker printed: ${refused.out.trim().split('\n').pop()}`);
  t.match(refused.out, /project nosuch does not exist/, 'and says why');

  t.equal((await docker(['logout', registry])).code, 0, 'docker logout');
  t.equal((await docker(['rmi', `${registry}/team/hello:v1`])).code, 0);
  const anonymous = await docker(['pull', `${registry}/team/hello:v1`]);
  t.not(anonymous.code, 0, 'after logout a private image cannot be pulled');
  t.match(anonymous.out, /unauthorized|denied|authentication required/i, 'and docker says it needs credentials');

  const robotLogin = await docker(['login', '-u', robot.name, '--password-stdin', registry], { input: robot.secret });
  t.equal(robotLogin.code, 0, `docker login as ${robot.name}`);
  t.equal((await docker(['pull', `${registry}/team/hello:v1`])).code, 0, 'the robot pulls');
  await docker(['tag', `${registry}/team/hello:v1`, `${registry}/team/hello:robot`]);
  t.equal((await docker(['push', `${registry}/team/hello:robot`])).code, 0, 'and pushes');
  t.same(await tagsOf(reg, 'team/hello'), ['robot', 'v1'], 'Berth holds both tags');
});
