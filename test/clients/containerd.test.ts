// containerd's ctr against Berth over TLS, trusting the test's CA through a hosts.toml (--hosts-dir): pull by tag
// and digest with a user, push with a robot, wrong credentials on a public image refused, a refused push.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { containerdAvailable, startContainerd } from '../helpers/containerd.js';
import { image, multiArch } from '../helpers/oci-fixtures.js';
import { skopeoPush, startTlsRegistry, tagsOf } from '../helpers/tls-registry.js';

const skip = process.getuid?.() !== 0 ? 'containerd needs root' : !containerdAvailable() ? 'needs containerd (containerd, ctr)' : false;

t.test('ctr over TLS: pull by tag and digest, robot push, wrong credentials refused, refused push', { skip }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'berth-ctr-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const reg = await startTlsRegistry(t, { password: 'Ctr-admin-1', robot: 'node' });
  const { registry, password, robot, ca } = reg;
  // The image, pushed with skopeo over the plain listener.
  const img = image({ layers: 2, layerSize: 50_000 });
  await skopeoPush(reg, img, 'team/app', 'v1');
  await skopeoPush(reg, img, 'library/app', 'v1');

  // containerd's registry configuration: trust the test CA for this host (what docs/p2p.md tells operators).
  const hostsDir = join(work, 'certs.d');
  await mkdir(join(hostsDir, registry), { recursive: true });
  await writeFile(join(hostsDir, registry, 'hosts.toml'), `server = "https://${registry}"\n\n[host."https://${registry}"]\n  ca = "${ca.certFile}"\n`);

  const daemon = await startContainerd();
  t.teardown(() => daemon.stop());
  const ctr = daemon.ctr;
  t.comment((await ctr(['version'])).out.split('\n').filter((l) => /Version/.test(l)).join(' / '));

  // Without the CA (a hosts.toml naming the https server only), the certificate is refused.
  const noCa = join(work, 'certs.d-without-ca');
  await mkdir(join(noCa, registry), { recursive: true });
  await writeFile(join(noCa, registry, 'hosts.toml'), `server = "https://${registry}"\n\n[host."https://${registry}"]\n  capabilities = ["pull", "resolve"]\n`);
  const untrusted = await ctr(['images', 'pull', '--hosts-dir', noCa, '--user', `admin:${password}`, `${registry}/team/app:v1`]);
  t.not(untrusted.code, 0, 'without the CA the certificate is refused');
  t.match(untrusted.out, /x509|certificate|tls/i, String(untrusted.out.trim().split('\n').pop()));

  const pulled = await ctr(['images', 'pull', '--hosts-dir', hostsDir, '--user', `admin:${password}`, `${registry}/team/app:v1`]);
  t.equal(pulled.code, 0, `ctr pull by tag ${pulled.code ? pulled.out : ''}`);
  const byDigest = await ctr(['images', 'pull', '--hosts-dir', hostsDir, '--user', `admin:${password}`, `${registry}/team/app@${img.manifest.digest}`]);
  t.equal(byDigest.code, 0, 'ctr pull by digest');

  // A multi-arch index: ctr pulls every platform's content.
  const multi = multiArch('oci', undefined, 20_000);
  await skopeoPush(reg, multi, 'team/multi', 'v1');
  const allPlatforms = await ctr(['images', 'pull', '--all-platforms', '--hosts-dir', hostsDir, '--user', `admin:${password}`, `${registry}/team/multi:v1`]);
  t.equal(allPlatforms.code, 0, `ctr pull --all-platforms of an index ${allPlatforms.code ? allPlatforms.out : ''}`);
  const listed = await ctr(['images', 'ls']);
  t.match(listed.out, new RegExp(`team/multi:v1\\s+application/vnd.oci.image.index.v1\\+json\\s+${multi.manifest.digest}`), 'ctr holds the index by its digest');

  // Wrong credentials fail, on a private image and on a public one: containerd's first request (a HEAD) is
  // challenged even where anonymous pulls are allowed, as Harbor does, so it presents them.
  for (const repo of ['team/app', 'library/app']) {
    const wrong = await ctr(['images', 'pull', '--hosts-dir', hostsDir, '--user', 'admin:wrong-password', `${registry}/${repo}:v1`]);
    t.not(wrong.code, 0, `wrong credentials are refused on ${repo}`);
    t.match(wrong.out, /401|unauthorized|invalid username or password/i);
  }
  const anonymous = await ctr(['images', 'pull', '--hosts-dir', hostsDir, `${registry}/library/app:v1`]);
  t.equal(anonymous.code, 0, 'no credentials on a public image: an anonymous pull');

  t.equal((await ctr(['images', 'tag', `${registry}/team/app:v1`, `${registry}/team/app:from-ctr`])).code, 0);
  const pushed = await ctr(['images', 'push', '--hosts-dir', hostsDir, '--user', `${robot.name}:${robot.secret}`, `${registry}/team/app:from-ctr`]);
  t.equal(pushed.code, 0, `ctr push as the robot ${pushed.code ? pushed.out : ''}`);
  t.same(await tagsOf(reg, 'team/app'), ['from-ctr', 'v1'], 'Berth holds the pushed tag');

  t.equal((await ctr(['images', 'tag', `${registry}/team/app:v1`, `${registry}/nosuch/app:v1`])).code, 0);
  const refused = await ctr(['images', 'push', '--hosts-dir', hostsDir, '--user', `${robot.name}:${robot.secret}`, `${registry}/nosuch/app:v1`]);
  t.not(refused.code, 0, 'a push outside the robot\'s project fails');
  t.comment(`ctr printed: ${refused.out.trim().split('\n').pop()}`);
  t.match(refused.out, /project nosuch does not exist/, 'and ctr prints the reason (from the status line)');
});
