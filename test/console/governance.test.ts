import t from 'tap';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { repoRoot, startBerth, watchSecret } from '../helpers/berth-process.js';
import { openBrowser, profileProcesses } from '../helpers/browser.js';
import { api, waitFor } from '../helpers/idc.js';
import { image } from '../helpers/oci-fixtures.js';
import { skopeoPush } from '../helpers/tls-registry.js';

// The console's governance pages in real headless Chromium against a real `berth serve`: a system admin sets a
// project's quota and sees the usage after a skopeo push, adds an immutable tag rule and sees the tag marked,
// writes a retention policy and reads a dry run's task log, adds a webhook to a receiver on 127.0.0.1 and sees
// the delivery of a push, adds a preheat policy, and runs GC by hand until it succeeds. Every result is checked on
// the server as well. BERTH_CONSOLE_DOCS=1 also refreshes the screenshots in docs/images.

const PASSWORD = 'Governance-Admin-1';
const admin = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
const MiB = 2 ** 20;

/** A webhook receiver on 127.0.0.1 that records every POST. */
async function receiver(): Promise<{ url: string; got: { headers: IncomingMessage['headers']; body: any }[]; close: () => Promise<void> }> {
  const got: { headers: IncomingMessage['headers']; body: any }[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: JSON.parse(data) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

t.test('a system admin governs a project and the registry in the console', async (t) => {
  watchSecret(PASSWORD);
  const berth = await startBerth({ env: { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: PASSWORD, BERTH_GC_GRACE_SECONDS: '0' } });
  const hook = await receiver();
  const browser = await openBrowser(berth.url);
  t.teardown(async () => {
    await browser.close();
    await hook.close();
    await berth.stop();
  });
  const { page } = browser;
  const registry = { plainUrl: berth.url, password: PASSWORD };
  const step = async (name: string, f: () => Promise<void>) => {
    try {
      await f();
    } catch (e) {
      const shot = await browser.screenshot(`failed-governance-${name.replace(/\W+/g, '-')}`).catch(() => 'none');
      t.comment(`step "${name}" failed; screenshot: ${shot}`);
      throw e;
    }
  };
  /** A picture for the README (BERTH_CONSOLE_DOCS=1). */
  const keep = async (name: string) => {
    if (process.env.BERTH_CONSOLE_DOCS !== '1') return;
    await mkdir(join(repoRoot, 'docs', 'images'), { recursive: true });
    await copyFile(await browser.screenshot(name), join(repoRoot, 'docs', 'images', `console-${name}.png`));
  };
  const tab = (label: string) => page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name: label }).click();
  t.equal((await api(berth.url, 'POST', '/projects', { project_name: 'gov', metadata: { public: 'false' } }, admin)).status, 201);
  const projectId = (await api(berth.url, 'GET', '/projects/gov', undefined, admin)).body.project_id as number;

  await step('log in', async () => {
    await page.goto(`${berth.url}/projects/gov`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'gov' }).waitFor();
  });

  const v1 = image({ layers: 2, layerSize: 50_000 });
  await step('set a quota and see the usage after a push', async () => {
    await page.getByText('0 B used of unlimited').waitFor();
    const form = page.getByRole('form', { name: 'Storage limit' });
    await form.getByLabel('Storage limit').fill('10');
    await form.getByLabel('Unit').selectOption('MiB');
    await form.getByRole('button', { name: 'Set limit' }).click();
    await page.getByText('0 B used of 10 MiB (0 %)').waitFor();
    const quotas = await api(berth.url, 'GET', `/quotas?reference=project&reference_id=${projectId}`, undefined, admin);
    t.equal(quotas.body[0].hard.storage, 10 * MiB, 'the server holds the limit');
    await skopeoPush(registry, v1, 'gov/app', 'v1');
    await page.reload();
    const used = (await api(berth.url, 'GET', '/projects/gov/summary', undefined, admin)).body.quota.used.storage as number;
    t.ok(used >= 100_000, `the push counts against the quota (${used} bytes)`);
    const meter = page.getByRole('meter', { name: 'Storage' });
    await waitFor(async () => Number(await meter.getAttribute('value')) === used, 10_000, 100);
    t.equal(Number(await meter.getAttribute('max')), 10 * MiB, 'the bar runs up to the limit');
    t.match(await page.getByTestId('quota-usage').textContent(), /^\d+ KiB used of 10 MiB \(1 %\)$/, 'and the usage is spelled out');
  });

  await step('add an immutable tag rule and see the tag marked', async () => {
    await tab('Tag immutability');
    await page.getByText('No immutable tag rules').waitFor();
    const form = page.getByRole('form', { name: 'Add immutable tag rule' });
    await form.getByLabel('Repository pattern').fill('app');
    await form.getByLabel('Tag pattern').fill('v1');
    await form.getByRole('button', { name: 'Add rule' }).click();
    await page.getByRole('cell', { name: 'matching v1', exact: true }).waitFor();
    const rules = (await api(berth.url, 'GET', '/projects/gov/immutabletagrules', undefined, admin)).body;
    t.match(rules, [{ disabled: false, tag_selectors: [{ decoration: 'matches', pattern: 'v1' }], scope_selectors: { repository: [{ decoration: 'repoMatches', pattern: 'app' }] } }], 'the rule is on the server');
    await page.getByRole('button', { name: 'Disable rule matching app / matching v1' }).click();
    await page.getByRole('cell', { name: 'Disabled', exact: true }).waitFor();
    t.equal((await api(berth.url, 'GET', '/projects/gov/immutabletagrules', undefined, admin)).body[0].disabled, true, 'disabling reaches the server');
    await page.getByRole('button', { name: 'Enable rule matching app / matching v1' }).click();
    await page.getByRole('cell', { name: 'Enabled', exact: true }).waitFor();
    await tab('Repositories');
    await page.getByRole('link', { name: 'gov/app', exact: true }).click();
    await page.locator('.tag.immutable', { hasText: 'v1' }).waitFor();
    t.equal(await page.locator('.tag.immutable').textContent(), 'v1 (immutable)', 'v1 is marked immutable');
    const remove = await fetch(`${berth.url}/v2/gov/app/manifests/${v1.manifest.digest}`, { method: 'DELETE', headers: { Authorization: admin } });
    t.equal(remove.status, 403, 'and the server refuses to delete it');
  });

  const v2 = image({ layers: 1, layerSize: 2000 });
  await skopeoPush(registry, v2, 'gov/app', 'v2');
  await step('write a retention policy, dry-run it and read the task log', async () => {
    await page.getByRole('link', { name: 'gov', exact: true }).click();
    await tab('Tag retention');
    const form = page.getByRole('form', { name: 'Add retention rule' });
    await form.getByLabel('Retain').selectOption({ label: 'the most recently pushed # artifacts' });
    await form.getByLabel('Count').fill('1');
    await form.getByLabel('Repository pattern').fill('**');
    await form.getByRole('button', { name: 'Add rule' }).click();
    await page.getByRole('cell', { name: 'the most recently pushed 1 artifacts', exact: true }).waitFor();
    const project = (await api(berth.url, 'GET', '/projects/gov', undefined, admin)).body;
    const policy = (await api(berth.url, 'GET', `/retentions/${project.metadata.retention_id}`, undefined, admin)).body;
    t.match(policy, { scope: { level: 'project', ref: projectId }, rules: [{ template: 'latestPushedK', params: { latestPushedK: 1 } }] }, 'the project names its new policy');
    const schedule = page.getByRole('form', { name: 'Retention schedule' });
    await schedule.getByLabel('Schedule (cron, empty for none)').fill('not a cron');
    await schedule.getByRole('button', { name: 'Save schedule' }).click();
    await page.getByRole('alert').filter({ hasText: 'invalid request body: trigger.settings.cron not a cron' }).waitFor();
    t.pass("a bad cron is refused with the server's message");
    await page.getByRole('button', { name: 'Dry run' }).click();
    const executions = page.getByRole('table', { name: 'Retention executions' });
    await executions.getByRole('row').filter({ hasText: 'dry run' }).getByText('Success').waitFor({ timeout: 30_000 });
    await executions.getByRole('button', { name: /^Tasks of execution \d+$/ }).first().click();
    // v1 is covered by the immutable rule enabled above: the dry run already says a real run keeps it.
    await page.getByRole('table', { name: /^Tasks of execution #\d+$/ }).getByRole('cell', { name: '2 of 2' }).waitFor();
    await page.getByRole('button', { name: /^Log of .*app$/ }).click();
    const log = (await page.locator('pre.log').textContent()) ?? '';
    t.match(log, /^dry run: .*app: 2 artifacts, 1 retained, 0 would be deleted, 1 kept/, 'the log says what a run would do');
    t.match(log, new RegExp(`retained ${v2.manifest.digest} tags=\\[v2\\]`), 'v2, the newest, is retained');
    t.match(log, new RegExp(`kept ${v1.manifest.digest} tags=\\[v1\\].*immutable`), 'v1 would stay for its immutable tag');
    t.equal((await api(berth.url, 'GET', '/projects/gov/repositories/app/artifacts/v1', undefined, admin)).status, 200, 'a dry run deletes nothing');
    await keep('retention');

    // A rule edited in place (the form comes back filled with it), then disabled.
    await page.getByRole('button', { name: 'Edit rule the most recently pushed 1 artifacts' }).click();
    const edit = page.getByRole('form', { name: 'Edit retention rule the most recently pushed 1 artifacts' });
    t.equal(await edit.getByLabel('Count').inputValue(), '1', 'the edit form starts from the rule');
    t.equal(await edit.getByLabel('Repository pattern').inputValue(), '**', 'with its repository pattern');
    await edit.getByLabel('Count').fill('2');
    await edit.getByLabel('Tag pattern').fill('v*');
    await edit.getByRole('button', { name: 'Save rule' }).click();
    await page.getByRole('cell', { name: 'the most recently pushed 2 artifacts', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Disable rule the most recently pushed 2 artifacts' }).click();
    await page.getByRole('row').filter({ hasText: 'the most recently pushed 2 artifacts' }).getByRole('cell', { name: 'Disabled' }).waitFor();
    const rules = (await api(berth.url, 'GET', `/retentions/${project.metadata.retention_id}`, undefined, admin)).body.rules;
    t.match(rules, [{ template: 'latestPushedK', params: { latestPushedK: 2 }, disabled: true, tag_selectors: [{ decoration: 'matches', pattern: 'v*' }] }], 'the server has the one edited, disabled rule');
    t.equal(rules.length, 1, 'edited, not added');
  });

  await step('add a webhook and see the delivery of a push', async () => {
    await tab('Webhooks');
    const form = page.getByRole('form', { name: 'Add webhook' });
    await form.getByLabel('Name').fill('ci-hook');
    await form.getByLabel('Endpoint URL').fill(hook.url);
    await form.getByLabel('Auth header').fill('Bearer hook-t0ken');
    t.ok(await form.getByLabel('push artifact').isChecked(), 'pushes are picked by default');
    await form.getByLabel('pull artifact').check();
    await form.getByRole('button', { name: 'Add webhook' }).click();
    await page.getByRole('cell', { name: 'ci-hook', exact: true }).waitFor();
    const policies = (await api(berth.url, 'GET', '/projects/gov/webhook/policies', undefined, admin)).body;
    t.match(policies, [{ name: 'ci-hook', enabled: true, event_types: ['PUSH_ARTIFACT', 'PULL_ARTIFACT'], targets: [{ address: hook.url, auth_header: '*****', payload_format: 'Default' }] }], 'the policy is on the server');
    await skopeoPush(registry, image({ layers: 1, layerSize: 1000 }), 'gov/app', 'v3');
    await waitFor(async () => hook.got.some((g) => g.body.type === 'PUSH_ARTIFACT'), 20_000, 100);
    const push = hook.got.find((g) => g.body.type === 'PUSH_ARTIFACT')!;
    t.equal(push.headers.authorization, 'Bearer hook-t0ken', 'the receiver got the push with the auth header');
    t.equal(push.body.event_data.resources[0].tag, 'v3');
    await page.getByRole('button', { name: 'Deliveries of ci-hook' }).click();
    const deliveries = page.getByRole('table', { name: 'Deliveries of ci-hook' });
    await deliveries.getByRole('row').filter({ hasText: 'PUSH_ARTIFACT' }).getByText('Success').waitFor();
    await deliveries.getByRole('button', { name: /^Log of delivery \d+$/ }).first().click();
    t.match(await deliveries.locator('pre.log').first().textContent(), new RegExp(`PUSH_ARTIFACT to ${hook.url}: Success after 1 attempt`), 'the delivery log');
    await keep('webhooks');
    await page.reload();
    const lastCell = page.getByRole('row').filter({ hasText: 'ci-hook' }).getByRole('cell').nth(4);
    // The last triggers load after the policies: wait for them rather than read the placeholder.
    const shown = await waitFor(async () => ((await lastCell.textContent()) !== '—' ? await lastCell.textContent() : undefined), 10_000, 100);
    t.match(shown, /\d/, `the last trigger time is shown (${shown})`);
    await page.getByRole('button', { name: 'Disable ci-hook' }).click();
    await page.getByRole('cell', { name: 'Disabled', exact: true }).waitFor();
    t.equal((await api(berth.url, 'GET', '/projects/gov/webhook/policies', undefined, admin)).body[0].enabled, false, 'disabling reaches the server');

    // Edited in place: other events; the auth header left empty keeps the stored one (the page only sees it masked).
    await page.getByRole('button', { name: 'Edit ci-hook' }).click();
    const edit = page.getByRole('form', { name: 'Edit webhook ci-hook' });
    t.equal(await edit.getByLabel('Endpoint URL').inputValue(), hook.url, 'the edit form starts from the webhook');
    t.ok(await edit.getByLabel('pull artifact').isChecked(), 'with its events');
    await edit.getByLabel('pull artifact').uncheck();
    await edit.getByLabel('delete artifact').check();
    await edit.getByRole('button', { name: 'Save webhook' }).click();
    await page.getByRole('cell', { name: 'push artifact, delete artifact' }).waitFor();
    const edited = (await api(berth.url, 'GET', '/projects/gov/webhook/policies', undefined, admin)).body[0];
    t.same([edited.event_types, edited.enabled, edited.targets[0].address], [['PUSH_ARTIFACT', 'DELETE_ARTIFACT'], false, hook.url], 'the server has the edited webhook, still disabled');
    await page.getByRole('button', { name: 'Enable ci-hook' }).click();
    await page.getByRole('cell', { name: 'Enabled', exact: true }).waitFor();
    await skopeoPush(registry, image({ layers: 1, layerSize: 1001 }), 'gov/app', 'v4');
    const v4 = await waitFor(async () => hook.got.find((g) => g.body.type === 'PUSH_ARTIFACT' && g.body.event_data.resources[0].tag === 'v4'), 20_000, 100);
    t.equal(v4.headers.authorization, 'Bearer hook-t0ken', 'after the edit the receiver still gets the stored auth header');
  });

  await step('add a preheat policy', async () => {
    await tab('P2P preheat');
    await page.getByText('No preheat policies.').waitFor();
    const form = page.getByRole('form', { name: 'Add preheat policy' });
    await form.getByLabel('Name').fill('warm-app');
    await form.getByLabel('Repository pattern').fill('app');
    await form.getByLabel('Tag pattern').fill('v*');
    await form.getByLabel('Trigger').selectOption({ label: 'On push' });
    await form.getByRole('button', { name: 'Add policy' }).click();
    const row = page.getByRole('row').filter({ hasText: 'warm-app' });
    await row.getByRole('cell', { name: 'On push', exact: true }).waitFor();
    const policy = (await api(berth.url, 'GET', '/projects/gov/preheat/policies', undefined, admin)).body[0];
    t.match(policy, { name: 'warm-app', enabled: true, provider_name: 'berth' }, 'the policy is on the server, on the built-in provider');
    t.same(JSON.parse(policy.filters), [{ type: 'repository', value: 'app' }, { type: 'tag', value: 'v*' }], 'with its filters');
    t.same(JSON.parse(policy.trigger), { type: 'event_based' }, 'and its trigger');
    await page.getByRole('button', { name: 'Disable warm-app' }).click();
    await row.getByRole('cell', { name: 'Disabled', exact: true }).waitFor();
    t.ok(await page.getByRole('button', { name: 'Preheat now: warm-app' }).isDisabled(), 'a disabled policy cannot be run');
    t.equal((await api(berth.url, 'GET', '/projects/gov/preheat/policies', undefined, admin)).body[0].enabled, false, 'disabling reaches the server');
  });

  // v3 deleted: its manifest and layer are garbage for the run below.
  t.equal((await api(berth.url, 'DELETE', '/projects/gov/repositories/app/artifacts/v3', undefined, admin)).status, 200, 'v3 deleted');
  await step('run GC by hand until it succeeds', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clean-up' }).click();
    const gc = page.getByRole('region', { name: 'Garbage collection' });
    await gc.getByText('No runs yet.').waitFor();
    await gc.getByRole('button', { name: 'Dry run' }).click();
    await gc.getByRole('table').getByText('Success').waitFor({ timeout: 30_000 });
    await gc.getByRole('button', { name: 'Run garbage collection now' }).click();
    await waitFor(async () => (await gc.getByRole('table').getByText('Success').count()) === 2, 30_000, 200);
    const runs = (await api(berth.url, 'GET', '/system/gc', undefined, admin)).body;
    t.match(runs, [{ job_kind: 'MANUAL', job_status: 'Success' }, { job_kind: 'MANUAL', job_status: 'Success' }], 'both runs succeeded on the server');
    t.equal(JSON.parse(runs[1].job_parameters).dry_run, true, 'the first was a dry run');
    const freed = JSON.parse(runs[0].job_parameters).freed_space as number;
    t.ok(freed >= 1000, `the real run freed v3's bytes (${freed})`);
    t.match(await gc.getByRole('row').filter({ hasText: `#${runs[0].id}` }).textContent(), `freed space: ${freed}`, 'as the history shows');
    await gc.getByRole('button', { name: `Log of garbage collection run ${runs[0].id}` }).click();
    t.ok(((await gc.locator('pre.log').textContent()) ?? '').length > 0, 'the run has a log');
    await keep('gc');
    t.ok(await page.getByRole('region', { name: 'Audit log purge' }).getByRole('button', { name: 'Run audit log purge now' }).isVisible(), 'the audit-log purge is on the same page');
  });

  await step('readable on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ['/projects/gov/retention', '/projects/gov/webhooks', '/system']) {
      await page.goto(`${berth.url}${path}`);
      await page.getByRole('button', { name: /^(Dry run|Add webhook)$/ }).first().waitFor();
      const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
      if (overflow > 1) t.comment(await page.evaluate(`[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 1).slice(0, 8).map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().width)).join(' | ')`));
      t.ok(overflow <= 1, `no sideways scrolling of ${path} at 390 px (overflow ${overflow} px)`);
    }
  });

  const profile = browser.profile;
  await browser.close();
  t.same(await profileProcesses(profile), [], 'no Chromium process of this run is left');
});
