import t from 'tap';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OciClient } from '../../core/oci-client.js';
import { repoRoot, watchSecret } from '../helpers/berth-process.js';
import { openBrowser, profileProcesses } from '../helpers/browser.js';
import { consoleWalk } from '../helpers/console-walk.js';
import { addPolicy, addRegistry, api, startExecution, startIdc, waitExecution, waitFor } from '../helpers/idc.js';
import { artifact, blobOf, image, multiArch } from '../helpers/oci-fixtures.js';
import type { Locator } from 'playwright-core';
import { skopeoPush } from '../helpers/tls-registry.js';

// The web console in real headless Chromium against two real `berth serve` processes (IDCs a and b), as a new
// admin would use it: log in, create a user and a project, add a member, create a robot and copy its secret,
// browse an image pushed with skopeo, add b as a registry, replicate to it until it succeeds, and see the
// result on the topology picture. BERTH_CONSOLE_DOCS=1 also refreshes the screenshots in docs/images.

const PASSWORD = 'Console-Admin-1';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const admin = basic('admin', PASSWORD);
const docs = process.env.BERTH_CONSOLE_DOCS === '1';

t.test('an admin sets up a project, a robot and replication to a second IDC in the console', async (t) => {
  watchSecret(PASSWORD);
  const env = { BERTH_AUTH: 'token', BERTH_ADMIN_PASSWORD: PASSWORD };
  // c: a sub-IDC b replicates to, which a's topology learns of from b.
  const [a, b, c] = await Promise.all([startIdc('idc-a', { env }), startIdc('idc-b', { env }), startIdc('idc-c', { env })]);
  const browser = await openBrowser(a.url);
  t.teardown(async () => {
    await browser.close();
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  });
  const { page, context } = browser;
  const host = new URL(a.url).host;
  // Page-side expressions are strings: the tests are type-checked without the DOM library.
  const clipboard = () => page.evaluate('navigator.clipboard.readText()') as Promise<string>;
  const keep = async (name: string, mask?: Locator[]) => {
    const path = await browser.screenshot(name, mask);
    if (docs) {
      await mkdir(join(repoRoot, 'docs', 'images'), { recursive: true });
      await copyFile(path, join(repoRoot, 'docs', 'images', `console-${name}.png`));
    }
  };
  /** Runs one step of the walk; on failure a screenshot of the page, its path printed, then the failure. */
  const step = async (name: string, f: () => Promise<void>) => {
    try {
      await f();
    } catch (e) {
      const shot = await browser.screenshot(`failed-${name.replace(/\W+/g, '-')}`).catch(() => 'none');
      t.comment(`step "${name}" failed; screenshot: ${shot}`);
      throw e;
    }
  };
  const walk = consoleWalk(page);
  const { nav } = walk;

  await step('log in with the keyboard', async () => {
    await page.goto(`${a.url}/`);
    await page.getByRole('heading', { name: 'Berth' }).waitFor();
    t.equal(await page.evaluate('document.activeElement?.getAttribute("name")'), 'principal', 'the username field has the focus');
    await page.keyboard.type('admin');
    await page.keyboard.press('Tab');
    await page.keyboard.type('wrong-password');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'invalid username or password' }).waitFor();
    t.pass('a wrong password is shown as an alert');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    const sid = (await context.cookies(a.url)).find((c) => c.name === 'sid');
    t.ok(sid?.httpOnly, 'the session cookie is HttpOnly');
    t.equal(sid?.sameSite, 'Strict', 'and SameSite=Strict');
    t.same(await page.evaluate('[document.cookie, localStorage.length, sessionStorage.length]'), ['', 0, 0], 'the page holds no credential a script could read');
  });

  await step('create a user', async () => {
    await walk.createUser('alice', 'alice@example.com', 'Alice-Pass-1');
  });

  await step('create a project', async () => {
    await walk.createProject('team');
    const p = await api(a.url, 'GET', '/projects/team', undefined, admin);
    t.equal(p.status, 200, 'the project exists on the server');
    t.equal(p.body.metadata.public, 'false', 'private, as the form left it');
    await page.getByLabel('Search projects').fill('zzz');
    await page.getByText('No projects matching “zzz”.').waitFor();
    await page.getByLabel('Search projects').fill('tea');
    await page.getByRole('link', { name: 'team', exact: true }).waitFor();
    t.pass('the search narrows the list');
    await keep('projects');
  });

  const pushed = image({ layers: 2, layerSize: 4096 });
  const registryA = { plainUrl: a.url, password: PASSWORD };
  await skopeoPush(registryA, pushed, 'team/app', 'v1');
  // An SBOM referring to it (image-spec 1.1 subject), and a two-platform index.
  const sbom = artifact({ artifactType: 'application/vnd.goharbor.harbor.sbom.v1', subject: pushed.manifest, blobs: [blobOf('{"spdxVersion":"SPDX-2.3"}', 'application/spdx+json')] });
  await skopeoPush(registryA, sbom, 'team/app', 'sbom');
  const index = multiArch();
  await skopeoPush(registryA, index, 'team/multi', 'v1');

  await step('add a member', async () => {
    await page.getByRole('link', { name: 'team', exact: true }).click();
    await walk.addMember('alice', 'Developer');
    const members = await api(a.url, 'GET', '/projects/team/members', undefined, admin);
    t.ok(members.body.some((m: { entity_name: string; role_id: number }) => m.entity_name === 'alice' && m.role_id === 2), 'alice has the developer role on the server');
  });

  let robotName = '';
  await step('create a robot and copy its secret', async () => {
    robotName = await walk.createRobot('team', 'ci', 'pipeline');
    t.equal(robotName, 'robot$team+ci');
    // The kept picture must not carry a working-looking secret.
    await keep('robot-secret', [page.locator('.secret code').nth(1)]);
    const secret = await walk.copyRobotSecret();
    watchSecret(secret);
    t.match(secret, /^\S{16,}$/, 'the clipboard holds the secret');
    const asRobot = await fetch(`${a.url}/api/v2.0/projects/team/repositories`, { headers: { Authorization: basic(robotName, secret) } });
    t.equal(asRobot.status, 200, 'the copied secret authenticates the robot');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.reload();
    await page.getByRole('cell', { name: robotName, exact: true }).waitFor();
    t.notOk((await page.content()).includes(secret), 'the secret is not shown again');
  });

  await step('browse the pushed image', async () => {
    await walk.projectNav('Repositories');
    await page.getByRole('link', { name: 'team/app', exact: true }).click();
    await page.getByRole('heading', { name: 'team/app' }).waitFor();
    await page.getByText(/^\d+ artifacts$/).waitFor();
    const artifactsApi = (await api(a.url, 'GET', '/projects/team/repositories/app/artifacts', undefined, admin)).status;
    if (artifactsApi === 404) {
      // This Berth has no artifacts API yet: the console says so and shows the repository's record.
      await page.getByText('does not list artifacts yet').waitFor();
      t.pass('without the artifacts API the repository record is shown');
      return;
    }
    t.equal(artifactsApi, 200, 'the artifacts API answers');
    await page.locator('.tag', { hasText: 'v1' }).first().waitFor();
    await page.getByRole('button', { name: 'Copy pull command for team/app v1' }).click();
    t.equal(await clipboard(), `docker pull ${host}/team/app:v1`, 'the pull command is on the clipboard');
    await page.getByRole('link', { name: pushed.manifest.digest.slice(7, 19) }).click();
    await page.getByRole('heading', { name: 'Build history' }).waitFor();
    t.ok(await page.getByText(pushed.manifest.digest, { exact: true }).isVisible(), 'the full digest is shown');
    t.equal(await page.locator('ol.history li').count(), 2, 'one build-history entry per layer');
    await page.getByText('"architecture": "amd64"').waitFor();
    t.pass('the config is shown');
    await page.getByRole('button', { name: 'Copy pull-by-digest command' }).click();
    t.equal(await clipboard(), `docker pull ${host}/team/app@${pushed.manifest.digest}`, 'and the pull-by-digest command');
    const referrers = page.getByRole('table').filter({ hasText: sbom.manifest.digest.slice(7, 19) });
    t.match(await referrers.textContent(), /harbor\.sbom/, 'the SBOM is listed among the referrers');
    await keep('artifact');

    await page.getByRole('link', { name: 'team', exact: true }).click();
    await page.getByRole('link', { name: 'team/multi', exact: true }).click();
    await page.getByRole('link', { name: index.manifest.digest.slice(7, 19) }).click();
    await page.getByRole('heading', { name: 'Platforms' }).waitFor();
    t.same(await page.locator('ul.platforms li a').allTextContents(), ['linux/amd64', 'linux/arm64/v8'], "the index's platforms");
  });

  await step('add the second IDC as a registry', async () => {
    await walk.addRegistry({ name: 'idc-b', url: b.url, username: 'admin', password: PASSWORD });
    const row = page.getByRole('row').filter({ hasText: b.url });
    t.same(await row.getByRole('cell').allTextContents().then((c) => c.slice(0, 4)), ['idc-b', b.url, 'berth', 'idc-b'], 'listed with the IDC the peer reported');
    t.pass('the registry is added and answers');
  });

  await step('create a replication policy and run it until it succeeds', async () => {
    await walk.createPolicy('team-to-b', 'push', `idc-b (${b.url})`, 'team/**');
    await walk.replicateNow('team-to-b');
    t.pass('the execution succeeded, as the page shows');
    const onB = new OciClient({ baseUrl: b.url, username: 'admin', password: PASSWORD });
    t.equal((await onB.headManifest('team/app', 'v1'))?.digest, pushed.manifest.digest, 'the image is at idc-b');
    await keep('replication');
    await page.getByRole('link', { name: /^#\d+$/ }).first().click();
    await page.getByRole('heading', { name: /^Execution #\d+$/ }).waitFor();
    await page.getByRole('cell', { name: 'team/app:v1' }).first().waitFor();
    t.ok((await page.getByRole('table', { name: 'Tasks' }).textContent())?.includes('KiB'), 'the task shows the bytes it copied');

    // Edited in place: the form comes back filled with the policy; a tag filter and deletions added.
    await nav('Replication');
    await page.getByRole('button', { name: 'Edit policy team-to-b' }).click();
    const form = page.getByRole('form', { name: 'Edit policy team-to-b' });
    t.equal(await form.getByLabel('Name', { exact: true }).inputValue(), 'team-to-b', 'the edit form starts from the policy');
    t.equal(await form.getByLabel('Repositories').inputValue(), 'team/**', 'with its repository filter');
    t.equal(await page.evaluate('document.activeElement?.getAttribute("name")'), 'name', 'and the keyboard focus in it');
    await form.getByLabel('Tags').fill('v*');
    await form.getByLabel('Replicate deletions').check();
    await form.getByRole('button', { name: 'Save policy' }).click();
    await page.getByRole('cell', { name: 'name = team/**, tag = v*' }).waitFor();
    const edited = (await api(a.url, 'GET', '/replication/policies?name=team-to-b', undefined, admin)).body.find((p: { name: string }) => p.name === 'team-to-b');
    t.same(
      [edited.filters.map((f: { type: string; value: string }) => `${f.type}=${f.value}`), edited.replicate_deletion, edited.dest_registry.url, edited.trigger.type],
      [['name=team/**', 'tag=v*'], true, b.url, 'manual'],
      'the server has the edited policy, same destination and trigger',
    );
    t.equal(await page.getByRole('form', { name: 'New replication policy' }).count(), 1, 'after saving, the form is for a new policy again');

    // The other direction, pull-based: with the push policy this is the dual-master pair.
    await walk.createPolicy('team-from-b', 'pull', `idc-b (${b.url})`, 'team/**');
    await page.getByRole('cell', { name: 'pull from idc-b' }).waitFor();
    await walk.replicateNow('team-from-b');
    t.pass('the pull-based policy ran too');
  });

  await step('see the policy on the topology picture, and the IDCs beyond b', async () => {
    // b replicates on to its sub-IDC c, and has a policy back to a (a cycle the topology must not follow twice).
    const credential = { access_key: 'admin', access_secret: PASSWORD };
    const toC = await addPolicy(b.url, { name: 'b-to-c', dest: await addRegistry(b.url, 'idc-c', c.url, 'berth', credential, admin), trigger: 'manual' }, admin);
    t.equal((await waitExecution(b.url, await startExecution(b.url, toC, admin), 30_000, admin)).status, 'Succeed', 'b replicated to c');
    await addPolicy(b.url, { name: 'b-to-a', dest: await addRegistry(b.url, 'idc-a', a.url, 'berth', credential, admin), trigger: 'manual' }, admin);
    await nav('Topology');
    const edge = walk.topologyEdge('team-to-b');
    await edge.waitFor();
    t.equal(await edge.getAttribute('data-status'), 'Succeed', 'the edge carries the last result');
    t.match(await edge.textContent(), /team-to-b: Succeed, \d+ s ago/, 'and says it, with how long ago');
    t.match(await page.locator('svg[data-testid="topology"]').textContent(), /IDC idc-a[\s\S]*idc-b/, 'both IDCs are on the picture');
    const back = walk.topologyEdge('team-from-b');
    t.equal(await back.getAttribute('data-status'), 'Succeed', 'the pull policy is the arrow back, with its result');
    const beyond = walk.topologyEdge('b-to-c');
    await beyond.waitFor();
    t.same([await beyond.getAttribute('data-held-by'), await beyond.getAttribute('data-status')], ['idc-b', 'Succeed'], "b's policy to its sub-IDC c is on a's picture, with its result");
    t.match(await beyond.textContent(), /b-to-c: Succeed, \d+ s ago \(on idc-b\)/, 'labelled with where it is held');
    t.equal(await walk.topologyEdge('b-to-a').getAttribute('data-status'), 'none', "and b's policy back to a, never run");
    t.equal(await page.locator('svg[data-testid="topology"] g.edge').count(), 4, 'each policy once, though a and b reach each other both ways');
    t.match(await page.locator('svg[data-testid="topology"]').textContent(), /Berth · IDC idc-c/, 'c is a node of its own');
    await keep('topology');
  });

  await step('readable on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await nav('Projects');
    await page.getByRole('link', { name: 'team', exact: true }).waitFor();
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    t.ok(overflow <= 1, `no sideways scrolling at 390 px (overflow ${overflow} px)`);
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  await step('audit log with a filter', async () => {
    await nav('Audit log');
    await page.getByLabel('Resource').fill('team');
    await page.getByLabel('Operation').selectOption('create');
    await page.getByRole('button', { name: 'Filter' }).click();
    // The list is there before the filter applies: wait for the filtered one.
    const onlyCreates = async () => {
      const ops = await page.locator('table tbody tr td:nth-child(3)').allTextContents();
      return ops.length > 0 && ops.every((o) => o === 'create') && ops;
    };
    const ops = await waitFor(onlyCreates, 10_000, 100);
    const resources = await page.locator('table tbody tr td:nth-child(4) code').allTextContents();
    t.ok(resources.every((r) => r.includes('team')), `only entries about team (${ops.length}: ${resources.join(', ')})`);
    t.ok(resources.includes('team'), 'the project creation is among them');
  });

  await step('log out', async () => {
    const before = (await context.cookies(a.url)).find((c) => c.name === 'sid')!.value;
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    const reuse = await fetch(`${a.url}/api/v2.0/users/current`, { headers: { Cookie: `sid=${before}` } });
    t.equal(reuse.status, 401, 'the old session no longer works');
  });

  const profile = browser.profile;
  await browser.close();
  t.same(await profileProcesses(profile), [], 'no Chromium process of this run is left');
});
