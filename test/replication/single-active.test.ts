// Harbor's single_active_replication (controller/replication/execution.go Start): a manual or scheduled start
// while a run of the policy is in progress is recorded as skipped and ended at once; without the flag it runs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startExecution } from '../../replicator/executions.js';
import { newExecution, nowIso, ReplicationRecords, type PolicyRecord } from '../../replicator/records.js';
import { SqliteMetaStore } from '../../storage-adapters/meta/sqlite.js';

const dir = await mkdtemp(join(tmpdir(), 'berth-single-'));
const meta = await SqliteMetaStore.open({ path: join(dir, 'meta.db') });
t.teardown(async () => {
  await meta.close();
  await rm(dir, { recursive: true, force: true });
});
const records = new ReplicationRecords(meta);

async function policy(name: string, single: boolean): Promise<PolicyRecord> {
  return records.policies.insert({
    name, description: '', src_registry_id: null, dest_registry_id: 1, dest_namespace: '', dest_namespace_replace_count: -1, filters: [],
    trigger: { type: 'manual', trigger_settings: { cron: '' } }, replicate_deletion: false, override: true, speed: -1, concurrency: 0, enabled: true,
    single_active_replication: single, creation_time: nowIso(), update_time: nowIso(),
  });
}

t.test('a start while a run is in progress is skipped with single_active_replication', async (t) => {
  const p = await policy('single', true);
  const first = await startExecution(records, p, 'manual');
  t.equal(first.status, 'InProgress', 'nothing runs: the first start runs');
  const second = await startExecution(records, p, 'scheduled');
  t.same({ status: second.status, text: second.status_text, ended: second.end_time !== null, planned: second.planned }, { status: 'Failed', text: 'Execution skipped: active replication still in progress.', ended: true, planned: true });
  await records.executions.update({ ...first, status: 'Succeed', end_time: nowIso() });
  t.equal((await startExecution(records, p, 'manual')).status, 'InProgress', 'once it ended, the next one runs');
});

t.test('without the flag a second start runs beside the first', async (t) => {
  const p = await policy('many', false);
  await records.executions.insert(newExecution(p.id, 'manual', false));
  t.equal((await startExecution(records, p, 'manual')).status, 'InProgress');
});
