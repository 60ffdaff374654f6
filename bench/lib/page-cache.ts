// The page cache's state decides what a write costs on this kind of VM: writing a new 256 MiB file costs the writer
// ~0.3 s of system time right after the cache was dropped and 1.5–3.7 s/GiB once gigabytes of earlier runs sit in
// it (measured with dd). Left alone, whichever registry runs later in the bench pays more. So every push starts
// from the same state: dirty pages written back, clean ones dropped. Needs root; without it nothing is done and
// the report says so.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Answers whether the cache could be dropped (false: not root, or no /proc/sys/vm/drop_caches). */
export async function settlePageCache(): Promise<boolean> {
  await run('sync');
  try {
    await writeFile('/proc/sys/vm/drop_caches', '1');
    return true;
  } catch {
    return false;
  }
}
