// What an admin does in the web console, as steps a browser test composes: each step drives the page the way a
// person would (labels, roles, buttons) and waits for the page to show the result; the tests assert the rest.
// Shared by the console's own walk (two `berth serve` processes) and the compose test (docker-compose's IDCs).
import type { Page } from 'playwright-core';

export interface RegistryForm {
  name: string;
  url: string;
  type?: string;
  username: string;
  password: string;
}

export function consoleWalk(page: Page) {
  const nav = (label: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).click();
  const projectNav = (label: string) => page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name: label }).click();
  return {
    nav,
    projectNav,

    /** Fills the login form (the page must show it) and waits for the projects page. */
    async logIn(username: string, password: string): Promise<void> {
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill(password);
      await page.getByLabel('Password').press('Enter');
      await page.getByRole('heading', { name: 'Projects' }).waitFor();
    },

    async createUser(username: string, email: string, password: string): Promise<void> {
      await nav('Users');
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.getByRole('status').filter({ hasText: `User ${username} created.` }).waitFor();
      await page.getByRole('cell', { name: username, exact: true }).waitFor();
    },

    async createProject(name: string): Promise<void> {
      await nav('Projects');
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByRole('button', { name: 'Create project' }).click();
      await page.getByRole('link', { name, exact: true }).waitFor();
    },

    /** From the projects list: the project's page. */
    async openProject(name: string): Promise<void> {
      await nav('Projects');
      await page.getByRole('link', { name, exact: true }).click();
    },

    /** On a project's page: adds `username` with the role labelled `role` (e.g. "Developer"). */
    async addMember(username: string, role: string): Promise<void> {
      await projectNav('Members');
      const form = page.getByRole('form', { name: 'Add member' });
      await form.getByLabel('Username').fill(username);
      await form.getByLabel('Role').selectOption({ label: role });
      await form.getByRole('button', { name: 'Add member' }).click();
      await page.getByRole('cell', { name: username, exact: true }).waitFor();
    },

    /** On a project's page: creates robot `name`; the page then shows its secret once. Answers the robot's full
     *  name (robot$<project>+<name>). */
    async createRobot(project: string, name: string, description: string): Promise<string> {
      await projectNav('Robot accounts');
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByLabel('Description').fill(description);
      await page.getByRole('button', { name: 'Create robot' }).click();
      const robot = `robot$${project}+${name}`;
      await page.getByRole('heading', { name: `Robot ${robot} created` }).waitFor();
      return robot;
    },

    /** With a new robot's secret on the page: the copy button, then the clipboard's text. */
    async copyRobotSecret(): Promise<string> {
      await page.getByRole('button', { name: 'Copy robot secret' }).click();
      await page.getByRole('button', { name: 'Copy robot secret' }).filter({ hasText: 'Copied' }).waitFor();
      return (await page.evaluate('navigator.clipboard.readText()')) as string;
    },

    /** Adds a registry endpoint and tests the connection; waits until the page says it answers. */
    async addRegistry(r: RegistryForm): Promise<void> {
      await nav('Registries');
      await page.getByLabel('Name', { exact: true }).fill(r.name);
      await page.getByLabel('URL').fill(r.url);
      await page.getByLabel('Type').selectOption(r.type ?? 'berth');
      await page.getByLabel('Username').fill(r.username);
      await page.getByLabel('Password or secret').fill(r.password);
      await page.getByRole('button', { name: 'Add registry' }).click();
      const row = page.getByRole('row').filter({ hasText: r.url }).filter({ hasText: r.name });
      await row.waitFor();
      await row.getByRole('button', { name: 'Test connection' }).click();
      await page.getByRole('status').filter({ hasText: `${r.name} answers.` }).waitFor();
    },

    /** Creates a manual replication policy: `push` to the registry whose option is labelled `registryOption`
     *  ("name (url)"), or `pull` from it. */
    async createPolicy(name: string, mode: 'push' | 'pull', registryOption: string, repositories: string): Promise<void> {
      await nav('Replication');
      await page.getByLabel('Name', { exact: true }).fill(name);
      if (mode === 'pull') await page.getByLabel('Mode').selectOption('pull');
      await page.getByLabel(mode === 'push' ? 'Destination registry' : 'Source registry').selectOption({ label: registryOption });
      await page.getByLabel('Repositories').fill(repositories);
      await page.getByRole('button', { name: 'Create policy' }).click();
      await page.getByRole('cell', { name, exact: true }).waitFor();
    },

    /** "Replicate now" on a policy of the Replication page, then waits until its execution shows Succeed. */
    async replicateNow(policy: string, timeout = 60_000): Promise<void> {
      await page.getByRole('button', { name: `Replicate now: ${policy}` }).click();
      const executions = page.getByRole('table', { name: 'Replication executions' });
      await executions.getByRole('row').filter({ hasText: policy }).getByText('Succeed').first().waitFor({ timeout });
    },

    /** The topology picture's edge for `policy` (the Topology page must be open). */
    topologyEdge(policy: string) {
      return page.locator(`svg[data-testid="topology"] g.edge[data-policy="${policy}"]`);
    },
  };
}
