// The replication task flow in-process, against an in-memory destination (no processes): a real SQLite
// MetaStore and fs BlobStore in a temp dir behind the Registry domain layer as the source, the real push Route,
// copy flow, planner, outbox follower and task runner.
import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { Registry as MetricsRegistry } from 'prom-client';
import type { Digest } from '../../core/digest.js';
import { formatVersion, HybridLogicalClock, type TagVersion } from '../../core/hlc.js';
import { createLogger } from '../../core/log.js';
import { isForeignLayer, parseManifest } from '../../core/manifest.js';
import { OciClientError } from '../../core/oci-client.js';
import { Registry } from '../../registry/registry.js';
import { Bandwidth } from '../../replicator/bandwidth.js';
import { PolicySelector } from '../../replicator/filters.js';
import { mountHints, performTask, type FlowContext, type FlowTask } from '../../replicator/flow.js';
import { Lineage } from '../../replicator/lineage.js';
import { ReplicationMetrics } from '../../replicator/metrics.js';
import { OutboxFollower } from '../../replicator/outbox.js';
import { planTasks } from '../../replicator/planner.js';
import { newExecution, pendingTask, ReplicationRecords, type PolicyFilter, type PolicyRecord } from '../../replicator/records.js';
import { pushRoute, type Route } from '../../replicator/route.js';
import { TaskRunner, type Job } from '../../replicator/runner.js';
import { LocalSource } from '../../replicator/source.js';
import { FsBlobStore } from '../../storage-adapters/blob/fs.js';
import type { ManifestRecord } from '../../storage-adapters/meta/meta-store.js';
import { SqliteMetaStore } from '../../storage-adapters/meta/sqlite.js';
import { blobOf, ConfigType, descriptorOf, image, ociManifest, type Image } from '../helpers/oci-fixtures.js';
import { MemoryDestination } from './fakes/memory-destination.js';

const IDC = 'idc-a';

async function setUp(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'berth-flow-'));
  const meta = await SqliteMetaStore.open({ path: join(dir, 'meta.db') });
  const blobs = new FsBlobStore({ root: join(dir, 'blobs') });
  t.teardown(async () => {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  });
  const registry = new Registry(blobs, meta, { clock: new HybridLogicalClock(), idc: IDC, log: createLogger('silent') });
  const clock = new HybridLogicalClock();
  const version = (): TagVersion => ({ ...clock.tick(), idc: IDC });

  /** Pushes `img` into `repository` as a client would: blobs through uploads, then the manifest and its tag. */
  async function push(repository: string, img: Image, tag: string): Promise<Digest> {
    for (const b of img.blobs) {
      const id = randomUUID();
      await blobs.createUpload(id);
      await blobs.appendUpload(id, 0, Readable.from([b.bytes]));
      await registry.blobs.commitUpload(repository, id, b.digest as Digest, b.size);
    }
    const m = img.manifest;
    const parsed = parseManifest(m.bytes, m.mediaType);
    const record: ManifestRecord = {
      digest: m.digest as Digest,
      mediaType: m.mediaType,
      size: m.bytes.length,
      blobs: [...(parsed.config ? [parsed.config.digest] : []), ...parsed.layers.filter((l) => !isForeignLayer(l)).map((l) => l.digest)],
      children: [],
      createdAt: Date.now(),
    };
    await registry.manifests.put(repository, record, m.bytes, [tag], { version: version() });
    return record.digest;
  }

  const records = new ReplicationRecords(meta);
  return { meta, registry, records, push, version, local: new LocalSource(registry) };
}

function policy(filters: PolicyFilter[] = [], extra: Partial<PolicyRecord> = {}): PolicyRecord {
  return {
    id: 1,
    name: 'to-fake',
    description: '',
    src_registry_id: null,
    dest_registry_id: 1,
    dest_namespace: '',
    dest_namespace_replace_count: -1,
    filters,
    trigger: { type: 'manual', trigger_settings: { cron: '' } },
    replicate_deletion: true,
    override: true,
    speed: 0,
    concurrency: 0,
    enabled: true,
    creation_time: new Date(0).toISOString(),
    update_time: new Date(0).toISOString(),
    ...extra,
  };
}

function routeTo(dest: MemoryDestination, local: LocalSource, p: PolicyRecord, lineage = new Lineage()): Route {
  return pushRoute({ local, to: dest, idc: IDC, selector: new PolicySelector(p), lineage });
}

function context(): FlowContext & { sent: number } {
  const ctx = {
    sent: 0,
    signal: new AbortController().signal,
    chunkSize: 1024 * 1024,
    onBytes: (n: number) => {
      ctx.sent += n;
    },
    progress: () => undefined,
  };
  return ctx;
}

function copyTag(repository: string, tag: string, dst = repository): FlowTask {
  return { operation: 'copy', resource_type: 'artifact', src_repository: repository, dst_repository: dst, tag, digest: null, version: null };
}

t.test('copying a tag sends its blobs and manifest, and the destination answers the tag with the source digest', async (t) => {
  const s = await setUp(t);
  const img = image({ layers: 2 });
  const digest = await s.push('library/app', img, 'v1');
  const dest = new MemoryDestination();
  const p = policy();
  const ctx = context();
  const note = await performTask(routeTo(dest, s.local, p), p, mountHints(), copyTag('library/app', 'v1'), ctx);
  t.equal(note, '', 'something was sent');
  t.equal(dest.tagOf('library/app', 'v1'), digest);
  t.equal(dest.blobCount('library/app'), img.blobs.length, 'config and layers are there');
  t.equal(dest.calls.uploadBlob, img.blobs.length);
  t.equal(ctx.sent, img.blobs.reduce((n, b) => n + b.size, 0), 'every blob byte was counted');
});

t.test('a second run is idempotent: HEAD before upload finds everything, no blob is sent again', async (t) => {
  const s = await setUp(t);
  const img = image({ layers: 2 });
  const digest = await s.push('library/app', img, 'v1');
  const dest = new MemoryDestination();
  const p = policy();
  const route = routeTo(dest, s.local, p);
  await performTask(route, p, mountHints(), copyTag('library/app', 'v1'), context());
  const uploads = dest.calls.uploadBlob;

  const again = context();
  t.equal(await performTask(route, p, mountHints(), copyTag('library/app', 'v1'), again), 'already at the destination');
  t.equal(dest.calls.uploadBlob, uploads, 'no upload on the re-run');
  t.equal(again.sent, 0, 'no blob bytes on the re-run');

  // Another tag of the same image: the manifest is there by digest, so only the tag is written.
  await s.registry.manifests.put('library/app', (await s.registry.manifests.get('library/app', digest))!, img.manifest.bytes, ['latest'], { version: s.version() });
  t.equal(await performTask(route, p, mountHints(), copyTag('library/app', 'latest'), context()), 'already at the destination');
  t.equal(dest.tagOf('library/app', 'latest'), digest);
  t.equal(dest.calls.uploadBlob, uploads, 'still no upload');
});

t.test('a new manifest whose layers the destination has sends only what is missing (HEAD before upload)', async (t) => {
  const s = await setUp(t);
  const a = image({ layers: 2 });
  await s.push('library/app', a, 'v1');
  const layers = a.blobs.slice(1);
  const config = blobOf(JSON.stringify({ architecture: 'arm64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }), ConfigType.oci);
  const b: Image = { manifest: ociManifest({ config: descriptorOf(config), layers: layers.map((l) => descriptorOf(l)) }), blobs: [config, ...layers], children: [] };
  const digest = await s.push('library/app', b, 'v2');
  const dest = new MemoryDestination();
  const p = policy();
  const route = routeTo(dest, s.local, p);
  await performTask(route, p, mountHints(), copyTag('library/app', 'v1'), context());
  const uploads = dest.calls.uploadBlob;
  const ctx = context();
  t.equal(await performTask(route, p, mountHints(), copyTag('library/app', 'v2'), ctx), '');
  t.equal(dest.calls.uploadBlob - uploads, 1, 'only the new config is uploaded');
  t.equal(ctx.sent, config.size, 'and only its bytes are sent');
  t.equal(dest.tagOf('library/app', 'v2'), digest);
});

t.test('a blob the destination holds in another repository is mounted, not uploaded', async (t) => {
  const s = await setUp(t);
  const img = image({ layers: 2 });
  await s.push('library/a', img, 'v1');
  await s.push('library/b', img, 'v1');
  const dest = new MemoryDestination();
  const p = policy();
  const route = routeTo(dest, s.local, p);
  const hints = mountHints();
  await performTask(route, p, hints, copyTag('library/a', 'v1'), context());
  const uploads = dest.calls.uploadBlob;
  const mounts = dest.calls.mountBlob;
  const ctx = context();
  t.equal(await performTask(route, p, hints, copyTag('library/b', 'v1'), ctx), '');
  t.equal(dest.calls.uploadBlob, uploads, 'no upload for the second repository');
  t.equal(dest.calls.mountBlob - mounts, img.blobs.length, 'each blob mounted from library/a, at the first try');
  t.equal(dest.blobCount('library/b'), img.blobs.length);
  t.equal(ctx.sent, 0);
});

t.test('a deleted tag is deleted at the destination; once gone, a re-run says so', async (t) => {
  const s = await setUp(t);
  await s.push('library/app', image(), 'v1');
  const dest = new MemoryDestination();
  const p = policy();
  const route = routeTo(dest, s.local, p);
  await performTask(route, p, mountHints(), copyTag('library/app', 'v1'), context());
  t.ok(dest.tagOf('library/app', 'v1'));

  const del = await s.meta.deleteTag('library/app', 'v1', s.version());
  t.ok(del, 'tombstoned at the source');
  const deletion: FlowTask = { ...copyTag('library/app', 'v1'), operation: 'deletion' };
  t.equal(await performTask(route, p, mountHints(), deletion, context()), '');
  t.equal(dest.tagOf('library/app', 'v1'), undefined, 'the tag is gone at the destination');
  t.equal(await performTask(route, p, mountHints(), deletion, context()), 'already absent at the destination');

  // A copy task that runs after the delete copies nothing: the flow follows the source's current state.
  t.equal(await performTask(route, p, mountHints(), copyTag('library/app', 'v1'), context()), 'deleted at the source meanwhile');
  t.equal(dest.tagOf('library/app', 'v1'), undefined);
});

t.test('override off keeps a different artifact under the same tag at the destination', async (t) => {
  const s = await setUp(t);
  await s.push('library/app', image(), 'v1');
  const dest = new MemoryDestination();
  const other = image();
  await s.push('library/other', other, 'v1');
  const p = policy();
  await performTask(routeTo(dest, s.local, p), p, mountHints(), copyTag('library/other', 'v1', 'library/app'), context());
  const there = dest.tagOf('library/app', 'v1');
  const keep = policy([], { override: false });
  const note = await performTask(routeTo(dest, s.local, keep), keep, mountHints(), copyTag('library/app', 'v1'), context());
  t.match(note, /override is off/);
  t.equal(dest.tagOf('library/app', 'v1'), there, 'unchanged');
});

t.test('a Berth destination is sent the tag version, this IDC as origin and the base the value replaced', async (t) => {
  const s = await setUp(t);
  await s.push('library/app', image(), 'v1');
  const current = (await s.registry.manifests.tag('library/app', 'v1'))!;
  const dest = new MemoryDestination(true);
  const p = policy();
  const lineage = new Lineage();
  lineage.complete = true;
  t.equal(await performTask(routeTo(dest, s.local, p, lineage), p, mountHints(), copyTag('library/app', 'v1'), context()), '');
  const tagPut = dest.writeHeaders.at(-1)!;
  t.equal(tagPut['Berth-Tag-Version'], formatVersion(current.version));
  t.equal(tagPut['Berth-Replicated-From'], IDC);
  t.equal(tagPut['Berth-Tag-Base'], 'none', 'nothing before it, as far as a complete lineage knows');
});

t.test('a name filter excluding a repository plans and copies nothing of it', async (t) => {
  const s = await setUp(t);
  await s.push('library/app', image(), 'v1');
  await s.push('library/app', image(), 'dev');
  await s.push('library/tmp-scratch', image(), 'v1');
  const p = policy([
    { type: 'name', value: 'library/**', decoration: 'matches' },
    { type: 'name', value: '**/tmp-*', decoration: 'excludes' },
    { type: 'tag', value: 'v*', decoration: 'matches' },
  ]);
  const dest = new MemoryDestination();
  const route = routeTo(dest, s.local, p);
  const specs = await planTasks(route, p, new PolicySelector(p), 'manual');
  t.same(
    specs.map((x) => `${x.operation} ${x.src_repository}:${x.tag}`),
    ['copy library/app:v1'],
    'the excluded repository and the unmatched tag get no task',
  );
  for (const spec of specs) await performTask(route, p, mountHints(), spec, context());
  t.same([...dest.repos.keys()], ['library/app'], 'only the selected repository reached the destination');
  t.same(await planTasks(route, p, new PolicySelector(p), 'manual'), [], 'nothing differs any more');
});

t.test('the outbox follower turns selected events into tasks and skips excluded repositories', async (t) => {
  const s = await setUp(t);
  const p = policy([{ type: 'name', value: 'library/tmp-*', decoration: 'excludes' }], { trigger: { type: 'event_based', trigger_settings: { cron: '' } } });
  await s.push('library/app', image(), 'v1');
  await s.push('library/tmp-x', image(), 'v1');
  await s.meta.deleteTag('library/app', 'v1', s.version());
  const follower = new OutboxFollower(s.meta, s.records, s.registry);
  const delivered: string[] = [];
  await follower.follow({ policy: p, selector: new PolicySelector(p), destinationIdc: null }, async (specs) => {
    delivered.push(...specs.map((x) => `${x.operation} ${x.src_repository}:${x.tag}`));
  });
  t.same(delivered, ['deletion library/app:v1'], 'the newest change of a tag only; the excluded repository not at all');
  t.ok((await s.records.cursor(p.id))!.seq > 0, 'the cursor is saved past the events');
  const again: string[] = [];
  await follower.follow({ policy: p, selector: new PolicySelector(p), destinationIdc: null }, async (specs) => {
    again.push(...specs.map((x) => x.src_repository));
  });
  t.same(again, [], 'nothing is delivered twice');
});

t.test('the runner retries a transient failure with backoff, then records success; a permanent one fails at once', async (t) => {
  const s = await setUp(t);
  await s.push('library/app', image(), 'v1');
  const dest = new MemoryDestination();
  const p = policy();
  const route = routeTo(dest, s.local, p);
  const hints = mountHints();
  const runner = new TaskRunner({
    records: s.records,
    metrics: new ReplicationMetrics(new MetricsRegistry()),
    log: createLogger('silent'),
    config: { replication_idle_timeout_seconds: 60, replication_max_attempts: 3, replication_chunk_mb: 1 },
  });
  const failures: unknown[] = [];
  const job: Job = {
    policy: p.name,
    bandwidth: new Bandwidth(0),
    perform: (task, ctx) => performTask(route, p, hints, task, ctx),
    failed: (err) => failures.push(err),
  };
  const ex = await s.records.executions.insert(newExecution(p.id, 'manual', true));
  const tasks = s.records.tasks(ex.id);
  const pending = (spec: FlowTask) => pendingTask({ ...spec, event_at: null }, ex.id, p.id);
  let task = await tasks.insert(pending(copyTag('library/app', 'v1')));

  dest.failNext('uploadBlob', new OciClientError(503, 'UNAVAILABLE', 'the destination is busy'));
  const before = Date.now();
  const first = (await runner.attempt(task, job, new AbortController()))!;
  t.ok(first.retry, 'a 503 is retried');
  t.equal(first.task.status, 'Pending');
  t.equal(first.task.attempts, 1);
  t.match(first.task.error, /busy/);
  t.ok(first.task.next_attempt_at >= before + 800, 'the next attempt waits (about a second, with jitter)');
  t.same((await tasks.get(task.id))!.status, 'Pending', 'recorded as pending');
  t.equal(failures.length, 1, 'the failure is reported (endpoint health)');
  t.equal(dest.tagOf('library/app', 'v1'), undefined, 'nothing half-done is visible as the tag');

  task = first.task;
  const second = (await runner.attempt(task, job, new AbortController()))!;
  t.notOk(second.retry);
  t.equal(second.task.status, 'Succeed');
  t.equal(second.task.attempts, 2);
  t.ok(second.task.bytes > 0, 'bytes sent are recorded');
  const stored = (await tasks.get(task.id))!;
  t.equal(stored.status, 'Succeed', 'recorded as succeeded');
  t.ok(dest.tagOf('library/app', 'v1'), 'the tag arrived on the retry');

  await s.push('library/bad', image(), 'v1');
  const bad = await tasks.insert(pending(copyTag('library/bad', 'v1')));
  dest.failNext('putManifest', new OciClientError(400, 'MANIFEST_INVALID', 'refused'));
  const refused = (await runner.attempt(bad, job, new AbortController()))!;
  t.notOk(refused.retry, 'a refusal of the content is not retried');
  t.equal(refused.task.status, 'Failed');
  t.equal((await tasks.get(bad.id))!.status, 'Failed');
});
