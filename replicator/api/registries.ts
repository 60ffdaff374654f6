import { X509Certificate } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { readBody } from '../../core/harbor-api/body.js';
import { badRequest, notFound, precondition } from '../../core/harbor-api/errors.js';
import { pageOf } from '../../core/harbor-api/paging.js';
import { idParam, queryString } from '../../core/harbor-api/params.js';
import { checkTerms, matches, parseQuery, type QueryFields } from '../../core/harbor-api/query.js';
import { created, ok } from '../../core/harbor-api/responses.js';
import { CREDENTIAL_CONTEXT, RemoteRegistry } from '../endpoint.js';
import { nowIso, type RegistryRecord } from '../records.js';
import type { ReplicationApiDeps } from './deps.js';

/** What a read shows for a stored secret (Harbor's handler/replication.go convertRegistry). */
const SECRET_MASK = '*****';

// Registry endpoints (Harbor's /registries): the remote side of a policy, its credential sealed at rest.

export const registryTypes = z.enum(['berth', 'docker-registry', 'harbor', 'docker-hub']);
const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL');
const credentialIn = z.object({
  type: z.literal('basic').default('basic'),
  access_key: z.string().default(''),
  access_secret: z.string().default(''),
});
const registryIn = z.object({
  name: z.string().min(1).max(255),
  url: httpUrl,
  type: registryTypes,
  description: z.string().default(''),
  credential: credentialIn.nullish(),
  insecure: z.boolean().default(false),
  ca_certificate: z.string().nullish(),
});
/** Harbor's RegistryUpdate (flat credential fields); a nested `credential` is taken too. */
const registryUpdate = z.object({
  name: z.string().min(1).max(255).nullish(),
  url: httpUrl.nullish(),
  description: z.string().nullish(),
  credential_type: z.string().nullish(),
  access_key: z.string().nullish(),
  access_secret: z.string().nullish(),
  credential: credentialIn.nullish(),
  insecure: z.boolean().nullish(),
  ca_certificate: z.string().nullish(),
});
const registryPing = z.object({
  id: z.number().int().nullish(),
  type: registryTypes.nullish(),
  url: httpUrl.nullish(),
  credential_type: z.string().nullish(),
  access_key: z.string().nullish(),
  access_secret: z.string().nullish(),
  credential: credentialIn.nullish(),
  insecure: z.boolean().nullish(),
  ca_certificate: z.string().nullish(),
});

/** Harbor's ca_certificate: "" is none; anything else must be a PEM certificate (commonhttp.ValidateCACertificate: 400). */
function caCertificate(pem: string | null | undefined): string | undefined {
  if (pem === undefined || pem === null || pem.trim() === '') return undefined;
  try {
    new X509Certificate(pem);
  } catch (e) {
    throw badRequest(`ca_certificate is not a PEM certificate: ${(e as Error).message}`);
  }
  return pem;
}

const registryFields: QueryFields<RegistryRecord> = {
  name: { type: 'string', get: (r) => r.name },
  type: { type: 'string', get: (r) => r.type },
  url: { type: 'string', get: (r) => r.url },
};

export function registryRoutes(router: Router, d: ReplicationApiDeps): void {
  const { registries } = d.records;

  router.get('/replication/adapters', (ctx) => {
    ctx.body = registryTypes.options;
  });
  // What the UI offers when adding an endpoint: Docker Hub's address is fixed, the others are typed in.
  router.get('/replication/adapterinfos', (ctx) => {
    const standard = { endpoint_pattern: { endpoint_type: 'EndpointPatternTypeStandard' }, credential_pattern: { access_key_type: 'AccessKeyTypeStandard', access_secret_type: 'AccessSecretTypeStandard' } };
    ctx.body = Object.fromEntries(
      registryTypes.options.map((type) => [
        type,
        type === 'docker-hub'
          ? { ...standard, endpoint_pattern: { endpoint_type: 'EndpointPatternTypeFix', endpoints: [{ key: 'registry-1.docker.io', value: 'https://registry-1.docker.io' }] } }
          : standard,
      ]),
    );
  });

  router.get('/registries', async (ctx) => {
    const terms = parseQuery(queryString(ctx, 'q'));
    // handler/registry.go: the deprecated `name` is a fuzzy match.
    const name = queryString(ctx, 'name');
    if (name) terms.push({ key: 'name', kind: 'fuzzy', value: name });
    checkTerms(terms, registryFields);
    const items = (await registries.list()).items.filter((r) => matches(r, terms, registryFields));
    ctx.body = pageOf(ctx, items).map((r) => registryOut(r, d));
  });

  router.post('/registries', async (ctx) => {
    const body = await readBody(ctx, registryIn);
    const now = nowIso();
    const record = await registries.insert({
      name: body.name,
      url: body.url.replace(/\/+$/, ''),
      type: body.type,
      description: body.description,
      credential: sealCredential(d, body.credential),
      insecure: body.insecure,
      ...(caCertificate(body.ca_certificate) !== undefined && { ca_certificate: body.ca_certificate! }),
      idc: null,
      creation_time: now,
      update_time: now,
    });
    await learnIdc(d, record);
    created(ctx, `/api/v2.0/registries/${record.id}`);
  });

  router.post('/registries/ping', async (ctx) => {
    const body = await readBody(ctx, registryPing);
    let remote: RemoteRegistry;
    if (body.id != null) {
      const record = await registries.get(body.id);
      if (!record) throw notFound(`registry ${body.id} not found`);
      const merged = { ...record, ...(body.url && { url: body.url }), ...(body.type && { type: body.type }), ...(body.insecure != null && { insecure: body.insecure }), ...(body.ca_certificate != null && { ca_certificate: caCertificate(body.ca_certificate) }) };
      const secret = body.access_secret ?? body.credential?.access_secret;
      if (secret !== undefined && secret !== null) merged.credential = sealCredential(d, { type: 'basic', access_key: body.access_key ?? body.credential?.access_key ?? '', access_secret: secret });
      remote = RemoteRegistry.fromRecord(merged, d.cipher, 10_000, d.ca);
    } else {
      if (!body.url || !body.type) throw badRequest('url and type are required without an id');
      const key = body.access_key ?? body.credential?.access_key;
      const secret = body.access_secret ?? body.credential?.access_secret;
      const probe: RegistryRecord = { id: 0, name: '', url: body.url, type: body.type, description: '', credential: null, insecure: body.insecure ?? false, idc: null, creation_time: '', update_time: '' };
      const ca = caCertificate(body.ca_certificate);
      if (ca) probe.ca_certificate = ca;
      if (key) probe.credential = sealCredential(d, { type: 'basic', access_key: key, access_secret: secret ?? '' });
      remote = RemoteRegistry.fromRecord(probe, d.cipher, 10_000, d.ca);
    }
    try {
      await remote.client.ping();
    } catch (e) {
      throw badRequest(`failed to ping the registry: ${(e as Error).message}`);
    }
    ok(ctx);
  });

  router.get('/registries/:id', async (ctx) => {
    ctx.body = registryOut(await registryById(d, ctx), d);
  });

  router.get('/registries/:id/info', async (ctx) => {
    const r = await registryById(d, ctx);
    ctx.body = {
      type: r.type,
      description: r.description,
      supported_resource_filters: [
        { type: 'name', style: 'input' },
        { type: 'tag', style: 'input', values: ['matches', 'excludes'] },
      ],
      supported_triggers: ['manual', 'scheduled', 'event_based'],
    };
  });

  router.put('/registries/:id', async (ctx) => {
    const r = await registryById(d, ctx);
    const body = await readBody(ctx, registryUpdate);
    const next: RegistryRecord = { ...r, update_time: nowIso() };
    if (body.name) next.name = body.name;
    if (body.url) {
      next.url = body.url.replace(/\/+$/, '');
      next.idc = null;
    }
    if (body.description != null) next.description = body.description;
    if (body.insecure != null) next.insecure = body.insecure;
    if (body.ca_certificate != null) {
      const ca = caCertificate(body.ca_certificate);
      if (ca) next.ca_certificate = ca;
      else delete next.ca_certificate;
    }
    const key = body.access_key ?? body.credential?.access_key;
    const sent = body.access_secret ?? body.credential?.access_secret;
    // harbor-cli's `registry update` sends back the credential it read, secret masked: that keeps the secret
    const secret = sent === SECRET_MASK ? undefined : sent;
    if (key != null || secret != null) {
      const oldSecret = r.credential ? d.cipher.decrypt(r.credential.access_secret_enc, CREDENTIAL_CONTEXT) : '';
      next.credential = sealCredential(d, { type: 'basic', access_key: key ?? r.credential?.access_key ?? '', access_secret: secret ?? oldSecret });
    }
    await registries.update(next);
    await learnIdc(d, next);
    d.engine?.wake();
    ok(ctx);
  });

  router.delete('/registries/:id', async (ctx) => {
    const r = await registryById(d, ctx);
    const users = (await d.records.allPolicies()).filter((p) => p.src_registry_id === r.id || p.dest_registry_id === r.id);
    if (users.length > 0) throw precondition(`registry ${r.name} is used by policies ${users.map((p) => p.name).join(', ')}`);
    await registries.delete(r.id);
    ok(ctx);
  });
}

function sealCredential(d: ReplicationApiDeps, c: z.infer<typeof credentialIn> | null | undefined): RegistryRecord['credential'] {
  if (!c || (!c.access_key && !c.access_secret)) return null;
  return { type: 'basic', access_key: c.access_key, access_secret_enc: d.cipher.encrypt(c.access_secret, CREDENTIAL_CONTEXT) };
}

/** A Berth peer tells its IDC (so events are never sent back where they came from); best effort here, the
 *  engine asks again when it did not answer. */
async function learnIdc(d: ReplicationApiDeps, r: RegistryRecord): Promise<void> {
  if (r.type !== 'berth') return;
  const info = await RemoteRegistry.fromRecord(r, d.cipher, 5000, d.ca)
    .info()
    .catch(() => undefined);
  if (!info?.idc) return;
  const fresh = await d.records.registries.get(r.id);
  if (fresh) await d.records.registries.update({ ...fresh, idc: info.idc });
}

export function registryOut(r: RegistryRecord, d: ReplicationApiDeps) {
  return {
    id: r.id,
    name: r.name,
    url: r.url,
    type: r.type,
    description: r.description,
    credential: r.credential ? { type: r.credential.type, access_key: r.credential.access_key, access_secret: SECRET_MASK } : { type: 'basic', access_key: '', access_secret: '' },
    insecure: r.insecure,
    // Harbor leaves it out when there is none (x-nullable)
    ...(r.ca_certificate && { ca_certificate: r.ca_certificate }),
    status: d.engine?.registryStatus(r.id) ?? 'unknown',
    idc: r.idc,
    creation_time: r.creation_time,
    update_time: r.update_time,
  };
}

async function registryById(d: ReplicationApiDeps, ctx: Context): Promise<RegistryRecord> {
  const r = await d.records.registries.get(idParam(ctx, 'id'));
  if (!r) throw notFound(`registry ${ctx.params.id} not found`);
  return r;
}
