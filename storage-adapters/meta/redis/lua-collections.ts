// The Lua scripts of a record collection: a document written with its unique keys, or not at all.
// Keys: col:<name>:{seq,docs,ids,claims,unique:<field>} (keys.ts).

export const collectionScripts = {
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
