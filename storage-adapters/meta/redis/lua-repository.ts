// The Lua scripts that change a repository's manifests and tags: each is one atomic step, with its outbox events.
// Key layout: keys.ts.

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
// (keys.ts repoKeys gives them in this order)
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

export const repositoryScripts = {
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
} as const;
