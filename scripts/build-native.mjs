// Builds the optional native addons (native/*) into dist/native with the machine's C compiler and Node's own
// headers. A machine without them still gets a working Berth: the code that uses an addon falls back (for
// sendfile: blob bodies copied through userspace), and this prints why.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'native');
// npm's nodedir setting, else the prefix Node was installed under (/usr/include/node on Debian's nodejs).
const includeDirs = [process.env.npm_config_nodedir, resolve(process.execPath, '..', '..')]
  .filter(Boolean)
  .map((dir) => join(dir, 'include', 'node'));
const include = includeDirs.find((dir) => existsSync(join(dir, 'node_api.h')));

const addons = [{ name: 'berth_sendfile', source: join(root, 'native', 'sendfile', 'sendfile.c') }];

if (process.platform !== 'linux') {
  console.warn('native addons: not built (Linux only); blob GETs copy through userspace');
} else if (!include) {
  console.warn(`native addons: not built (no node_api.h under ${includeDirs.join(', ')}); blob GETs copy through userspace`);
} else {
  mkdirSync(out, { recursive: true });
  for (const { name, source } of addons) {
    const target = join(out, `${name}.node`);
    try {
      execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-shared', '-fPIC', `-I${include}`, '-o', target, source], { stdio: ['ignore', 'inherit', 'pipe'] });
    } catch (err) {
      const why = err.stderr?.toString().trim().split('\n')[0] || err.message;
      console.warn(`native addons: ${name} not built (${why}); blob GETs copy through userspace`);
    }
  }
}
