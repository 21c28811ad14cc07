/**
 * The Lua scripts of the Redis driver. Each touches keys of one hash tag
 * only (the caller passes them as KEYS), so it runs on Redis Cluster too.
 * Time comes from the server (TIME), so gateways on machines whose clocks
 * differ still agree on ages and expiries.
 */

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS: stream, then one marker per entry. ARGV: ttlMs, then the payloads.
 * Per entry, its id, or nil when its marker was set.
 */
export const APPEND_ONCE_MANY = `
local ids = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ARGV[1]) then
    ids[i - 1] = redis.call('XADD', KEYS[1], '*', 'p', ARGV[i])
  else
    ids[i - 1] = false
  end
end
return ids`;

/**
 * KEYS: stream. Removes what every group acknowledged: entries before the
 * smallest, over the groups, of the oldest pending id (or, with nothing
 * pending, the id right after the last delivered). No group: nothing.
 */
export const TRIM_ACKNOWLEDGED = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local function split(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local best_ms, best_seq
for _, g in ipairs(groups) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  local ms, seq
  if tonumber(f['pending']) > 0 then
    ms, seq = split(redis.call('XPENDING', KEYS[1], f['name'])[2])
  else
    ms, seq = split(f['last-delivered-id'])
    seq = seq + 1
  end
  if best_ms == nil or ms < best_ms or (ms == best_ms and seq < best_seq) then
    best_ms, best_seq = ms, seq
  end
end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', best_ms, best_seq))`;

/**
 * Shared by the history scripts. KEYS: stream, meta (same tag). ARGV[1]
 * maxAgeMs, ARGV[2] a new epoch. Opens the history (a new epoch when its meta
 * is gone: expired, or the server lost it), drops entries older than maxAgeMs
 * (at most 100 per call: the rest go on the next), and keeps both keys alive
 * for maxAgeMs more.
 */
const OPEN_HISTORY = `${NOW}
local max_age = tonumber(ARGV[1])
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[2]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'offset', 0)
end
local oldest = now - max_age
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 100)
for _, entry in ipairs(head) do
  if tonumber(entry[2][2]) > oldest then break end
  redis.call('XDEL', KEYS[1], entry[1])
end
redis.call('PEXPIRE', KEYS[2], max_age)
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], max_age) end`;

/** KEYS: stream, meta. ARGV: maxAgeMs, newEpoch, payload, maxLength. {epoch, offset}. */
export const HISTORY_APPEND = `${OPEN_HISTORY}
local offset = redis.call('HINCRBY', KEYS[2], 'offset', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[4], string.format('%d-0', offset), 't', now, 'p', ARGV[3])
redis.call('PEXPIRE', KEYS[1], max_age)
return {epoch, offset}`;

/**
 * KEYS: stream, meta. ARGV: maxAgeMs, newEpoch, after, limit (0: position
 * only). {epoch, offset, entries} with entries as XRANGE gives them.
 */
export const HISTORY_READ = `${OPEN_HISTORY}
local offset = tonumber(redis.call('HGET', KEYS[2], 'offset'))
local entries = {}
local limit = tonumber(ARGV[4])
if limit > 0 then
  entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[3] .. '-0', '+', 'COUNT', limit)
end
return {epoch, offset, entries}`;

/** KEYS: presence hash. ARGV: gatewayId, ttlMs. */
export const PRESENCE_TOUCH = `${NOW}
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], now + ttl)
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end`;

/** KEYS: presence hash. The gateways whose entry has not expired; expired ones are removed. */
export const PRESENCE_READ = `${NOW}
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) > now then
    table.insert(live, all[i])
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return live`;
