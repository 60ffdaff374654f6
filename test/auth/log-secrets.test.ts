// Credentials never reach the log, and requests Node's HTTP parser refuses (a malformed body, a header line
// without a colon, an oversized head) still answer in the OCI error format.
import { connect } from 'node:net';
import t from 'tap';
import { leakedSecrets } from '../helpers/berth-process.js';
import { admin, basic, http, startTokenBerth, token } from './access.js';

const berth = await startTokenBerth(t, { BERTH_LOG_LEVEL: 'debug' });

/** Writes `raw` on a fresh connection and answers what came back before the server closed it. */
function rawExchange(raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(berth.port, '127.0.0.1', () => s.write(raw));
    let got = '';
    s.on('data', (b) => (got += b.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
}

function bodyOf(reply: string): any {
  return JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
}

t.test('requests the HTTP parser refuses, carrying Basic credentials, leave no password in the log', async (t) => {
  const auth = `Authorization: ${basic(admin)}\r\n`;
  const badChunk = await rawExchange(
    `POST /service/token HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n5\r\nabcde\r\nZZZ\r\n`,
  );
  t.match(badChunk, /^HTTP\/1\.1 400 /);
  const badHeader = await rawExchange(`GET /v2/ HTTP/1.1\r\nHost: x\r\n${auth}Not a header\r\n\r\n`);
  t.match(badHeader, /^HTTP\/1\.1 400 /);
  t.equal(bodyOf(badHeader).errors[0].code, 'UNSUPPORTED', 'an OCI error body');
  t.equal(bodyOf(badHeader).errors[0].detail.reason, 'HPE_INVALID_HEADER_TOKEN');
  const badManifest = await rawExchange(
    `PUT /v2/x/y/manifests/latest HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\r\n3\r\n{}{\r\nQQ\r\n`,
  );
  t.match(badManifest, /^HTTP\/1\.1 (400|404) /);
  await new Promise((r) => setTimeout(r, 300));
  t.match(berth.output(), /HPE_INVALID_CHUNK_SIZE/, 'the refusal is logged, by its code');
  t.same(leakedSecrets(berth.output(), [admin.password]), [], 'no log line carries the admin password, plain, base64 or as bytes');
});

t.test('a 20 KB header (a token for many repositories) is accepted; past max_header_bytes: 431 with an OCI body', async (t) => {
  const jwt = await token(berth.url, admin, ['repository:a/b:pull']);
  const r = await http(`${berth.url}/v2/`, { headers: { Authorization: `Bearer ${jwt}`, 'X-Padding': 'p'.repeat(20_000) } });
  t.equal(r.status, 200, '20 KB of headers fit the default 64 KiB');
  const big = await rawExchange(`GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(70_000)}\r\n\r\n`);
  t.match(big, /^HTTP\/1\.1 431 /);
  const body = bodyOf(big);
  t.equal(body.errors[0].message, 'request headers too large');
  t.equal(body.errors[0].detail.max_header_bytes, 65536);
});
