// containerd pulling through the P2P agent, the way docs/p2p.md sets a node up: a hosts.toml mirror for the origin
// naming the agent's local endpoint. The origin speaks TLS with a certificate from the test's own CA, which the
// agents trust through agent_ca_file. The layer must reach containerd through the swarm: the agent's metrics show
// it came from peers, and the origin served about one copy for two nodes.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { freePort, startBerth } from '../helpers/berth-process.js';
import { containerdAvailable, startContainerd } from '../helpers/containerd.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf, type Digest } from '../../core/digest.js';
import { OciClient } from '../../core/oci-client.js';
import { tarArchive } from '../helpers/oci-fixtures.js';
import { MiB, fetchDigest, metric, startAgentProcess } from '../p2p/swarm-fixtures.js';

/** An image containerd can unpack: one uncompressed tar layer holding `size` random bytes. */
async function pushTarImage(url: string, repository: string, tag: string, size: number): Promise<{ layer: { digest: Digest; size: number } }> {
  const client = new OciClient({ baseUrl: url });
  const layer = tarArchive([{ name: 'payload.bin', content: randomBytes(size) }]);
  const layerDigest = digestOf(layer);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layerDigest] } }));
  const configDigest = digestOf(config);
  for (const [digest, bytes] of [[layerDigest, layer], [configDigest, config]] as const) {
    await client.uploadBlob(repository, digest, bytes.length, async (offset) => Readable.from([bytes.subarray(offset)]));
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
  }));
  await client.putManifest(repository, tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
  return { layer: { digest: layerDigest, size: layer.length } };
}

const skip = process.getuid?.() !== 0 ? 'containerd needs root' : !containerdAvailable() ? 'needs containerd (containerd, ctr)' : false;

t.test('ctr pulls through the agent (hosts.toml mirror); the agent trusts the TLS origin by agent_ca_file', { skip }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'berth-ctr-agent-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const ca = await makeTestCa();
  t.teardown(() => ca.remove());
  const { certFile, keyFile } = await ca.issue('berth-origin');
  const port = await freePort();
  const plain = await freePort();
  const origin = await startBerth({
    port,
    tlsCa: ca.cert,
    env: { BERTH_TLS_CERT_FILE: certFile, BERTH_TLS_KEY_FILE: keyFile, BERTH_HTTP_ADDR: `127.0.0.1:${plain}` },
  });
  t.teardown(() => origin.stop());
  const originHost = `127.0.0.1:${port}`;
  const plainUrl = `http://127.0.0.1:${plain}`;
  const img = await pushTarImage(plainUrl, 'library/p2p', 'v1', 8 * MiB);

  // Without the CA the agent cannot verify the origin: it answers an error, never unverified bytes.
  const blind = await startAgentProcess({ origin: `https://${originHost}` });
  t.teardown(() => blind.stop());
  const refused = await fetch(`${blind.url}/v2/library/p2p/manifests/v1`);
  t.ok(refused.status >= 500, `an agent without the CA refuses the origin's certificate (${refused.status})`);
  await refused.body?.cancel();

  const env = { BERTH_AGENT_CA_FILE: ca.certFile };
  const first = await startAgentProcess({ origin: `https://${originHost}`, env });
  t.teardown(() => first.stop());
  const second = await startAgentProcess({ origin: `https://${originHost}`, env });
  t.teardown(() => second.stop());
  // The first node fetches the layer (from the origin's seed and web seed), then seeds it.
  const warm = await fetchDigest(`${first.url}/v2/library/p2p/blobs/${img.layer.digest}`);
  t.same({ status: warm.status, digest: warm.digest }, { status: 200, digest: img.layer.digest }, 'the first agent serves the verified layer');

  const hostsDir = join(work, 'certs.d');
  await mkdir(join(hostsDir, originHost), { recursive: true });
  await writeFile(
    join(hostsDir, originHost, 'hosts.toml'),
    `server = "https://${originHost}"\n\n[host."${second.url}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  const daemon = await startContainerd();
  t.teardown(() => daemon.stop());
  const originBefore = await metric(plainUrl, 'berth_blob_bytes_served_total');
  const pulled = await daemon.ctr(['images', 'pull', '--hosts-dir', hostsDir, `${originHost}/library/p2p:v1`]);
  t.equal(pulled.code, 0, `ctr pull through the agent ${pulled.code ? pulled.out : ''}`);
  const fromPeers = await metric(second.url, 'berth_agent_bytes_from_peers_total');
  const fromWebSeed = await metric(second.url, 'berth_agent_bytes_from_origin_total', { path: 'webseed' });
  t.ok(fromPeers >= img.layer.size, `the second agent got the layer from peers (${fromPeers} bytes)`);
  t.equal(fromWebSeed, 0, 'and nothing from the web seed');
  t.ok((await metric(second.url, 'berth_agent_bytes_to_clients_total')) >= img.layer.size, 'and handed it to containerd');
  const originServed = (await metric(plainUrl, 'berth_blob_bytes_served_total')) - originBefore;
  t.ok(originServed < img.layer.size / 2, `the origin sent ${originServed} blob bytes for the second node (the first agent seeded it)`);
  const total = await metric(plainUrl, 'berth_blob_bytes_served_total');
  t.comment(`origin blob bytes for two nodes: ${(total / img.layer.size).toFixed(2)} copies of the layer`);
});
