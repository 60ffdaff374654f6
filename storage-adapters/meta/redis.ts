// The Redis MetaStore (ioredis): what several `berth serve` instances in one IDC share.
//
// Every change that the contract calls atomic (a manifest with its tag and outbox events, a tag delete, a manifest
// or repository delete, a collection write with its unique keys) is one Lua script, so it is applied whole or not
// at all and never interleaves with another instance's. Keys (all under `keyPrefix`; with Cluster the prefix is a
// hash tag, so every key lives in one slot and the scripts may touch several):
//   repos                       ZSET  repositories holding a manifest or a live tag (score 0: lexical order)
//   repo:<r>:manifests          HASH  digest → ManifestRecord JSON
//   repo:<r>:tags               HASH  tag → "<digest|-> <wall> <logical> <idc>" ("-": tombstone)
//   repo:<r>:live               ZSET  live tag names
//   repo:<r>:bydigest           ZSET  "<digest> <tag>" for live tags (deleteManifest finds the tags on a digest)
//   repo:<r>:referrers          ZSET  "<subject> <digest>"
//   repo:<r>:links              HASH  digest → "<size> <linkedAt>" (linkedAt: last linked or touched)
//   repo:<r>:refs               ZSET  "<ref> b|c <manifest>": the blobs (b) and children (c) each manifest references
//   repo:<r>:mtouch             HASH  digest → when a client last relied on the manifest (online GC)
//   bloblinks                   ZSET  "<digest> <repository>"
//   manifestrepos               ZSET  "<digest> <repository>" for every indexed manifest
//   guard:<digest>              HASH  id → "pin|fence <expiresAt>": writers storing bytes, a collector deleting them
//   schema:gcrefs               STRING set once refs/mtouch/manifestrepos were built for data written before them
//   uploads                     HASH  id → UploadSession JSON
//   outbox, outbox:seq          ZSET  score seq, member "<seq> <event JSON>"; INCR counter
//   lock:<name>                 STRING owner token, with PX expiry
//   col:<name>:{seq,docs,ids,claims,unique:<field>}   documents, ids in order, unique values → id
// Names (repositories, tags, digests, IDCs) contain no spaces (their grammars forbid it), so a space separates.
import { randomUUID } from 'node:crypto';
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type { Digest } from '../../core/digest.js';
import type { TagVersion } from '../../core/hlc.js';
import { StorageUnavailableError } from '../blob/blob-store.js';
import {
  ConflictError,
  NotFoundError,
  type Collection,
  type CollectionSpec,
  type FieldValue,
  type ListQuery,
  type Lock,
  type ManifestRecord,
  type MetaStore,
  type PutManifestOptions,
  BlobFencedError,
  MissingReferencesError,
  type OutboxEvent,
  type Page,
  type TagRecord,
  type TagWrite,
  type TagWriteResult,
  type UploadSession,
} from './meta-store.js';

export interface RedisMetaStoreOptions {
  /** redis:// or rediss:// URL of a standalone server (also carries password and db). */
  url?: string;
  /** Sentinel: the sentinels to ask and the master's name (url may still carry password and db). */
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  /** Cluster: seed nodes. */
  cluster?: { host: string; port: number }[];
  /** Prefix of every key (default "berth:"), so several registries can share one Redis. */
  keyPrefix?: string;
  /** A command not answered within this is failed (a hung Redis), default 5 s. */
  commandTimeoutMs?: number;
  /** How long the first use waits for the initial connection, default 2 s. */
  connectTimeoutMs?: number;
}

// --- Lua ---

// Shared helpers, prepended to every script that needs them. Versions travel as digit strings so no float
// formatting touches them; strings compare byte-wise (Lua's `<` follows the server's locale).
const luaHelpers = `
local function cmpstr(a, b)
  if a == b then return 0 end
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y and -1 or 1 end
  end
  return #a < #b and -1 or 1
end
local function cmpver(aw, al, ai, bw, bl, bi)
  local x, y = tonumber(aw), tonumber(bw)
  if x ~= y then return x < y and -1 or 1 end
  x, y = tonumber(al), tonumber(bl)
  if x ~= y then return x < y and -1 or 1 end
  return cmpstr(ai, bi)
end
local function parsetag(s)
  return string.match(s, '^(%S+) (%d+) (%d+) (%S+)$')
end
local function emit(outbox, seqkey, now, etype, repo, digest, tag, w, l, i, origin)
  local seq = redis.call('INCR', seqkey)
  local j = '{"type":"' .. etype .. '","repository":' .. cjson.encode(repo)
  if digest then j = j .. ',"digest":' .. cjson.encode(digest) end
  if tag then j = j .. ',"tag":' .. cjson.encode(tag) end
  if w then j = j .. ',"version":{"wall":' .. w .. ',"logical":' .. l .. ',"idc":' .. cjson.encode(i) .. '}' end
  if origin and origin ~= '' then j = j .. ',"origin":' .. cjson.encode(origin) end
  j = j .. ',"at":' .. now .. '}'
  redis.call('ZADD', outbox, seq, tostring(seq) .. ' ' .. j)
end
local function touchrepo(repos, manifests, live, repo)
  if redis.call('HLEN', manifests) > 0 or redis.call('ZCARD', live) > 0 then
    redis.call('ZADD', repos, 0, repo)
  else
    redis.call('ZREM', repos, repo)
  end
end
-- One tag write; digest '-' tombstones. A line-by-line port of decideTagWrite (core/tag-write.ts), held to the same
-- table of cases by test/unit/tag-write.test.ts: a replicated write (origin not '') is
-- last-writer-wins, only a newer stored version being stale; a local write never loses and, when the stored
-- version is not older, is applied just after it (same wall, logical + 1, its own IDC). The same digest again is
-- unchanged (keeping the newer version); deleting a missing tag is unchanged.
local function writetag(k, repo, name, digest, w, l, i, origin, now)
  local cur = redis.call('HGET', k.tags, name)
  local cd
  if cur then
    local cw, cl, ci
    cd, cw, cl, ci = parsetag(cur)
    local order = cmpver(cw, cl, ci, w, l, i)
    if cd == digest then
      if order > 0 then return (origin ~= '') and 'stale' or 'unchanged' end
      if order < 0 then redis.call('HSET', k.tags, name, cd .. ' ' .. w .. ' ' .. l .. ' ' .. i) end
      return 'unchanged'
    end
    if order > 0 and origin ~= '' then return 'stale' end
    if order >= 0 and origin == '' then w, l = cw, string.format('%d', tonumber(cl) + 1) end
  elseif digest == '-' then
    return 'unchanged'
  end
  redis.call('HSET', k.tags, name, digest .. ' ' .. w .. ' ' .. l .. ' ' .. i)
  if cd and cd ~= '-' then redis.call('ZREM', k.bydigest, cd .. ' ' .. name) end
  if digest == '-' then
    redis.call('ZREM', k.live, name)
    emit(k.outbox, k.seq, now, 'tag.delete', repo, (cd ~= '-') and cd or nil, name, w, l, i, origin)
  else
    redis.call('ZADD', k.live, 0, name)
    redis.call('ZADD', k.bydigest, 0, digest .. ' ' .. name)
    emit(k.outbox, k.seq, now, 'tag.put', repo, digest, name, w, l, i, origin)
  end
  return 'applied'
end
-- The reference indexes GC decides on (k.refs, k.mtouch, k.mrepos), kept with the manifests hash.
local function indexrefs(k, repo, digest, record)
  local m = cjson.decode(record)
  for _, b in ipairs(m.blobs) do redis.call('ZADD', k.refs, 0, b .. ' b ' .. digest) end
  for _, c in ipairs(m.children) do redis.call('ZADD', k.refs, 0, c .. ' c ' .. digest) end
  redis.call('ZADD', k.mrepos, 0, digest .. ' ' .. repo)
end
local function unindexrefs(k, repo, digest, record)
  local m = cjson.decode(record)
  for _, b in ipairs(m.blobs) do redis.call('ZREM', k.refs, b .. ' b ' .. digest) end
  for _, c in ipairs(m.children) do redis.call('ZREM', k.refs, c .. ' c ' .. digest) end
  redis.call('ZREM', k.mrepos, digest .. ' ' .. repo)
  redis.call('HDEL', k.mtouch, digest)
end
local function hasprefix(key, prefix)
  return #redis.call('ZRANGEBYLEX', key, '[' .. prefix .. ' ', '(' .. prefix .. '!', 'LIMIT', 0, 1) > 0
end
-- Tombstones a live tag whatever its version (its manifest or repository goes away), keeping the newer version.
local function tombstone(k, repo, name, w, l, i, origin, now)
  local cd, cw, cl, ci = parsetag(redis.call('HGET', k.tags, name))
  if cmpver(cw, cl, ci, w, l, i) > 0 then w, l, i = cw, cl, ci end
  redis.call('HSET', k.tags, name, '- ' .. w .. ' ' .. l .. ' ' .. i)
  redis.call('ZREM', k.live, name)
  redis.call('ZREM', k.bydigest, cd .. ' ' .. name)
  emit(k.outbox, k.seq, now, 'tag.delete', repo, cd, name, w, l, i, origin)
end
`;

// KEYS: repos manifests tags live bydigest referrers outbox seq refs mtouch manifestrepos links bloblinks
const repoKeys = `local k = { repos = KEYS[1], manifests = KEYS[2], tags = KEYS[3], live = KEYS[4], bydigest = KEYS[5],
  referrers = KEYS[6], outbox = KEYS[7], seq = KEYS[8], refs = KEYS[9], mtouch = KEYS[10], mrepos = KEYS[11],
  links = KEYS[12], bloblinks = KEYS[13] }`;

// Deleting a manifest: its live tags tombstoned, its indexes dropped, one manifest.delete event.
const luaDeleteManifest = `
local function deletemanifest(k, repo, digest, record, w, l, i, origin, now)
  local out = {}
  local on = redis.call('ZRANGEBYLEX', k.bydigest, '[' .. digest .. ' ', '(' .. digest .. '!')
  for _, m in ipairs(on) do
    local name = string.sub(m, #digest + 2)
    tombstone(k, repo, name, w, l, i, origin, now)
    out[#out + 1] = name
  end
  redis.call('HDEL', k.manifests, digest)
  local subject = cjson.decode(record).subject
  if type(subject) == 'string' then redis.call('ZREM', k.referrers, subject .. ' ' .. digest) end
  unindexrefs(k, repo, digest, record)
  emit(k.outbox, k.seq, now, 'manifest.delete', repo, digest, nil, w, l, i, origin)
  touchrepo(k.repos, k.manifests, k.live, repo)
  return out
end
`;

const scripts = {
  // ARGV: repo digest record subject now origin tag wall logical idc requireReferences → {'ok', result} or
  // {'missing', digest...}
  berthPutManifest: `${luaHelpers}${repoKeys}
local repo, digest, record, subject, now, origin, tag = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if ARGV[11] == '1' then
  local m = cjson.decode(record)
  local missing = {'missing'}
  for _, b in ipairs(m.blobs) do
    if redis.call('HEXISTS', k.links, b) == 0 then missing[#missing + 1] = b end
  end
  for _, c in ipairs(m.children) do
    if redis.call('HEXISTS', k.manifests, c) == 0 then missing[#missing + 1] = c end
  end
  if #missing > 1 then return missing end
end
if redis.call('HSETNX', k.manifests, digest, record) == 1 then
  if subject ~= '' then redis.call('ZADD', k.referrers, 0, subject .. ' ' .. digest) end
  indexrefs(k, repo, digest, record)
  emit(k.outbox, k.seq, now, 'manifest.put', repo, digest, nil, nil, nil, nil, origin)
else
  redis.call('HSET', k.mtouch, digest, now)
end
local result = ''
if tag ~= '' then result = writetag(k, repo, tag, digest, ARGV[8], ARGV[9], ARGV[10], origin, now) end
touchrepo(k.repos, k.manifests, k.live, repo)
return {'ok', result}`,

  // ARGV: repo tag wall logical idc origin now
  berthDeleteTag: `${luaHelpers}${repoKeys}
local result = writetag(k, ARGV[1], ARGV[2], '-', ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
touchrepo(k.repos, k.manifests, k.live, ARGV[1])
return result`,

  // ARGV: repo digest wall logical idc origin now → {0} when absent, else {1, tag...}
  berthDeleteManifest: `${luaHelpers}${repoKeys}${luaDeleteManifest}
local repo, digest, w, l, i, origin, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local record = redis.call('HGET', k.manifests, digest)
if not record then return {0} end
local out = {1}
for _, name in ipairs(deletemanifest(k, repo, digest, record, w, l, i, origin, now)) do out[#out + 1] = name end
return out`,

  // GC. ARGV: repo digest before wall logical idc now → 1 when deleted. Kept (0) while tagged, a child of a
  // manifest here, a referrer of a manifest here, touched since `before`, or the indexes are not built yet.
  berthSweepManifest: `${luaHelpers}${repoKeys}${luaDeleteManifest}
local repo, digest, before, w, l, i, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('EXISTS', KEYS[14]) == 0 then return 0 end
local record = redis.call('HGET', k.manifests, digest)
if not record then return 0 end
local m = cjson.decode(record)
local touched = tonumber(redis.call('HGET', k.mtouch, digest) or '0')
if math.max(m.createdAt, touched) >= before then return 0 end
if hasprefix(k.bydigest, digest) then return 0 end
if hasprefix(k.refs, digest .. ' c') then return 0 end
if type(m.subject) == 'string' and redis.call('HEXISTS', k.manifests, m.subject) == 1 then return 0 end
deletemanifest(k, repo, digest, record, w, l, i, 'gc', now)
return 1`,

  // KEYS: repoKeys; ARGV: repo wall logical idc now
  berthDeleteRepository: `${luaHelpers}${repoKeys}
local repo, w, l, i, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
for _, name in ipairs(redis.call('ZRANGE', k.live, 0, -1)) do tombstone(k, repo, name, w, l, i, nil, now) end
local digests = redis.call('HKEYS', k.manifests)
table.sort(digests)
for _, digest in ipairs(digests) do
  emit(k.outbox, k.seq, now, 'manifest.delete', repo, digest, nil, w, l, i, nil)
  redis.call('ZREM', k.mrepos, digest .. ' ' .. repo)
end
for _, digest in ipairs(redis.call('HKEYS', k.links)) do redis.call('ZREM', k.bloblinks, digest .. ' ' .. repo) end
redis.call('DEL', k.manifests, k.referrers, k.live, k.bydigest, k.links, k.refs, k.mtouch)
redis.call('ZREM', k.repos, repo)
return 1`,

  // KEYS: links bloblinks guard; ARGV: repo digest size now → 0 when fenced
  berthLinkBlob: `
local fence = false
for _, v in pairs(redis.call('HVALS', KEYS[3])) do
  local kind, exp = string.match(v, '^(%S+) (%d+)$')
  if kind == 'fence' and tonumber(exp) > tonumber(ARGV[4]) then fence = true end
end
if fence then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3] .. ' ' .. ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[2] .. ' ' .. ARGV[1])
return 1`,

  // KEYS: links; ARGV: digest now → 1 when linked
  berthTouchLink: `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], string.match(v, '^(%S+)') .. ' ' .. ARGV[2])
return 1`,

  // KEYS: links bloblinks refs schema; ARGV: repo digest before → 1 when removed
  berthSweepLink: `
if redis.call('EXISTS', KEYS[4]) == 0 then return 0 end
local v = redis.call('HGET', KEYS[1], ARGV[2])
if not v then return 0 end
local at = tonumber(string.match(v, '^%S+ (%d+)$'))
if at >= tonumber(ARGV[3]) then return 0 end
if #redis.call('ZRANGEBYLEX', KEYS[3], '[' .. ARGV[2] .. ' b ', '(' .. ARGV[2] .. ' b!', 'LIMIT', 0, 1) > 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2] .. ' ' .. ARGV[1])
return 1`,

  // KEYS: guard bloblinks manifestrepos; ARGV: digest kind id ttl now → 1 when granted. A pin is refused while a
  // fence stands; a fence while a pin, a link or a manifest holds the digest. Expired entries are dropped.
  berthGuard: `
local digest, kind, id, ttl, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local pins, fences, latest = 0, 0, now + ttl
local all = redis.call('HGETALL', KEYS[1])
for j = 1, #all, 2 do
  local gk, exp = string.match(all[j + 1], '^(%S+) (%d+)$')
  exp = tonumber(exp)
  if exp <= now then
    redis.call('HDEL', KEYS[1], all[j])
  else
    if gk == 'pin' then pins = pins + 1 else fences = fences + 1 end
    if exp > latest then latest = exp end
  end
end
if fences > 0 then return 0 end
if kind == 'fence' then
  if pins > 0 then return 0 end
  if #redis.call('ZRANGEBYLEX', KEYS[2], '[' .. digest .. ' ', '(' .. digest .. '!', 'LIMIT', 0, 1) > 0 then return 0 end
  if #redis.call('ZRANGEBYLEX', KEYS[3], '[' .. digest .. ' ', '(' .. digest .. '!', 'LIMIT', 0, 1) > 0 then return 0 end
end
redis.call('HSET', KEYS[1], id, kind .. ' ' .. string.format('%d', now + ttl))
redis.call('PEXPIREAT', KEYS[1], string.format('%d', latest))
return 1`,

  // KEYS: manifests refs manifestrepos; ARGV: repo — builds the GC indexes of a repository written before them
  berthBackfillRefs: `
local all = redis.call('HGETALL', KEYS[1])
for j = 1, #all, 2 do
  local digest, m = all[j], cjson.decode(all[j + 1])
  for _, b in ipairs(m.blobs) do redis.call('ZADD', KEYS[2], 0, b .. ' b ' .. digest) end
  for _, c in ipairs(m.children) do redis.call('ZADD', KEYS[2], 0, c .. ' c ' .. digest) end
  redis.call('ZADD', KEYS[3], 0, digest .. ' ' .. ARGV[1])
end
return #all / 2`,

  // KEYS: links bloblinks; ARGV: repo digest
  berthUnlinkBlob: `
local n = redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2] .. ' ' .. ARGV[1])
return n`,

  // KEYS: lock; ARGV: owner
  berthReleaseLock: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,

  // KEYS: seq docs ids claims unique:<f>...; ARGV: doc-without-id, then per unique field: field, encoded value|''
  // → {'conflict', field} or {'ok', id}
  berthInsertDoc: `
local n = #KEYS - 4
for f = 1, n do
  local v = ARGV[2 * f + 1]
  if v ~= '' and redis.call('HEXISTS', KEYS[4 + f], v) == 1 then return {'conflict', ARGV[2 * f]} end
end
local id = tostring(redis.call('INCR', KEYS[1]))
local doc = ARGV[1]
if doc == '{}' then doc = '{"id":' .. id .. '}' else doc = string.sub(doc, 1, -2) .. ',"id":' .. id .. '}' end
redis.call('HSET', KEYS[2], id, doc)
redis.call('ZADD', KEYS[3], id, id)
local claims = {}
for f = 1, n do
  local v = ARGV[2 * f + 1]
  if v ~= '' then
    redis.call('HSET', KEYS[4 + f], v, id)
    claims[#claims + 1] = ARGV[2 * f]
    claims[#claims + 1] = v
  end
end
redis.call('HSET', KEYS[4], id, cjson.encode(claims))
return {'ok', id}`,

  // KEYS: docs claims unique:<f>...; ARGV: id doc, then per unique field: field, encoded value|''
  berthUpdateDoc: `
local n = #KEYS - 2
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[1], id) == 0 then return {'notfound'} end
local keyof = {}
for f = 1, n do
  keyof[ARGV[2 * f + 1]] = KEYS[2 + f]
  local v = ARGV[2 * f + 2]
  if v ~= '' then
    local owner = redis.call('HGET', KEYS[2 + f], v)
    if owner and owner ~= id then return {'conflict', ARGV[2 * f + 1]} end
  end
end
local old = redis.call('HGET', KEYS[2], id)
if old then
  local c = cjson.decode(old)
  for j = 1, #c, 2 do
    local key = keyof[c[j]]
    if key and redis.call('HGET', key, c[j + 1]) == id then redis.call('HDEL', key, c[j + 1]) end
  end
end
local claims = {}
for f = 1, n do
  local v = ARGV[2 * f + 2]
  if v ~= '' then
    redis.call('HSET', KEYS[2 + f], v, id)
    claims[#claims + 1] = ARGV[2 * f + 1]
    claims[#claims + 1] = v
  end
end
redis.call('HSET', KEYS[2], id, cjson.encode(claims))
redis.call('HSET', KEYS[1], id, ARGV[2])
return {'ok'}`,

  // KEYS: docs ids claims unique:<f>...; ARGV: id, then the unique field names
  berthDeleteDoc: `
local id = ARGV[1]
if redis.call('HDEL', KEYS[1], id) == 0 then return 0 end
redis.call('ZREM', KEYS[2], id)
local keyof = {}
for f = 4, #KEYS do keyof[ARGV[f - 2]] = KEYS[f] end
local old = redis.call('HGET', KEYS[3], id)
if old then
  local c = cjson.decode(old)
  for j = 1, #c, 2 do
    local key = keyof[c[j]]
    if key and redis.call('HGET', key, c[j + 1]) == id then redis.call('HDEL', key, c[j + 1]) end
  end
  redis.call('HDEL', KEYS[3], id)
end
return 1`,
} as const;

type ScriptName = keyof typeof scripts;
/** The scripts as ioredis defines them: (numberOfKeys, ...keys, ...args). */
type Scripted = Record<ScriptName, (numKeys: number, ...args: (string | number)[]) => Promise<unknown>>;
type Client = (Redis | Cluster) & Scripted;

export class RedisMetaStore implements MetaStore {
  private readonly redis: Client;
  private readonly startTimeout: number;
  private closed = false;

  constructor(opts: RedisMetaStoreOptions) {
    let prefix = opts.keyPrefix ?? 'berth:';
    // Fail fast while Redis is away (503 at once, not a queue) and reconnect in the background for ever. A command
    // cut off by a lost connection is failed, never sent again behind the caller's back (an insert would repeat).
    const common: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: opts.connectTimeoutMs ?? 2000,
      commandTimeout: opts.commandTimeoutMs ?? 5000,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
      lazyConnect: true,
    };
    let client: Redis | Cluster;
    if (opts.cluster?.length) {
      if (!/\{.+\}/.test(prefix)) prefix = `{${prefix.replace(/:$/, '')}}:`;
      const url = opts.url ? new URL(opts.url) : undefined;
      client = new Cluster(opts.cluster as ClusterNode[], {
        keyPrefix: prefix,
        enableOfflineQueue: false,
        lazyConnect: true,
        clusterRetryStrategy: (times: number) => Math.min(100 * times, 1000),
        redisOptions: {
          ...common,
          ...(url?.password ? { password: decodeURIComponent(url.password) } : {}),
          ...(url?.username ? { username: decodeURIComponent(url.username) } : {}),
        },
      });
    } else if (opts.sentinels?.length) {
      const url = opts.url ? new URL(opts.url) : undefined;
      client = new Redis({
        ...common,
        keyPrefix: prefix,
        sentinels: opts.sentinels,
        name: opts.sentinelName ?? 'mymaster',
        ...(url?.password ? { password: decodeURIComponent(url.password) } : {}),
        ...(url?.username ? { username: decodeURIComponent(url.username) } : {}),
        ...(url && url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
      });
    } else {
      if (!opts.url) throw new Error('RedisMetaStore needs a url, sentinels or cluster nodes');
      client = new Redis(opts.url, { ...common, keyPrefix: prefix });
    }
    // Connection errors surface on the commands (as StorageUnavailableError); without a listener ioredis
    // would also print each reconnect failure.
    client.on('error', () => {});
    for (const [name, lua] of Object.entries(scripts)) client.defineCommand(name, { lua });
    this.redis = client as Client;
    this.startTimeout = opts.connectTimeoutMs ?? 2000;
    void this.redis.connect().catch(() => {}); // retried by the retry strategy; the first command waits for it
  }

  // --- repositories ---

  async listRepositories(page?: Page): Promise<string[]> {
    return this.lexPage('repos', page);
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return (await this.run((r) => r.zscore('repos', repository))) !== null;
  }

  async deleteRepository(repository: string, version: TagVersion): Promise<void> {
    const v = versionArgs(version);
    await this.run((r) =>
      r.berthDeleteRepository(13, ...this.repoKeys(repository), repository, ...v, Date.now()),
    );
  }

  // --- blob links ---

  async linkBlob(repository: string, digest: Digest, size: number): Promise<void> {
    const ok = await this.run((r) => r.berthLinkBlob(3, rk(repository, 'links'), 'bloblinks', `guard:${digest}`, repository, digest, size, Date.now()));
    if (ok !== 1) throw new BlobFencedError(digest);
  }

  async getBlobLink(repository: string, digest: Digest): Promise<{ size: number; linkedAt: number } | undefined> {
    const v = await this.run((r) => r.hget(rk(repository, 'links'), digest));
    return v === null ? undefined : parseLink(v);
  }

  async unlinkBlob(repository: string, digest: Digest): Promise<boolean> {
    const n = await this.run((r) => r.berthUnlinkBlob(2, rk(repository, 'links'), 'bloblinks', repository, digest));
    return n === 1;
  }

  async blobRepositories(digest: Digest, limit?: number): Promise<string[]> {
    if (limit !== undefined && limit <= 0) return [];
    const members = await this.run((r) =>
      limit === undefined
        ? r.zrangebylex('bloblinks', `[${digest} `, `(${digest}!`)
        : r.zrangebylex('bloblinks', `[${digest} `, `(${digest}!`, 'LIMIT', 0, Math.floor(limit)),
    );
    return members.map((m) => m.slice(digest.length + 1));
  }

  async listBlobLinks(repository: string): Promise<{ digest: Digest; size: number; linkedAt: number }[]> {
    const all = await this.run((r) => r.hgetall(rk(repository, 'links')));
    return Object.entries(all)
      .map(([digest, v]) => ({ digest: digest as Digest, ...parseLink(v) }))
      .sort((a, b) => byteCompare(a.digest, b.digest));
  }

  // --- manifests ---

  async putManifest(repository: string, record: ManifestRecord, tag?: TagWrite, opts?: PutManifestOptions): Promise<TagWriteResult | undefined> {
    await this.gcIndexes();
    const v = tag ? versionArgs(tag.version) : ['', '', ''];
    const [status, ...rest] = (await this.run((r) =>
      r.berthPutManifest(
        13,
        ...this.repoKeys(repository),
        repository,
        record.digest,
        JSON.stringify(manifestOf(record)),
        record.subject ?? '',
        Date.now(),
        tag?.origin ?? '',
        tag?.name ?? '',
        ...v,
        opts?.requireReferences ? '1' : '0',
      ),
    )) as string[];
    if (status === 'missing') throw new MissingReferencesError([...new Set(rest)].sort(byteCompare));
    return tag ? (rest[0] as TagWriteResult) : undefined;
  }

  async getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    const v = await this.run((r) => r.hget(rk(repository, 'manifests'), digest));
    return v === null ? undefined : (JSON.parse(v) as ManifestRecord);
  }

  async deleteManifest(repository: string, digest: Digest, version: TagVersion, origin?: string): Promise<string[] | undefined> {
    const out = (await this.run((r) =>
      r.berthDeleteManifest(13, ...this.repoKeys(repository), repository, digest, ...versionArgs(version), origin ?? '', Date.now()),
    )) as [number, ...string[]];
    return out[0] === 0 ? undefined : out.slice(1).map(String);
  }

  async listManifests(repository: string): Promise<ManifestRecord[]> {
    const all = await this.run((r) => r.hgetall(rk(repository, 'manifests')));
    return Object.keys(all)
      .sort(byteCompare)
      .map((d) => JSON.parse(all[d]!) as ManifestRecord);
  }

  async listReferrers(repository: string, subject: Digest): Promise<ManifestRecord[]> {
    const records = await this.run(async (r) => {
      const members = await r.zrangebylex(rk(repository, 'referrers'), `[${subject} `, `(${subject}!`);
      if (members.length === 0) return [];
      return r.hmget(rk(repository, 'manifests'), ...members.map((m) => m.slice(subject.length + 1)));
    });
    return records.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as ManifestRecord);
  }

  // --- tags ---

  async getTag(repository: string, tag: string): Promise<TagRecord | undefined> {
    const v = await this.run((r) => r.hget(rk(repository, 'tags'), tag));
    if (v === null) return undefined;
    const rec = parseTag(repository, tag, v);
    return rec.digest === null ? undefined : rec;
  }

  async listTags(repository: string, page?: Page): Promise<string[]> {
    return this.lexPage(rk(repository, 'live'), page);
  }

  async listTagRecords(repository: string): Promise<TagRecord[]> {
    const all = await this.run((r) => r.hgetall(rk(repository, 'tags')));
    return Object.keys(all)
      .sort(byteCompare)
      .map((name) => parseTag(repository, name, all[name]!));
  }

  async deleteTag(repository: string, tag: string, version: TagVersion, origin?: string): Promise<TagWriteResult> {
    return (await this.run((r) =>
      r.berthDeleteTag(13, ...this.repoKeys(repository), repository, tag, ...versionArgs(version), origin ?? '', Date.now()),
    )) as TagWriteResult;
  }

  // --- upload sessions ---

  async createUpload(session: UploadSession): Promise<void> {
    const s: UploadSession = { id: session.id, repository: session.repository, startedAt: session.startedAt };
    await this.run((r) => r.hset('uploads', session.id, JSON.stringify(s)));
  }

  async getUpload(id: string): Promise<UploadSession | undefined> {
    const v = await this.run((r) => r.hget('uploads', id));
    return v === null ? undefined : (JSON.parse(v) as UploadSession);
  }

  async deleteUpload(id: string): Promise<void> {
    await this.run((r) => r.hdel('uploads', id));
  }

  async listUploads(): Promise<UploadSession[]> {
    const all = await this.run((r) => r.hvals('uploads'));
    return all
      .map((v) => JSON.parse(v) as UploadSession)
      .sort((a, b) => a.startedAt - b.startedAt || byteCompare(a.id, b.id));
  }

  // --- outbox ---

  async readOutbox(afterSeq: number, limit: number): Promise<OutboxEvent[]> {
    if (limit <= 0) return [];
    const members = await this.run((r) => r.zrangebyscore('outbox', `(${afterSeq}`, '+inf', 'LIMIT', 0, Math.floor(limit)));
    return members.map(parseEvent);
  }

  // --- records ---

  collection<T extends { id: number }>(name: string, spec?: CollectionSpec<T>): Collection<T> {
    return new RedisCollection<T>(this, name, spec?.unique ?? []);
  }

  // --- online GC ---

  async touchBlobLink(repository: string, digest: Digest): Promise<boolean> {
    return (await this.run((r) => r.berthTouchLink(1, rk(repository, 'links'), digest, Date.now()))) === 1;
  }

  async touchManifest(repository: string, digest: Digest): Promise<boolean> {
    return this.run(async (r) => {
      if (!(await r.hexists(rk(repository, 'manifests'), digest))) return false;
      await r.hset(rk(repository, 'mtouch'), digest, Date.now());
      return true;
    });
  }

  async pinBlob(digest: Digest, ttlMs: number): Promise<Lock> {
    const lock = await this.guard(digest, 'pin', ttlMs);
    if (!lock) throw new BlobFencedError(digest);
    return lock;
  }

  fenceBlob(digest: Digest, ttlMs: number): Promise<Lock | undefined> {
    return this.guard(digest, 'fence', ttlMs);
  }

  async sweepManifest(repository: string, digest: Digest, before: number, version: TagVersion): Promise<boolean> {
    await this.gcIndexes();
    const n = await this.run((r) =>
      r.berthSweepManifest(14, ...this.repoKeys(repository), 'schema:gcrefs', repository, digest, Math.floor(before), ...versionArgs(version), Date.now()),
    );
    return n === 1;
  }

  async sweepBlobLink(repository: string, digest: Digest, before: number): Promise<boolean> {
    await this.gcIndexes();
    const n = await this.run((r) =>
      r.berthSweepLink(4, rk(repository, 'links'), 'bloblinks', rk(repository, 'refs'), 'schema:gcrefs', repository, digest, Math.floor(before)),
    );
    return n === 1;
  }

  private async guard(digest: Digest, kind: 'pin' | 'fence', ttlMs: number): Promise<Lock | undefined> {
    const id = randomUUID();
    const key = `guard:${digest}`;
    const ok = await this.run((r) => r.berthGuard(3, key, 'bloblinks', 'manifestrepos', digest, kind, id, Math.max(1, Math.ceil(ttlMs)), Date.now()));
    if (ok !== 1) return undefined;
    return {
      release: async () => {
        await this.run((r) => r.hdel(key, id));
      },
    };
  }

  /** Data written before the GC indexes existed gets them once (every instance may run this; it is idempotent);
   *  until `schema:gcrefs` is set, sweeps keep everything. */
  private gcIndexesReady: Promise<void> | undefined;
  private gcIndexes(): Promise<void> {
    this.gcIndexesReady ??= (async () => {
      if ((await this.run((r) => r.exists('schema:gcrefs'))) === 1) return;
      for (let last: string | undefined; ; ) {
        const page = await this.listRepositories({ last, n: 500 });
        for (const repo of page) {
          await this.run((r) => r.berthBackfillRefs(3, rk(repo, 'manifests'), rk(repo, 'refs'), 'manifestrepos', repo));
        }
        if (page.length < 500) break;
        last = page[page.length - 1];
      }
      await this.run((r) => r.set('schema:gcrefs', '1'));
    })().catch((e: unknown) => {
      this.gcIndexesReady = undefined;
      throw e;
    });
    return this.gcIndexesReady;
  }

  // --- coordination ---

  async acquireLock(name: string, ttlMs: number): Promise<Lock | undefined> {
    const owner = randomUUID();
    const key = `lock:${name}`;
    const ok = await this.run((r) => r.set(key, owner, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'));
    if (ok !== 'OK') return undefined;
    return {
      // only the owner's token deletes: after expiry another instance may hold the lock
      release: async () => {
        await this.run((r) => r.berthReleaseLock(1, key, owner));
      },
    };
  }

  async ping(): Promise<void> {
    await this.run((r) => r.ping());
  }

  /** Another connection with this store's settings, not yet connected (pub/sub needs one of its own). The
   *  caller connects and closes it. */
  duplicateConnection(): Redis | Cluster {
    const r: Redis | Cluster = this.redis;
    const c = r instanceof Cluster ? r.duplicate() : r.duplicate();
    c.on('error', () => {});
    return c;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  // --- internals ---

  /** Runs commands once connected; every failure to reach Redis becomes StorageUnavailableError. */
  async run<T>(fn: (r: Client) => Promise<T>): Promise<T> {
    if (this.closed) throw new StorageUnavailableError('Redis metadata store is closed');
    try {
      await this.connected();
      return await fn(this.redis);
    } catch (e) {
      if (isUnavailable(e)) {
        throw new StorageUnavailableError(`Redis unavailable: ${(e as Error).message}`, { cause: e });
      }
      throw e;
    }
  }

  /** Before the first connection succeeds, a command waits for it (up to the connect timeout); afterwards a lost
   *  connection fails commands at once while ioredis reconnects. */
  private everReady = false;
  private async connected(): Promise<void> {
    if (this.redis.status === 'ready') {
      this.everReady = true;
      return;
    }
    if (this.everReady) return; // the command fails fast on its own (offline queue disabled)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        reject(new StorageUnavailableError(`Redis not reachable within ${this.startTimeout} ms`));
      }, this.startTimeout);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
    this.everReady = true;
  }

  private repoKeys(repository: string): string[] {
    return [
      'repos',
      rk(repository, 'manifests'),
      rk(repository, 'tags'),
      rk(repository, 'live'),
      rk(repository, 'bydigest'),
      rk(repository, 'referrers'),
      'outbox',
      'outbox:seq',
      rk(repository, 'refs'),
      rk(repository, 'mtouch'),
      'manifestrepos',
      rk(repository, 'links'),
      'bloblinks',
    ];
  }

  private async lexPage(key: string, page?: Page): Promise<string[]> {
    if (page?.n !== undefined && page.n <= 0) return [];
    const min = page?.last ? `(${page.last}` : '-';
    return this.run((r) =>
      page?.n === undefined ? r.zrangebylex(key, min, '+') : r.zrangebylex(key, min, '+', 'LIMIT', 0, Math.floor(page.n)),
    );
  }
}

class RedisCollection<T extends { id: number }> implements Collection<T> {
  constructor(
    private readonly store: RedisMetaStore,
    private readonly name: string,
    private readonly unique: readonly string[],
  ) {}

  async insert(doc: Omit<T, 'id'>): Promise<T> {
    const { id: _drop, ...rest } = doc as Omit<T, 'id'> & { id?: unknown };
    const keys = [this.key('seq'), this.key('docs'), this.key('ids'), this.key('claims'), ...this.uniqueKeys()];
    const out = (await this.store.run((r) =>
      r.berthInsertDoc(keys.length, ...keys, JSON.stringify(rest), ...this.uniqueArgs(rest)),
    )) as [string, string];
    if (out[0] === 'conflict') throw new ConflictError(this.name, out[1]);
    return { ...rest, id: Number(out[1]) } as unknown as T;
  }

  async get(id: number): Promise<T | undefined> {
    const v = await this.store.run((r) => r.hget(this.key('docs'), String(id)));
    return v === null ? undefined : (JSON.parse(v) as T);
  }

  async findOne(field: keyof T & string, value: FieldValue): Promise<T | undefined> {
    if (this.unique.includes(field) && value !== null) {
      const v = await this.store.run(async (r) => {
        const id = await r.hget(this.key(`unique:${field}`), JSON.stringify(value));
        return id === null ? null : r.hget(this.key('docs'), id);
      });
      return v === null ? undefined : (JSON.parse(v) as T);
    }
    const where = { [field]: value } as ListQuery<T>['where'];
    return (await this.list({ where, limit: 1 })).items[0];
  }

  async update(doc: T): Promise<void> {
    const keys = [this.key('docs'), this.key('claims'), ...this.uniqueKeys()];
    const out = (await this.store.run((r) =>
      r.berthUpdateDoc(keys.length, ...keys, String(doc.id), JSON.stringify(doc), ...this.uniqueArgs(doc)),
    )) as [string, string?];
    if (out[0] === 'notfound') throw new NotFoundError(this.name, doc.id);
    if (out[0] === 'conflict') throw new ConflictError(this.name, out[1]!);
  }

  async delete(id: number): Promise<boolean> {
    const keys = [this.key('docs'), this.key('ids'), this.key('claims'), ...this.uniqueKeys()];
    const n = await this.store.run((r) => r.berthDeleteDoc(keys.length, ...keys, String(id), ...this.unique));
    return n === 1;
  }

  async list(query: ListQuery<T> = {}): Promise<{ items: T[]; total: number }> {
    const offset = Math.max(0, Math.floor(query.offset ?? 0));
    const limit = query.limit === undefined ? Infinity : Math.max(0, Math.floor(query.limit));
    const where = Object.entries(query.where ?? {}).filter(([, v]) => v !== undefined);
    if (where.length === 0) {
      // total and the page of ids in one transaction, then their documents
      const [total, docs] = await this.store.run(async (r) => {
        if (limit === 0) return [await r.zcard(this.key('ids')), []] as const;
        const stop = limit === Infinity ? -1 : offset + limit - 1;
        const tx = r.multi().zcard(this.key('ids'));
        if (query.order === 'desc') tx.zrevrange(this.key('ids'), offset, stop);
        else tx.zrange(this.key('ids'), String(offset), String(stop));
        const [count, ids] = execResult(await tx.exec()) as [number, string[]];
        return [count, ids.length ? await r.hmget(this.key('docs'), ...ids) : []] as const;
      });
      return { items: docs.filter((d): d is string => d !== null).map((d) => JSON.parse(d) as T), total };
    }
    // Equality filters scan the collection's documents (admin records: users, projects, policies).
    const all = (await this.store.run((r) => r.hvals(this.key('docs'))))
      .map((d) => JSON.parse(d) as T)
      .filter((doc) => where.every(([f, v]) => (doc as Record<string, unknown>)[f] === v))
      .sort((a, b) => (query.order === 'desc' ? b.id - a.id : a.id - b.id));
    return { items: all.slice(offset, offset + limit), total: all.length };
  }

  private key(part: string): string {
    return `col:${this.name}:${part}`;
  }

  private uniqueKeys(): string[] {
    return this.unique.map((f) => this.key(`unique:${f}`));
  }

  /** Per unique field: its name and its value as JSON (so 1 and "1" differ); '' when absent or null (like SQL,
   *  absent values never collide). */
  private uniqueArgs(doc: object): string[] {
    return this.unique.flatMap((f) => {
      const v = (doc as Record<string, unknown>)[f];
      return [f, v === undefined || v === null ? '' : JSON.stringify(v)];
    });
  }
}

function rk(repository: string, part: string): string {
  return `repo:${repository}:${part}`;
}

function versionArgs(v: TagVersion): [string, string, string] {
  if (!Number.isSafeInteger(v.wall) || !Number.isSafeInteger(v.logical) || v.wall < 0 || v.logical < 0 || !/^\S+$/.test(v.idc)) {
    throw new Error(`invalid tag version ${JSON.stringify(v)}`);
  }
  return [String(v.wall), String(v.logical), v.idc];
}

function parseTag(repository: string, name: string, v: string): TagRecord {
  const [digest, wall, logical, idc] = v.split(' ') as [string, string, string, string];
  return {
    repository,
    name,
    digest: digest === '-' ? null : (digest as Digest),
    version: { wall: Number(wall), logical: Number(logical), idc },
  };
}

function parseLink(v: string): { size: number; linkedAt: number } {
  const [size, linkedAt] = v.split(' ');
  return { size: Number(size), linkedAt: Number(linkedAt) };
}

function parseEvent(member: string): OutboxEvent {
  const space = member.indexOf(' ');
  const body = JSON.parse(member.slice(space + 1)) as Omit<OutboxEvent, 'seq'>;
  const e: OutboxEvent = { seq: Number(member.slice(0, space)), type: body.type, repository: body.repository, at: body.at };
  if (body.digest !== undefined) e.digest = body.digest;
  if (body.tag !== undefined) e.tag = body.tag;
  if (body.version !== undefined) e.version = body.version;
  if (body.origin !== undefined) e.origin = body.origin;
  return e;
}

/** Only the contract's fields, so nothing else the caller's object carries is stored. */
function manifestOf(m: ManifestRecord): ManifestRecord {
  const out: ManifestRecord = {
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.size,
    blobs: m.blobs,
    children: m.children,
    createdAt: m.createdAt,
  };
  if (m.artifactType !== undefined) out.artifactType = m.artifactType;
  if (m.subject !== undefined) out.subject = m.subject;
  if (m.annotations !== undefined) out.annotations = m.annotations;
  return out;
}

/** MULTI results: the first command error, if any, is thrown. */
function execResult(res: [Error | null, unknown][] | null): unknown[] {
  if (!res) throw new StorageUnavailableError('Redis transaction aborted');
  return res.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
}

function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Redis replies that mean "not now" rather than "wrong command". */
const unavailableReplies = /^(LOADING|READONLY|CLUSTERDOWN|MASTERDOWN|TRYAGAIN|NOREPLICAS|BUSY)\b/;

function isUnavailable(e: unknown): boolean {
  if (e instanceof StorageUnavailableError) return false; // already mapped; rethrown as is by run()
  if (!(e instanceof Error)) return false;
  if (e.name === 'ReplyError') return unavailableReplies.test(e.message);
  // Connection closed, stream not writeable (offline), timeouts, MaxRetriesPerRequestError, socket errors.
  return (
    e.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|Command timed out|connect ETIMEDOUT|ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH|All sentinels are unreachable|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready/.test(
      e.message,
    ) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes((e as { code?: string }).code ?? '')
  );
}
