import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import type { RegistryDeps } from './oci/deps.js';

// Readiness (/readyz): this instance can take writes. /healthz only says the stores answer; a full disk or a
// read-only meta.db passes that while every push fails, so here both stores are written to, a little.

const PROBE_BYTES = 4096;

interface ProbeRecord {
  id: number;
  instance: string;
  at: string;
}

export interface Readiness {
  ready: boolean;
  checks: { blobs: string; meta: string };
}

export async function checkReadiness(deps: Pick<RegistryDeps, 'blobs' | 'meta' | 'config'>): Promise<Readiness> {
  const [blobs, meta] = await Promise.all([outcome(probeBlobStore(deps)), outcome(probeMetaStore(deps))]);
  return { ready: blobs === 'ok' && meta === 'ok', checks: { blobs, meta } };
}

/** Stages a few bytes through the upload path every push takes, then discards them. */
async function probeBlobStore({ blobs }: Pick<RegistryDeps, 'blobs'>): Promise<void> {
  const id = `readyz-${randomUUID()}`;
  await blobs.createUpload(id);
  try {
    await blobs.appendUpload(id, 0, Readable.from([Buffer.alloc(PROBE_BYTES)]));
  } finally {
    await blobs.abortUpload(id).catch(() => undefined);
  }
}

/** Writes this instance's probe row (one per instance, updated in place). */
async function probeMetaStore({ meta, config }: Pick<RegistryDeps, 'meta' | 'config'>): Promise<void> {
  const probes = meta.collection<ProbeRecord>('readiness_probes', { unique: ['instance'] });
  const instance = `${hostname()}/${config.addr}`;
  const at = new Date().toISOString();
  const row = await probes.findOne('instance', instance);
  if (row) await probes.update({ ...row, at });
  else await probes.insert({ instance, at });
}

async function outcome(p: Promise<void>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    const err = e as Error & { code?: string; cause?: { code?: string } };
    const code = err.code ?? err.cause?.code;
    return `cannot write: ${code ? `${code} ` : ''}${err.message}`.slice(0, 300);
  }
}
