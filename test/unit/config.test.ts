import t from 'tap';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadServerConfig, splitHostPort } from '../../core/config.js';

t.test('defaults: 0.0.0.0:5000, ./data, fs + sqlite', async (t) => {
  const c = loadServerConfig({ env: {} });
  t.equal(c.addr, '0.0.0.0:5000');
  t.equal(c.data_dir, './data');
  t.equal(c.storage, 'fs');
  t.equal(c.meta, 'sqlite');
});

t.test('BERTH_* variables override the YAML file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
  const file = join(dir, 'berth.yaml');
  writeFileSync(file, 'addr: 127.0.0.1:6000\nlog_level: debug\n');
  const c = loadServerConfig({ file, env: { BERTH_ADDR: '127.0.0.1:7000' } });
  t.equal(c.addr, '127.0.0.1:7000');
  t.equal(c.log_level, 'debug');
});

t.test('invalid settings fail with a message naming the variable', async (t) => {
  t.throws(() => loadServerConfig({ env: { BERTH_ADDR: 'nonsense' } }), { name: 'ConfigError', message: /addr \(BERTH_ADDR\)/ });
  t.throws(() => loadServerConfig({ env: { BERTH_STORAGE: 's3' } }), /s3_bucket/);
  t.throws(() => loadServerConfig({ env: { BERTH_META: 'redis' } }), /redis_url/);
  t.throws(() => loadServerConfig({ env: { BERTH_MAX_MANIFEST_BYTES: '1000' } }), /max_manifest_bytes/);
});

t.test('unknown keys in the YAML file are refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
  const file = join(dir, 'berth.yaml');
  writeFileSync(file, 'adr: 127.0.0.1:6000\n');
  t.throws(() => loadServerConfig({ file, env: {} }), /adr/);
  t.throws(() => loadServerConfig({ file: join(dir, 'missing.yaml'), env: {} }), /cannot read config file/);
});

t.test('host:port splitting handles IPv6 and empty hosts', async (t) => {
  t.same(splitHostPort('[::1]:5000'), { host: '::1', port: 5000 });
  t.same(splitHostPort(':5000'), { host: '0.0.0.0', port: 5000 });
  t.same(splitHostPort('127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
});

t.test('blob_offload: off by default; nginx needs fs storage and a /…/ prefix', async (t) => {
  const c = loadServerConfig({ env: {} });
  t.equal(c.blob_offload, 'none');
  t.equal(c.blob_offload_prefix, '/_berth/blobs/');
  t.equal(loadServerConfig({ env: { BERTH_BLOB_OFFLOAD: 'nginx', BERTH_BLOB_OFFLOAD_PREFIX: '/internal/b/' } }).blob_offload_prefix, '/internal/b/');
  t.throws(() => loadServerConfig({ env: { BERTH_BLOB_OFFLOAD: 'apache' } }), /blob_offload \(BERTH_BLOB_OFFLOAD\)/);
  t.throws(() => loadServerConfig({ env: { BERTH_BLOB_OFFLOAD: 'nginx', BERTH_STORAGE: 's3', BERTH_S3_BUCKET: 'b' } }), /storage must be fs/);
  t.throws(() => loadServerConfig({ env: { BERTH_BLOB_OFFLOAD_PREFIX: 'no-slashes' } }), /blob_offload_prefix/);
  t.throws(() => loadServerConfig({ env: { BERTH_BLOB_OFFLOAD_PREFIX: '/a b/' } }), /blob_offload_prefix/);
});
