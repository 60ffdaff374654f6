// The webhook delivery history stays bounded: finished jobs beyond the newest N per policy, or of a deleted
// policy, are pruned once old enough; pending, running and recent jobs never are. On a real SQLite MetaStore,
// through the records and through the active dispatcher's round.
import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../core/log.js';
import { GovernanceEvents } from '../../registry/governance-events.js';
import { WebhookDispatcher } from '../../registry/webhooks/dispatcher.js';
import type { JobStatus, WebhookJobRecord, WebhookRecords } from '../../registry/webhooks/records.js';
import { SqliteMetaStore } from '../../storage-adapters/meta/sqlite.js';

const log = createLogger('silent');
const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
const HOUR = 3600_000;

async function setup(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'berth-webhook-prune-'));
  const meta = await SqliteMetaStore.open({ path: join(dir, 'meta.db') });
  const dispatcher = new WebhookDispatcher(meta, new GovernanceEvents(log), log, { host: () => '127.0.0.1', jobsKept: 3, pruneEveryMs: 0, pruneMinAgeMs: HOUR });
  t.teardown(async () => {
    await dispatcher.stop();
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { records: dispatcher.records, dispatcher };
}

async function addPolicy(records: WebhookRecords, name: string): Promise<number> {
  const now = iso(0);
  const p = await records.policies.insert({ key: `1/${name}`, name, description: '', project_id: 1, project: 'p', targets: [], event_types: ['PUSH_ARTIFACT'], creator: 'admin', enabled: true, creation_time: now, update_time: now });
  return p.id;
}

let seq = 0;
async function addJob(records: WebhookRecords, policyId: number, status: JobStatus, endedMsAgo: number): Promise<WebhookJobRecord> {
  const t = iso(endedMsAgo);
  return records.jobs.insert({
    key: `job-${++seq}`,
    queue: `${policyId}/0`,
    policy_id: policyId,
    project_id: 1,
    event_type: 'PUSH_ARTIFACT',
    event_at: Date.now() - endedMsAgo,
    address: 'http://127.0.0.1:9/',
    status,
    status_message: '',
    attempts: 1,
    next_attempt_at: 0,
    payload: '{}',
    content_type: 'application/json',
    creation_time: t,
    update_time: t,
    ...(status !== 'Pending' && status !== 'Running' && { end_time: t }),
  });
}

const ids = async (records: WebhookRecords) => (await records.jobs.list({ order: 'asc', limit: 1000 })).items.map((j) => j.id);

t.test('finished jobs beyond the newest per policy go once old; the rest stay', async (t) => {
  const { records } = await setup(t);
  const a = await addPolicy(records, 'a');
  const old: number[] = [];
  for (let i = 0; i < 6; i++) old.push((await addJob(records, a, i % 2 ? 'Error' : 'Success', 3 * HOUR)).id);
  const pending = (await addJob(records, a, 'Pending', 3 * HOUR)).id;
  const b = await addPolicy(records, 'b');
  const bJobs = [(await addJob(records, b, 'Success', 3 * HOUR)).id, (await addJob(records, b, 'Success', 3 * HOUR)).id];
  const gone = await addPolicy(records, 'gone');
  const orphanOld = (await addJob(records, gone, 'Success', 3 * HOUR)).id;
  const orphanRecent = (await addJob(records, gone, 'Success', 60_000)).id;
  await records.policies.delete(gone);

  const deleted = await records.pruneJobs(3, iso(HOUR));
  // a: 7 jobs, newest first: pending, old[5], old[4] are the 3 newest; old[3..0] are beyond them and old.
  t.equal(deleted, 5, 'four of a beyond its newest three, and the old job of the deleted policy');
  t.same(await ids(records), [old[4], old[5], pending, ...bJobs, orphanRecent], 'the newest of a, b (under the limit) and the recent orphan stay');
  t.equal(await records.pruneJobs(3, iso(HOUR)), 0, 'a second prune finds nothing');
});

t.test('recent finished jobs stay even beyond the limit; pending ones always', async (t) => {
  const { records } = await setup(t);
  const a = await addPolicy(records, 'a');
  const jobs = [];
  for (let i = 0; i < 5; i++) jobs.push((await addJob(records, a, 'Success', 60_000)).id);
  for (let i = 0; i < 5; i++) jobs.unshift((await addJob(records, a, 'Pending', 3 * HOUR)).id);
  t.equal(await records.pruneJobs(1, iso(HOUR)), 0);
  t.equal((await ids(records)).length, 10);
});

t.test("the active dispatcher's round prunes", async (t) => {
  const { records, dispatcher } = await setup(t);
  const a = await addPolicy(records, 'a');
  for (let i = 0; i < 8; i++) await addJob(records, a, 'Success', 2 * HOUR);
  await dispatcher.tick();
  t.equal((await ids(records)).length, 3, 'a round keeps the newest three');
});
