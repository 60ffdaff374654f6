import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { isDigest } from '../../core/digest.js';
import { RegistryError } from '../../core/errors.js';
import { isTag, parseRepositoryName } from '../../core/names.js';
import type { ArtifactDetail } from '../../registry/artifacts.js';
import type { ManifestRecord, TagRecord } from '../../storage-adapters/meta/meta-store.js';
import { projectOf } from '../auth/policy.js';
import type { ProjectRecord } from '../auth/records.js';
import type { ProjectPermission } from '../auth/roles.js';
import {
  accessoryResponse,
  artifactId,
  artifactResponse,
  artifactType,
  mediaTypeOf,
  tagResponse,
  type ArtifactOptions,
} from './artifact-view.js';
import { auditChange, projectParam, requireProject, type AdminDeps } from './context.js';
import { repositoryParam } from './repositories.js';
import { readBody } from '../../core/harbor-api/body.js';
import { ApiError, badRequest, conflict, notFound, unprocessable } from '../../core/harbor-api/errors.js';
import { pageOf, paging } from '../../core/harbor-api/paging.js';
import { boolQuery, idParam, queryString } from '../../core/harbor-api/params.js';
import { checkTerms, matches, parseQuery, type QueryFields, type QueryTerm } from '../../core/harbor-api/query.js';
import { ok } from '../../core/harbor-api/responses.js';
import { sortBy } from '../../core/harbor-api/sort.js';

// Harbor's artifact API (handler/artifact.go): list, get, delete and copy artifacts of a repository; their tags,
// accessories (referrers), additions and labels. Every write goes through registry.artifacts / registry.tags,
// versioned, so it replicates as a /v2 push or delete would.

const tagBody = z.object({ name: z.string() }).passthrough();
const labelRef = z.object({ id: z.number().int() }).passthrough();

export const artifactSchemas = { Tag: tagBody, LabelRef: labelRef };

export function artifactRoutes(router: Router, a: AdminDeps): void {
  router.get('/projects/:project_name_or_id/artifacts', (ctx) => listProjectArtifacts(ctx, a));
  const base = '/projects/:project_name/repositories/:repository_name/artifacts';
  router.get(base, (ctx) => listArtifacts(ctx, a));
  router.post(base, (ctx) => copyArtifact(ctx, a));
  router.get(`${base}/:reference`, (ctx) => getArtifact(ctx, a));
  router.delete(`${base}/:reference`, (ctx) => deleteArtifact(ctx, a));
  router.get(`${base}/:reference/tags`, (ctx) => listTags(ctx, a));
  router.post(`${base}/:reference/tags`, (ctx) => createTag(ctx, a));
  router.delete(`${base}/:reference/tags/:tag_name`, (ctx) => deleteTag(ctx, a));
  router.get(`${base}/:reference/accessories`, (ctx) => listAccessories(ctx, a));
  router.get(`${base}/:reference/additions/vulnerabilities`, (ctx) => vulnerabilities(ctx, a));
  router.get(`${base}/:reference/additions/:addition`, (ctx) => addition(ctx, a));
  router.post(`${base}/:reference/labels`, (ctx) => addLabel(ctx, a));
  router.delete(`${base}/:reference/labels/:label_id`, (ctx) => removeLabel(ctx, a));
}

interface Target {
  project: ProjectRecord;
  repository: string;
}

async function target(ctx: Context, a: AdminDeps, permission: ProjectPermission): Promise<Target> {
  const project = await projectParam(ctx, a, 'project_name', false);
  await requireProject(ctx, a, project, permission);
  return { project, repository: repositoryParam(ctx, project) };
}

/** The artifact `{reference}` (a tag or a digest) names; 400 when it is neither, 404 when absent. */
async function artifactParam(ctx: Context, a: AdminDeps, repository: string): Promise<ManifestRecord> {
  const reference = String(ctx.params.reference ?? '');
  let record: ManifestRecord | undefined;
  try {
    record = await a.registry.registry.artifacts.find(repository, reference);
  } catch (e) {
    if (e instanceof RegistryError) throw badRequest(`invalid reference "${reference.slice(0, 200)}": a tag or a digest`);
    throw e;
  }
  if (!record) throw notFound(`artifact ${repository}${reference.includes(':') ? '@' : ':'}${reference.slice(0, 200)} not found`);
  return record;
}

/** The API path of an artifact: the repository name inside the project URL-encoded twice, as Harbor links it. */
function artifactPath(t: Target, digest: string): string {
  const inner = t.repository.slice(t.project.name.length + 1);
  return `/api/v2.0/projects/${t.project.name}/repositories/${encodeURIComponent(encodeURIComponent(inner))}/artifacts/${digest}`;
}

function options(ctx: Context): ArtifactOptions {
  boolQuery(ctx, 'with_signature', false); // deprecated in Harbor (signatures are accessories): bound, not used
  return {
    withTag: boolQuery(ctx, 'with_tag', true),
    withLabel: boolQuery(ctx, 'with_label', false),
    withAccessory: boolQuery(ctx, 'with_accessory', false),
    withImmutableStatus: boolQuery(ctx, 'with_immutable_status', false),
    withScanOverview: boolQuery(ctx, 'with_scan_overview', false),
    withSbomOverview: boolQuery(ctx, 'with_sbom_overview', false),
  };
}

async function respond(ctx: Context, a: AdminDeps, t: Target, detail: ArtifactDetail, tags: TagRecord[], o: ArtifactOptions) {
  const where = { registry: a.registry.registry, projectId: t.project.id, repository: t.repository, path: artifactPath(t, detail.record.digest) };
  return artifactResponse(where, detail, tags, o);
}

/** One artifact of a listing, with what q and sort may read. */
interface Row {
  target: Target;
  record: ManifestRecord;
  detail: ArtifactDetail;
  tags: TagRecord[];
  labels: number[];
  pullTime: string;
}

const artifactFields: QueryFields<Row> = {
  tags: { type: 'string', get: (r) => r.tags.map((t) => t.name) },
  digest: { type: 'string', get: (r) => r.record.digest },
  media_type: { type: 'string', get: (r) => mediaTypeOf(r.detail) },
  manifest_media_type: { type: 'string', get: (r) => r.record.mediaType },
  artifact_type: { type: 'string', get: (r) => r.detail.manifest.artifactType ?? '' },
  type: { type: 'string', get: (r) => artifactType(r.detail) },
  labels: { type: 'number', get: (r) => r.labels },
  push_time: { type: 'time', get: (r) => new Date(r.record.createdAt).toISOString() },
  pull_time: { type: 'time', get: (r) => r.pullTime },
};

/**
 * Harbor's q words with a meaning of their own: `base=*` lists every artifact (an index's children and
 * accessories too; by default only the top-level ones), `tags=*` the tagged ones, `tags=nil` the untagged.
 */
function specialTerms(terms: QueryTerm[]): { rest: QueryTerm[]; all: boolean; tagged?: boolean } {
  let all = false;
  let tagged: boolean | undefined;
  const rest = terms.filter((t) => {
    const key = t.key.toLowerCase();
    if (t.kind !== 'exact') return true;
    if (key === 'base' && t.value === '*') all = true;
    else if (key === 'tags' && t.value === '*') tagged = true;
    else if (key === 'tags' && t.value === 'nil') tagged = false;
    else return true;
    return false;
  });
  return { rest, all, ...(tagged !== undefined && { tagged }) };
}

/** What a listing's q asks, parsed once. */
interface Filter {
  rest: QueryTerm[];
  all: boolean;
  tagged?: boolean;
}

function filterOf(ctx: Context): Filter {
  const f = specialTerms(parseQuery(queryString(ctx, 'q')));
  checkTerms(f.rest, artifactFields);
  return f;
}

/** The artifacts of one repository that `f` keeps, with what q and sort read. */
async function rowsOf(a: AdminDeps, t: Target, f: Filter): Promise<Row[]> {
  const reg = a.registry.registry;
  const { records, tags } = await reg.artifacts.listing(t.repository);
  const children = new Set(records.flatMap((r) => r.children));
  const candidates = f.all ? records : records.filter((r) => !children.has(r.digest) && !r.subject);
  const byLabel = f.rest.some((term) => term.key.toLowerCase() === 'labels');
  const rows: Row[] = [];
  for (const record of candidates) {
    const rowTags = (tags.get(record.digest) ?? []).sort((x, y) => (x.name < y.name ? -1 : 1));
    if (f.tagged !== undefined && f.tagged !== rowTags.length > 0) continue;
    const [detail, labels, pulled] = await Promise.all([
      reg.artifacts.detail(t.repository, record),
      byLabel ? reg.labels.of(t.repository, record.digest) : Promise.resolve([]),
      reg.pulls.artifactPulled(t.repository, record.digest),
    ]);
    const row = { target: t, record, detail, tags: rowTags, labels: labels.map((l) => l.id), pullTime: pulled ?? '0001-01-01T00:00:00.000Z' };
    if (matches(row, f.rest, artifactFields)) rows.push(row);
  }
  return rows;
}

/** Newest push first unless sort says otherwise (digest breaks ties, so pages are stable). */
function sortRows(ctx: Context, rows: Row[]): Row[] {
  rows.sort((x, y) => y.record.createdAt - x.record.createdAt || (x.record.digest < y.record.digest ? -1 : 1));
  return sortBy(ctx, rows, {
    push_time: (r) => r.record.createdAt,
    pull_time: (r) => r.pullTime,
    size: (r) => r.detail.size,
    digest: (r) => r.record.digest,
    type: (r) => artifactType(r.detail),
    media_type: (r) => mediaTypeOf(r.detail),
    manifest_media_type: (r) => r.record.mediaType,
    repository_name: (r) => r.target.repository,
    id: (r) => artifactId(r.target.repository, r.record.digest),
  });
}

async function listArtifacts(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'artifact.read');
  const o = options(ctx);
  const f = filterOf(ctx);
  const p = paging(ctx);
  const sorted = sortRows(ctx, await rowsOf(a, t, f));
  ctx.body = await Promise.all(pageOf(ctx, sorted, p).map((r) => respond(ctx, a, r.target, r.detail, r.tags, o)));
}

/**
 * Harbor's project-wide list (GET /projects/{project_name_or_id}/artifacts): every repository's artifacts; with
 * latest_in_repository only the newest push of each, which Harbor allows only when q names exactly one of
 * media_type and artifact_type.
 */
async function listProjectArtifacts(ctx: Context, a: AdminDeps): Promise<void> {
  const project = await projectParam(ctx, a);
  await requireProject(ctx, a, project, 'artifact.read');
  const o = options(ctx);
  const f = filterOf(ctx);
  const latest = boolQuery(ctx, 'latest_in_repository', false);
  if (latest) {
    const keys = new Set(f.rest.map((term) => term.key.toLowerCase()));
    if (keys.has('media_type') === keys.has('artifact_type')) {
      throw badRequest("either 'media_type' or 'artifact_type' must be specified, but not both, when querying with latest_in_repository");
    }
  }
  const p = paging(ctx);
  const rows: Row[] = [];
  for (const repository of await a.registry.registry.repositories.inProject(project.name)) {
    const found = await rowsOf(a, { project, repository }, f);
    if (!latest) rows.push(...found);
    else if (found.length > 0) rows.push(found.reduce((x, y) => (y.record.createdAt > x.record.createdAt ? y : x)));
  }
  const sorted = sortRows(ctx, rows);
  ctx.body = await Promise.all(pageOf(ctx, sorted, p).map((r) => respond(ctx, a, r.target, r.detail, r.tags, o)));
}

async function getArtifact(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'artifact.read');
  const o = options(ctx);
  const record = await artifactParam(ctx, a, t.repository);
  const reg = a.registry.registry;
  const [detail, tags] = await Promise.all([reg.artifacts.detail(t.repository, record), reg.artifacts.tagsOf(t.repository, record.digest)]);
  ctx.body = await respond(ctx, a, t, detail, tags, o);
}

async function deleteArtifact(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'artifact.delete');
  const record = await artifactParam(ctx, a, t.repository);
  const result = await a.registry.registry.artifacts.delete(t.repository, record.digest);
  if (result === 'absent') throw notFound(`artifact ${t.repository}@${record.digest} not found`);
  if (result === 'referenced') throw new ApiError(412, 'the deleting artifact is referenced by others', {}, 'VIOLATE_FOREIGN_KEY_CONSTRAINT');
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'artifact', resource: `${t.repository}@${record.digest}`, project_id: t.project.id });
  ok(ctx);
}

function decodedOnce(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path; // routed, so its parameters decoded; a stray % elsewhere stays as sent
  }
}

/** `from` of a copy: `project/repository:tag` or `project/repository@digest`. */
function parseFrom(from: string): { repository: string; reference: string } {
  const invalid = () => badRequest(`invalid input: ${from.slice(0, 300)}`);
  const at = from.indexOf('@');
  let repository: string;
  let reference: string;
  if (at >= 0) {
    repository = from.slice(0, at);
    reference = from.slice(at + 1);
    if (!isDigest(reference)) throw invalid();
  } else {
    const colon = from.lastIndexOf(':');
    if (colon <= from.lastIndexOf('/')) throw invalid();
    repository = from.slice(0, colon);
    reference = from.slice(colon + 1);
    if (!isTag(reference)) throw invalid();
  }
  try {
    parseRepositoryName(repository);
  } catch {
    throw invalid();
  }
  if (projectOf(repository) === undefined) throw invalid();
  return { repository, reference };
}

async function copyArtifact(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'artifact.create');
  const from = queryString(ctx, 'from');
  if (from === undefined) throw unprocessable('from in query is required');
  const source = parseFrom(from);
  const sourceProject = await a.records.projectByName(projectOf(source.repository)!);
  if (!sourceProject) throw notFound(`project ${projectOf(source.repository)} not found`);
  await requireProject(ctx, a, sourceProject, 'artifact.read');
  const reg = a.registry.registry;
  const sourceRecord = await reg.artifacts.find(source.repository, source.reference);
  if (!sourceRecord) throw notFound(`artifact ${from} not found`);
  if (sourceRecord.subject) throw new ApiError(403, "the operation isn't supported for an artifact accessory", {}, 'DENIED');
  await reg.artifacts.copy(source.repository, source.reference, t.repository);
  await auditChange(ctx, a, { operation: 'create', resource_type: 'artifact', resource: `${t.repository}@${sourceRecord.digest}`, project_id: t.project.id, operation_description: `copied from ${from}` });
  // Harbor's Location: the request path (decoded once, as Go's URL.Path is) and the reference.
  ctx.body = null;
  ctx.status = 201;
  ctx.set('Location', `${decodedOnce(ctx.path).replace(/\/$/, '')}/${source.reference}`);
}

const tagFields: QueryFields<Awaited<ReturnType<typeof tagResponse>>> = {
  name: { type: 'string', get: (x) => x.name },
  push_time: { type: 'time', get: (x) => x.push_time },
  pull_time: { type: 'time', get: (x) => x.pull_time },
  id: { type: 'number', get: (x) => x.id },
};

async function listTags(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'tag.list');
  const terms = parseQuery(queryString(ctx, 'q'));
  checkTerms(terms, tagFields);
  const p = paging(ctx);
  const withImmutable = boolQuery(ctx, 'with_immutable_status', false);
  const record = await artifactParam(ctx, a, t.repository);
  const reg = a.registry.registry;
  const tags = await reg.artifacts.tagsOf(t.repository, record.digest);
  const rows = (await Promise.all(tags.map((tag) => tagResponse({ registry: reg, repository: t.repository }, tag, withImmutable)))).filter((x) => matches(x, terms, tagFields));
  ctx.body = pageOf(ctx, sortBy(ctx, rows, { name: (x) => x.name, push_time: (x) => x.push_time, pull_time: (x) => x.pull_time, id: (x) => x.id }), p);
}

async function createTag(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'tag.create');
  const body = await readBody(ctx, tagBody);
  if (!isTag(body.name)) throw badRequest(`invalid tag name "${body.name.slice(0, 200)}"`);
  const record = await artifactParam(ctx, a, t.repository);
  if (!(await a.registry.registry.artifacts.addTag(t.repository, record, body.name))) throw conflict(`tag ${body.name} already exists in ${t.repository}`);
  await auditChange(ctx, a, { operation: 'create', resource_type: 'tag', resource: `${t.repository}:${body.name}`, project_id: t.project.id });
  // Harbor answers 201 without a Location: it has no API to get one tag.
  ctx.body = null;
  ctx.status = 201;
}

async function deleteTag(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'tag.delete');
  const record = await artifactParam(ctx, a, t.repository);
  const name = String(ctx.params.tag_name ?? '');
  const reg = a.registry.registry;
  const on = (await reg.artifacts.tagsOf(t.repository, record.digest)).some((x) => x.name === name);
  if (!on) throw notFound(`tag ${name.slice(0, 200)} attached to artifact ${artifactId(t.repository, record.digest)} not found`);
  await reg.tags.delete(t.repository, name, { version: reg.versions.local() });
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'tag', resource: `${t.repository}:${name}`, project_id: t.project.id });
  ok(ctx);
}

async function listAccessories(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'artifact.read');
  const p = paging(ctx);
  const record = await artifactParam(ctx, a, t.repository);
  const reg = a.registry.registry;
  const referrers = (await reg.artifacts.referrers(t.repository, record.digest)).sort((x, y) => x.createdAt - y.createdAt || (x.digest < y.digest ? -1 : 1));
  const rows = await Promise.all(referrers.map((r) => accessoryResponse(reg, t.repository, record.digest, r)));
  ctx.body = pageOf(ctx, sortBy(ctx, rows, { creation_time: (x) => x.creation_time, size: (x) => x.size, type: (x) => x.type, digest: (x) => x.digest }), p);
}

/** No scanner: Harbor answers an artifact never scanned with an empty object. */
async function vulnerabilities(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'artifact.read');
  await artifactParam(ctx, a, t.repository);
  ctx.body = {};
}

async function addition(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'artifact.read');
  const record = await artifactParam(ctx, a, t.repository);
  const name = String(ctx.params.addition ?? '').toLowerCase();
  const detail = await a.registry.registry.artifacts.detail(t.repository, record);
  // Images have a build history (their config's history); charts' values.yaml, readme.md and dependencies
  // need a chart processor, which Berth has not.
  if (name !== 'build_history' || !detail.config) throw notFound(`the addition ${name.slice(0, 100)} isn't supported for ${artifactType(detail)}`);
  const history = detail.config.history;
  ctx.type = 'application/json';
  ctx.body = Array.isArray(history) ? history : [];
}

async function addLabel(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'artifact-label.create');
  const body = await readBody(ctx, labelRef);
  const reg = a.registry.registry;
  const label = await reg.labels.get(body.id);
  if (!label) throw notFound(`label ${body.id} not found`);
  if (label.scope === 'p' && label.project_id !== t.project.id) throw badRequest(`label ${body.id} is not a label of project ${t.project.name}`);
  const record = await artifactParam(ctx, a, t.repository);
  if (!(await reg.labels.attach(t.repository, record.digest, label.id))) throw conflict(`label ${label.id} is already on the artifact`);
  await auditChange(ctx, a, { operation: 'create', resource_type: 'artifact-label', resource: `${t.repository}@${record.digest}`, project_id: t.project.id, operation_description: `label ${label.name}` });
  ok(ctx);
}

async function removeLabel(ctx: Context, a: AdminDeps): Promise<void> {
  const t = await target(ctx, a, 'artifact-label.delete');
  const id = idParam(ctx, 'label_id');
  const record = await artifactParam(ctx, a, t.repository);
  if (!(await a.registry.registry.labels.detach(t.repository, record.digest, id))) throw notFound(`label ${id} is not on the artifact`);
  await auditChange(ctx, a, { operation: 'delete', resource_type: 'artifact-label', resource: `${t.repository}@${record.digest}`, project_id: t.project.id, operation_description: `label ${id}` });
  ok(ctx);
}

