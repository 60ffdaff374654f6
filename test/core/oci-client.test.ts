import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { OciClient, nextLink, parseChallenge } from '../../core/oci-client.js';
import { digestOf } from '../../core/digest.js';
import { startBerth } from '../helpers/berth-process.js';

t.test('challenge and Link parsing', async (t) => {
  t.same(parseChallenge('Bearer realm="http://r/service/token",service="berth",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'http://r/service/token', service: 'berth', scope: 'repository:a/b:pull,push' },
  });
  t.same(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
  t.equal(parseChallenge('Negotiate'), undefined);
  t.equal(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"'), '/v2/a/tags/list?n=2&last=b');
  t.equal(nextLink(null), undefined);
});

t.test('the client pushes, resumes, mounts and pulls against a real registry', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.stop());
  const client = new OciClient({ baseUrl: berth.url });
  await client.ping();

  const blob = randomBytes(5 * 1024 * 1024 + 123);
  const digest = digestOf(blob);
  // The first attempt at the second chunk fails mid-way; the client must ask for the offset and continue.
  let failOnce = true;
  const opened: number[] = [];
  const source = async (offset: number) => {
    opened.push(offset);
    if (offset > 0 && failOnce) {
      failOnce = false;
      return Readable.from(
        (async function* () {
          yield blob.subarray(offset, offset + 1000);
          throw new Error('network dropped');
        })(),
      );
    }
    return Readable.from([blob.subarray(offset)]);
  };
  await client.uploadBlob('src/repo', digest, blob.length, source, { chunkSize: 1024 * 1024 });
  t.equal(await client.headBlob('src/repo', digest), blob.length, 'blob is there after a resumed chunked upload');
  t.ok(opened.filter((o) => o === 1024 * 1024).length >= 2, 'the failed chunk was re-opened at the offset the registry reported');

  t.equal(await client.mountBlob('dst/repo', digest, 'src/repo'), true, 'mount from another repository');
  t.equal(await client.mountBlob('dst/repo', digestOf('nothing'), 'src/repo'), false, 'unknown blob is not mounted');

  const config = Buffer.from('{}');
  await client.uploadBlob('dst/repo', digestOf(config), config.length, async () => Readable.from([config]));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: blob.length }],
    }),
  );
  const md = await client.putManifest('dst/repo', 'v1', manifest, 'application/vnd.oci.image.manifest.v1+json');
  t.equal(md, digestOf(manifest));
  for (const tag of ['v2', 'v3', 'v4']) await client.putManifest('dst/repo', tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
  t.same(await client.listTags('dst/repo', 2), ['v1', 'v2', 'v3', 'v4'], 'tags gathered across Link pages');
  t.equal(await client.listTags('no/such'), undefined);
  const got = await client.getManifest('dst/repo', 'v1');
  t.ok(got && got.bytes.equals(manifest) && got.digest === md);
  t.same(await client.headManifest('dst/repo', md), { digest: md, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: manifest.length });

  const part = await client.getBlob('dst/repo', digest, { start: 10, end: 19 });
  const chunks: Buffer[] = [];
  for await (const c of part.stream) chunks.push(c as Buffer);
  t.same(Buffer.concat(chunks), blob.subarray(10, 20), 'range read');
  t.equal(part.size, blob.length);

  t.equal(await client.deleteManifest('dst/repo', 'v4'), true);
  t.equal(await client.deleteManifest('dst/repo', 'v4'), false);
  t.same(await client.catalog(), ['dst/repo']);
  await t.rejects(client.putManifest('dst/repo', 'bad', Buffer.from('{'), 'application/vnd.oci.image.manifest.v1+json'), { status: 400, code: 'MANIFEST_INVALID' });
});
