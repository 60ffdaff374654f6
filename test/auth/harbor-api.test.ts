// The Harbor-API toolkit's behaviours, pinned on both surfaces that use it: the admin API (/projects, /users)
// and replication's API (/registries, /replication/policies), mounted in one `berth serve`. Each is what
// goharbor/harbor answers (src/server/v2.0/handler, lib/http/error.go, lib/orm/query.go, lib/link.go and the
// go-swagger binding of api/v2.0/swagger.yaml).
import { connect } from 'node:net';
import t from 'tap';
import { admin, AdminApi, basic, startTokenBerth } from './access.js';

const berth = await startTokenBerth(t);
const root = new AdminApi(berth.url, admin);

interface Surface {
  name: string;
  /** A list endpoint (with a query string) holding exactly the three items named link-a, link-b, link-c. */
  list: string;
  /** Every item of the kind, to count. */
  all: string;
  create: (name: string) => [string, unknown];
  /** Where to find one item by id, and an id-addressed item that does not exist (for updates). */
  byId: string;
  missing: string;
  update: unknown;
}

const surfaces: Surface[] = [
  {
    name: 'admin API',
    list: `/projects?q=${encodeURIComponent('name=~link')}`,
    all: '/projects',
    create: (name) => ['/projects', { project_name: name }],
    byId: '/users',
    missing: '/projects/nope',
    update: { metadata: { public: 'true' } },
  },
  {
    name: "replication's API",
    list: '/registries?q=name%3D~link',
    all: '/registries',
    create: (name) => ['/registries', { name, url: 'http://127.0.0.1:9', type: 'docker-registry' }],
    byId: '/registries',
    missing: '/registries/9999',
    update: { description: 'changed' },
  },
];

for (const s of surfaces) {
  for (const name of ['link-a', 'link-b', 'link-c']) {
    const [path, body] = s.create(name);
    const r = await root.post(path, body);
    if (r.status !== 201) throw new Error(`seed ${s.name} ${name}: ${r.status} ${r.text}`);
  }
}

const listed = (r: { json: any }) => (r.json as { name: string }[]).map((x) => x.name);

for (const s of surfaces) {
  t.test(`${s.name}: a page that is no integer, or a page_size over 100, is Harbor's 422; page 0 is the first page`, async (t) => {
    for (const query of ['page=abc', 'page_size=ten', 'page_size=101']) {
      const r = await root.get(`${s.list}&${query}`);
      t.equal(r.status, 422, query);
      t.equal(r.json?.errors?.[0]?.code, 'UNPROCESSABLE_ENTITY', `${query}: Harbor's code`);
    }
    const first = await root.get(`${s.list}&page=1&page_size=1`);
    for (const page of ['0', '-1']) {
      const r = await root.get(`${s.list}&page=${page}&page_size=1`);
      t.equal(r.status, 200, `page=${page}`);
      t.same(listed(r), listed(first), `page=${page} reads as page 1`);
    }
    const all = await root.get(`${s.list}&page_size=0`);
    t.equal(all.status, 200);
    t.same(listed(all), ['link-a', 'link-b', 'link-c'], 'page_size=0: every item, as Harbor answers it');
    t.equal(all.headers.get('x-total-count'), '3');
    t.equal(all.headers.get('link'), null, 'unpaged: no Link');
  });

  t.test(`${s.name}: a missing required body is Harbor's 422, and nothing is written`, async (t) => {
    const before = (await root.get(s.all)).headers.get('x-total-count');
    const [path] = s.create('empty');
    const r = await root.call('POST', path, '', { 'Content-Type': 'application/json' });
    t.equal(r.status, 422);
    t.equal(r.json?.errors?.[0]?.code, 'UNPROCESSABLE_ENTITY');
    t.equal((await root.get(s.all)).headers.get('x-total-count'), before, 'nothing created');
  });

  t.test(`${s.name}: id 0 is an integer that names nothing (404); a non-integer id is 422`, async (t) => {
    const zero = await root.get(`${s.byId}/0`);
    t.equal(zero.status, 404);
    t.equal(zero.json?.errors?.[0]?.code, 'NOT_FOUND');
    const word = await root.get(`${s.byId}/abc`);
    t.equal(word.status, 422);
    t.equal(word.json?.errors?.[0]?.code, 'UNPROCESSABLE_ENTITY');
  });

  t.test(`${s.name}: 201 and 200 answers are empty: no body, no Content-Type`, async (t) => {
    const [path, body] = s.create('made-here');
    const c = await root.post(path, body);
    t.equal(c.status, 201);
    t.match(c.headers.get('location'), /^\/api\/v2\.0\//, 'Location names the new resource');
    t.equal(c.text, '');
    t.equal(c.headers.get('content-type'), null);
    t.equal(c.headers.get('content-length'), '0');
    const location = c.headers.get('location')!.replace('/api/v2.0', '');
    const d = await root.del(location);
    t.equal(d.status, 200);
    t.equal(d.text, '');
    t.equal(d.headers.get('content-type'), null);
  });

  t.test(`${s.name}: Link lists the neighbouring pages joined by " , ", other parameters kept`, async (t) => {
    const r = await root.get(`${s.list}&page=2&page_size=1`);
    t.equal(r.headers.get('x-total-count'), '3');
    const parts = r.headers.get('link')!.split(' , ');
    t.equal(parts.length, 2, 'two links, separated as lib/link.go does');
    t.match(parts[0], /^<\/api\/v2\.0\/[^>]*[?&]page=1&page_size=1[^>]*>; rel="prev"$/);
    t.match(parts[1], /^<\/api\/v2\.0\/[^>]*[?&]page=3&page_size=1[^>]*>; rel="next"$/);
    t.match(parts[1], /[?&]q=/, 'q is kept');
  });

  t.test(`${s.name}: a refused body keeps the connection when small, closes it past 256 KiB (Go's net/http)`, async (t) => {
    const auth = basic(admin);
    const put = (length: number, sent: string) =>
      `PUT /api/v2.0${s.missing} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${sent}`;
    const small = JSON.stringify(s.update);
    const kept = await exchange(berth.port, [put(small.length, small), 'GET /api/v2.0/ping HTTP/1.1\r\nHost: x\r\n\r\n']);
    t.equal(kept[0]?.status, 404, 'refused before the body was read');
    t.not(kept[0]?.headers.connection, 'close');
    t.equal(kept[1]?.status, 200, 'the next request on the same connection is answered');
    // Declared past the bound, only the start sent: the answer comes, with the connection closed after it.
    const closed = await exchange(berth.port, [put(300 * 1024, small)]);
    t.equal(closed[0]?.status, 404);
    t.equal(closed[0]?.headers.connection, 'close');
  });
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
}

/** Writes each request on one connection once the previous answer is in; the answers, until the server closes. */
function exchange(port: number, requests: string[]): Promise<RawResponse[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const answers: RawResponse[] = [];
    let buffered = Buffer.alloc(0);
    const next = () => {
      const request = requests[answers.length];
      if (request === undefined) socket.end();
      else socket.write(request);
    };
    socket.on('connect', next);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [statusLine, ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const length = Number(headers['content-length'] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.subarray(end + 4 + length);
        answers.push({ status: Number(statusLine!.split(' ')[1]), headers });
        next();
      }
    });
    socket.on('close', () => resolve(answers));
    socket.on('error', (e) => (answers.length > 0 ? resolve(answers) : reject(e)));
    socket.setTimeout(10_000, () => socket.destroy());
  });
}
