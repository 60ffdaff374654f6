// The Lua scripts of the usage ledgers (quotas): the limit check and the add are one script, so instances
// sharing a Redis never pass a limit together. Key layout: keys.ts.

export const usageScripts = {
  // KEYS: items total; ARGV: item size limit now → {outcome, total}: 1 charged, 0 present, -1 refused
  berthChargeUsage: `
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {0, total} end
local size, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
if limit >= 0 and total + size > limit then return {-1, total} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[4])
return {1, redis.call('INCRBY', KEYS[2], size)}`,

  // KEYS: items total bloblinks manifestrepos; ARGV: item holders chargedBefore|'' → 1 when removed
  berthReleaseUsage: `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local size, at = string.match(v, '^(%d+) (%d+)$')
if ARGV[3] ~= '' and tonumber(at) >= tonumber(ARGV[3]) then return 0 end
local lo, hi = '[' .. ARGV[1] .. ' ' .. ARGV[2], '(' .. ARGV[1] .. ' ' .. ARGV[2] .. '\\255'
if #redis.call('ZRANGEBYLEX', KEYS[3], lo, hi, 'LIMIT', 0, 1) > 0 then return 0 end
if #redis.call('ZRANGEBYLEX', KEYS[4], lo, hi, 'LIMIT', 0, 1) > 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DECRBY', KEYS[2], tonumber(size))
return 1`,
} as const;
