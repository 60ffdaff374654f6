import { Command } from 'commander';
import { AdminClient, AdminError, EXIT } from './client.js';
import { resolveConnection, type GlobalOptions } from './credentials.js';
import type { Output } from './output.js';

// What every `berth admin` action gets, and the one place its errors become a message and an exit code.

export interface AdminContext {
  client: AdminClient;
  out: Output;
  globals: GlobalOptions;
}

// Commander passes the positional arguments, then the command's options, then the command itself.
type Positional = string | string[] | undefined;

/** Wraps an action: resolves the connection, runs, closes, maps AdminError to `berth admin: …` and its exit code. */
export function adminAction<O extends object>(fn: (ctx: AdminContext, args: Positional[], opts: O) => Promise<void>) {
  return async (...all: unknown[]): Promise<void> => {
    const cmd = all[all.length - 1] as Command;
    const opts = all[all.length - 2] as O;
    const args = all.slice(0, -2) as Positional[];
    const globals = cmd.optsWithGlobals() as GlobalOptions;
    let client: AdminClient | undefined;
    try {
      client = new AdminClient(await resolveConnection(globals));
      await fn({ client, out: { json: globals.json === true }, globals }, args, opts);
    } catch (e) {
      reportError(e);
    } finally {
      await client?.close();
    }
  };
}

export function reportError(e: unknown): void {
  if (e instanceof AdminError) {
    process.stderr.write(`berth admin: ${e.message}\n`);
    process.exitCode = EXIT[e.kind];
    return;
  }
  throw e;
}

export function usage(message: string): AdminError {
  return new AdminError('usage', message);
}

/** A positive integer id, or undefined when `ref` is a name to look up. */
export function asId(ref: string): number | undefined {
  return /^\d+$/.test(ref) ? Number(ref) : undefined;
}

/** An id from a name or id, looked up in a list by `name` (registries, policies, users). */
export async function idByName<T>(list: () => Promise<T[]>, ref: string, nameOf: (t: T) => string, what: string, idOf: (t: T) => number | undefined = (t) => (t as { id?: number }).id): Promise<number> {
  const direct = asId(ref);
  if (direct !== undefined) return direct;
  const hit = (await list()).find((t) => nameOf(t) === ref);
  const id = hit && idOf(hit);
  if (id === undefined) throw new AdminError('not-found', `no ${what} named "${ref}"`);
  return id;
}

/** Reads all of stdin (for --password-stdin), without the trailing newline. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Path segment for a project (name or id). */
export function seg(s: string): string {
  return encodeURIComponent(s);
}

/** Harbor wants a repository name with slashes encoded twice in the path (`a/b` → `a%252Fb`). */
export function repoSeg(repo: string): string {
  return encodeURIComponent(encodeURIComponent(repo));
}
