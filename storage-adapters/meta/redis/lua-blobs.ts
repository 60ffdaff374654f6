// The Lua scripts on blob links and blob guards (pins and fences), and GC's sweeps and index backfill over them.
// Key layout: keys.ts.

export const blobScripts = {
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
} as const;
