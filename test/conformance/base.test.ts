// end-1: the API version check every client starts with.
import t from 'tap';
import { targetFor } from '../helpers/conformance-target.js';

const target = await targetFor(t);
const reg = target.client;

t.test('GET /v2/ answers 200 with Docker-Distribution-API-Version: registry/2.0', async (t) => {
  const r = await reg.send('GET', '/v2/');
  t.equal(r.status, 200);
  t.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
});

t.test('GET /v2 without the trailing slash reaches the same endpoint', async (t) => {
  // Clients differ on the slash; distribution redirects or answers directly, either way a client ends at 200.
  const r = await reg.send('GET', '/v2');
  t.equal(r.status, 200);
});
