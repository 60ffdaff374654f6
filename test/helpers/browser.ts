// Real headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for the console's tests: a
// fresh profile per run, screenshots on failure, and every process of that profile gone afterwards.
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

// The flags that work on these machines (env's machine notes): no sandbox (root in a container), no GPU, no
// QUIC, and nothing that talks to Google's servers.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** The fresh profile directory (removed by close). */
  profile: string;
  /** Where failure screenshots go (printed when one is taken). */
  shots: string;
  /** A screenshot of the page now, under `shots`, with `mask` painted over; answers its path. */
  screenshot(name: string, mask?: Locator[]): Promise<string>;
  close(): Promise<void>;
}

export interface BrowserOptions {
  /** A network namespace (`ip netns` name) to run Chromium in, so it reaches what listens only there (the
   *  compose test's published ports); playwright still drives it over a pipe from here. */
  netns?: string;
}

export async function openBrowser(origin: string, options: BrowserOptions = {}): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'berth-chromium-'));
  const shots = await mkdtemp(join(tmpdir(), 'berth-console-shots-'));
  let executablePath = CHROMIUM;
  if (options.netns) {
    executablePath = `${profile}.chromium-in-netns`;
    await writeFile(executablePath, `#!/bin/sh\nexec nsenter --net=/var/run/netns/${options.netns} ${CHROMIUM} "$@"\n`);
    await chmod(executablePath, 0o755);
  }
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 860 },
    // The copy buttons write to the clipboard; the test reads it back.
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  return {
    context,
    page,
    profile,
    shots,
    screenshot: async (name, mask = []) => {
      const path = join(shots, `${name}.png`);
      await page.screenshot({ path, fullPage: true, mask });
      return path;
    },
    close: async () => {
      await context.close().catch(() => {});
      await killProfileProcesses(profile);
      await rm(profile, { recursive: true, force: true });
      if (executablePath !== CHROMIUM) await rm(executablePath, { force: true });
    },
  };
}

/** Chromium's helpers (zygote, renderers) can outlive the browser: end every process started with this profile,
 *  by pid. */
async function killProfileProcesses(profile: string): Promise<void> {
  for (const pid of await profileProcesses(profile)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** The processes running with `profile` as their Chromium profile. */
export async function profileProcesses(profile: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => '');
    if (cmdline.includes(`--user-data-dir=${profile}`)) found.push(Number(pid));
  }
  return found;
}
