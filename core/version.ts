import { readFileSync } from 'node:fs';

// Berth's own version, from package.json (one level above core/ when run from source, two from dist/core/).
// Harbor-shaped answers carry a Harbor-compatible version beside it: scripts parse harbor_version as semver.

export const HARBOR_API_VERSION = 'v2.15.0';

function packageVersion(): string {
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'berth' && pkg.version) return pkg.version;
    } catch {
      /* not at this level */
    }
  }
  return 'unknown';
}

export const BERTH_VERSION = packageVersion();
