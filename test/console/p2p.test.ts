import t from 'tap';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, startBerth } from '../helpers/berth-process.js';
import { openBrowser, profileProcesses } from '../helpers/browser.js';
import { waitFor } from '../helpers/idc.js';
import { MiB, fetchDigest, pushImage, startAgentProcess } from '../p2p/swarm-fixtures.js';

// The console's P2P swarm picture against a real origin and two real agents in two IDCs that each fetched a
// layer: both nodes appear, complete, each in its IDC. The origin runs with auth none, so the console opens
// without a login (there is no account behind the caller) — that mode is covered here too.

t.test('the swarm picture shows which nodes hold a layer, per IDC', async (t) => {
  const origin = await startBerth({ env: { BERTH_IDC: 'east' } });
  const img = await pushImage(origin.url, 'library/app', 'v1', 3 * MiB);
  const east = await startAgentProcess({ origin: origin.url, env: { BERTH_IDC: 'east' } });
  const west = await startAgentProcess({ origin: origin.url, env: { BERTH_IDC: 'west' } });
  const browser = await openBrowser(origin.url);
  t.teardown(async () => {
    await browser.close();
    await Promise.all([east.stop(), west.stop()]);
    await origin.stop();
  });
  for (const agent of [east, west]) {
    t.same(await fetchDigest(`${agent.url}/v2/library/app/blobs/${img.layer.digest}`), { status: 200, digest: img.layer.digest, bytes: img.layer.size }, 'the agent serves the layer');
  }

  const api = `${origin.url}/api/v2.0/berth/p2p/swarms/${img.layer.digest}`;
  const view = await waitFor(async () => {
    const v = (await (await fetch(api)).json()) as { idcs: { idc: string; complete: number }[] };
    const done = (idc: string) => v.idcs.find((i) => i.idc === idc)?.complete === 1;
    return done('east') && done('west') && v;
  }, 30_000, 200);
  t.same(view.idcs.map((i) => i.idc), ['east', 'west'], 'the API groups the holders by IDC');
  t.ok((view as unknown as { idcs: { peers: { origin: boolean }[] }[] }).idcs[0]!.peers.some((p) => p.origin), "the origin's seed is listed in its IDC, apart from the nodes");
  t.equal((await fetch(`${origin.url}/api/v2.0/berth/p2p/swarms/sha256:${'0'.repeat(64)}`)).status, 404, 'a blob not stored has no swarm');
  t.equal((await fetch(`${origin.url}/api/v2.0/berth/p2p/swarms/nonsense`)).status, 400, 'a malformed digest is refused');

  const { page } = browser;
  try {
    await page.goto(`${origin.url}/projects`);
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    t.pass('with auth none the console opens without a login');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'P2P' }).click();
    await page.getByLabel('Blob digest').fill(img.layer.digest);
    await page.getByRole('button', { name: 'Show' }).click();
    const svg = page.locator('svg[data-testid="swarm"]');
    await svg.locator('g.idc[data-idc="east"][data-complete="1"]').waitFor();
    await svg.locator('g.idc[data-idc="west"][data-complete="1"]').waitFor();
    t.equal(await svg.locator('g.peer.complete:not(.origin)').count(), 2, 'two complete nodes on the picture');
    t.equal(await svg.locator('g.idc[data-idc="east"] g.peer.origin').count(), 1, "and the origin's seed, in its IDC");
    t.match(await page.getByRole('status').textContent(), /2 nodes hold it in 2 IDC\(s\)/, 'and said in words');
    t.match(page.url(), /\/p2p\?digest=sha256%3A[0-9a-f]{64}$/, 'the picture has a URL of its own');
    t.equal(await page.getByRole('button', { name: 'Log out' }).count(), 0, 'and offers no logout');
    const shot = await browser.screenshot('swarm');
    if (process.env.BERTH_CONSOLE_DOCS === '1') await copyFile(shot, join(repoRoot, 'docs', 'images', 'console-swarm.png'));
  } catch (e) {
    t.comment(`failed; screenshot: ${await browser.screenshot('failed-swarm').catch(() => 'none')}`);
    throw e;
  }
  const profile = browser.profile;
  await browser.close();
  t.same(await profileProcesses(profile), [], 'no Chromium process of this run is left');
});
