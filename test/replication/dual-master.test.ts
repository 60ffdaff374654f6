import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { LinkProxy, addPolicy, addRegistry, api, digestOfTag, outboxLength, pushImage, startIdc, tagMap, waitFor } from '../helpers/idc.js';

t.test('dual-master: both sides write, concurrent writes of one tag converge, the conflict is recorded, nothing loops', async (t) => {
  const a = await startIdc('a');
  const b = await startIdc('b');
  const toB = await new LinkProxy(b.port).listen();
  const toA = await new LinkProxy(a.port).listen();
  t.teardown(async () => {
    await Promise.all([toA.close(), toB.close()]);
    await Promise.all([a.stop(), b.stop()]);
  });
  await addPolicy(a.url, { name: 'a-to-b', dest: await addRegistry(a.url, 'b', toB.url) });
  await addPolicy(b.url, { name: 'b-to-a', dest: await addRegistry(b.url, 'a', toA.url) });

  // Ordinary writes flow both ways, and a sequential overwrite from the other side is no conflict.
  const one = await pushImage(a.url, 'dm/app', 'one');
  await waitFor(async () => (await digestOfTag(b.url, 'dm/app', 'one')) === one.digest);
  const two = await pushImage(b.url, 'dm/app', 'two');
  await waitFor(async () => (await digestOfTag(a.url, 'dm/app', 'two')) === two.digest);
  const oneAgain = await pushImage(b.url, 'dm/app', 'one');
  await waitFor(async () => (await digestOfTag(a.url, 'dm/app', 'one')) === oneAgain.digest);
  t.pass('writes on either master reach the other');

  // The same tag written on both sides while they cannot talk.
  toA.partition();
  toB.partition();
  const [onA, onB] = await Promise.all([pushImage(a.url, 'dm/app', 'same'), pushImage(b.url, 'dm/app', 'same')]);
  await sleep(300);
  toA.heal();
  toB.heal();
  const converged = await waitFor(async () => {
    const [da, db] = await Promise.all([digestOfTag(a.url, 'dm/app', 'same'), digestOfTag(b.url, 'dm/app', 'same')]);
    return da !== undefined && da === db && da;
  }, 30_000);
  t.ok(converged === onA.digest || converged === onB.digest, 'one of the two writes won on both sides');

  // The side that overrode (or refused) the other's value records it; the other side may never see the losing
  // value at all (its sender already holds the winner by then), so at least one record, never two per side.
  const conflicts = async () => [
    ((await api(a.url, 'GET', '/berth/replication/conflicts')).body as any[]).filter((c) => c.tag === 'same'),
    ((await api(b.url, 'GET', '/berth/replication/conflicts')).body as any[]).filter((c) => c.tag === 'same'),
  ];
  await waitFor(async () => (await conflicts()).flat().length > 0);
  await sleep(500);
  const [conflictsA, conflictsB] = await conflicts();
  t.ok(conflictsA!.length + conflictsB!.length >= 1, 'the concurrent write is recorded as a conflict');
  t.ok(conflictsA!.length <= 1 && conflictsB!.length <= 1, 'once per side');
  const all = [...conflictsA!, ...conflictsB!];
  const loser = converged === onA.digest ? onB.digest : onA.digest;
  for (const c of all.filter((x) => x.tag === 'same')) {
    t.same(new Set([c.local.digest, c.incoming.digest]), new Set([onA.digest, onB.digest]), 'both values are in the record');
    t.equal(c.winner === 'incoming' ? c.incoming.digest : c.local.digest, converged, 'the winner is the converged value');
    t.not(c.winner === 'incoming' ? c.incoming.digest : c.local.digest, loser);
  }
  const every = [...((await api(a.url, 'GET', '/berth/replication/conflicts')).body as any[]), ...((await api(b.url, 'GET', '/berth/replication/conflicts')).body as any[])];
  t.notOk(every.some((c) => c.tag === 'one' || c.tag === 'two'), 'sequential writes are no conflict');

  // No loop: once converged, neither outbox grows (anti-entropy runs every 3 s here).
  await sleep(1000);
  const before = [await outboxLength(a.dataDir), await outboxLength(b.dataDir)];
  await sleep(4000);
  t.same([await outboxLength(a.dataDir), await outboxLength(b.dataDir)], before, 'the outboxes stopped growing');
  t.same([...(await tagMap(a.url, ['dm/app']))], [...(await tagMap(b.url, ['dm/app']))], 'identical tag maps');
});
