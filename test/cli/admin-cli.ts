// Runs the real `berth admin` binary (dist/cli/main.js) for the CLI tests: its exit code, stdout and stderr.
import { execFile } from 'node:child_process';
import { berthBin, childEnv } from '../helpers/berth-process.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `berth admin <args>` with only the given BERTH_ADMIN_* settings (none inherited), no colours, stdin `input`. */
export function admin(args: string[], env: Record<string, string> = {}, input = ''): Promise<CliResult> {
  const base = childEnv({ NO_COLOR: '1' });
  for (const k of Object.keys(base)) if (k.startsWith('BERTH_')) delete base[k];
  return new Promise((resolve) => {
    const p = execFile(process.execPath, [berthBin, 'admin', ...args], { env: { ...base, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    p.stdin!.end(input);
  });
}
