"""The Redis inbox's server-side scripts: each change of several keys is one atomic script.

Layout (every key carries the ``{namespace}`` hash tag, so all sit in one slot):

- ``{ns}:m:ID`` hash, one per message: its metadata, payload, ``seq`` and, while it
  is in a stream, ``entry`` (its stream entry id).
- ``{ns}:q:DEST`` stream per destination node, consumer group ``inbox``: an entry
  ``id=ID`` per deliverable message. Pull is XREADGROUP, ack is XACK (+ XDEL);
  the pending entries list (PEL) holds deliveries, its idle time is the
  visibility timeout and its delivery count the message's ``tries``.
- Expired deliveries are XCLAIMed (JUSTID: the count stays) by the consumer
  ``RELEASED``; a pull takes those first (XCLAIM, the count goes up), then new
  entries. Every PEL entry is older than any undelivered one, so pulls stay
  oldest first.
- ``{ns}:scheduled`` zset (time → ID) until the clock adds them to their stream.
- ``{ns}:all`` and ``{ns}:to:DEST`` zsets (seq → ID) for listings, newest first;
  ``{ns}:dests`` the destinations that have a stream, ``{ns}:nodes`` every destination
  ever pushed to; ``{ns}:seq`` the counter.

KEYS[1] is always ``{ns}``; KEYS[2] names the calling agent process
(``{ns}:agent:UUID``, never written): every change is published on
``{ns}:changes`` as JSON, the message's fields but its payload (its ``size``
instead) with ``origin`` = KEYS[2], or ``{"origin", "deleted": ID}`` /
``{"origin", "deleted_all": COUNT}``, so that the agents sharing the inbox tell
their consoles of each other's changes. Times are the Redis server's clock (TIME), epoch
seconds as ``%.6f`` strings, so every agent sharing the store agrees on them.
Replies are HGETALL field lists (binary-safe).
"""

from __future__ import annotations

GROUP = "inbox"
RELEASED = "(released)"
"""The consumer that holds expired deliveries until a pull takes them again."""

PRELUDE = (
    (
        """
local P = KEYS[1]
local GROUP = '@GROUP@'
local RELEASED = '@RELEASED@'
local function now()
  local t = redis.call('TIME')
  return string.format('%.6f', tonumber(t[1]) + tonumber(t[2]) / 1000000)
end
local function mkey(id) return P .. ':m:' .. id end
local function qkey(dest) return P .. ':q:' .. dest end
local function message(id) return redis.call('HGETALL', mkey(id)) end
local function publish(event)
  event.origin = KEYS[2]
  redis.call('PUBLISH', P .. ':changes', cjson.encode(event))
end
local function changed(id)
  local h = redis.call('HGETALL', mkey(id))
  local event = {}
  for i = 1, #h, 2 do
    if h[i] == 'payload' then event.size = #h[i + 1]
    elseif h[i] ~= 'entry' and h[i] ~= 'seq' then event[h[i]] = h[i + 1] end
  end
  publish(event)
  return h
end
local function enqueue(id, dest)
  local q = qkey(dest)
  if redis.call('SADD', P .. ':dests', dest) == 1 then
    redis.pcall('XGROUP', 'CREATE', q, GROUP, '0', 'MKSTREAM')
  end
  local entry = redis.call('XADD', q, '*', 'id', id)
  redis.call('HSET', mkey(id), 'status', 'pending', 'entry', entry)
end
local function unqueue(id, dest, entry)
  redis.call('XACK', qkey(dest), GROUP, entry)
  redis.call('XDEL', qkey(dest), entry)
  redis.call('HDEL', mkey(id), 'entry')
end
"""
    )
    .replace("@GROUP@", GROUP)
    .replace("@RELEASED@", RELEASED)
)

PUSH = (
    PRELUDE
    + """
-- ARGV: id, source, destination, payload, payload_type, accepted_by, [field, value]...
local id, dest = ARGV[1], ARGV[3]
-- A retried call (its reply lost with the connection) finds its message already there.
if redis.call('EXISTS', mkey(id)) == 1 then return message(id) end
local t = now()
local seq = redis.call('INCR', P .. ':seq')
local k = mkey(id)
redis.call('HSET', k, 'id', id, 'node_source', ARGV[2], 'node_destination', dest,
  'payload', ARGV[4], 'payload_type', ARGV[5], 'accepted_by', ARGV[6],
  'created_time', t, 'update_time', t, 'tries', 0, 'seq', seq)
for i = 7, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', P .. ':all', seq, id)
redis.call('ZADD', P .. ':to:' .. dest, seq, id)
redis.call('SADD', P .. ':nodes', dest)
local scheduled = redis.call('HGET', k, 'scheduled_time')
if scheduled then
  redis.call('HSET', k, 'status', 'scheduled')
  redis.call('ZADD', P .. ':scheduled', scheduled, id)
else
  enqueue(id, dest)
end
return changed(id)
"""
)

PULL = (
    PRELUDE
    + """
-- ARGV: destination, quantity, consumer (this agent's name)
local dest, count, consumer = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local q = qkey(dest)
if redis.call('EXISTS', q) == 0 then return {} end
local t = now()
local out = {}
local function deliver(id, tries)
  redis.call('HSET', mkey(id), 'status', 'processing', 'processing_time', t,
    'update_time', t, 'tries', tries)
  out[#out + 1] = changed(id)
end
-- Expired deliveries first: every PEL entry is older than the undelivered ones.
local again = redis.call('XPENDING', q, GROUP, '-', '+', count, RELEASED)
if #again > 0 then
  local entries, counts = {}, {}
  for i, p in ipairs(again) do
    entries[i] = p[1]
    counts[p[1]] = p[4]
  end
  local claimed = redis.call('XCLAIM', q, GROUP, consumer, 0, unpack(entries))
  for _, e in ipairs(claimed) do deliver(e[2][2], counts[e[1]] + 1) end
end
if #out < count then
  local got = redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', count - #out,
    'STREAMS', q, '>')
  if got then
    for _, e in ipairs(got[1][2]) do deliver(e[2][2], 1) end
  end
end
return out
"""
)

ACK = (
    PRELUDE
    + """
-- ARGV: destination, id...
local dest = ARGV[1]
local t = now()
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local h = redis.call('HMGET', mkey(id), 'node_destination', 'status', 'entry')
  if h[1] == dest and h[2] == 'processing' and h[3] then
    unqueue(id, dest, h[3])
    redis.call('HSET', mkey(id), 'status', 'processed', 'processed_time', t, 'update_time', t)
    out[#out + 1] = changed(id)
  end
end
return out
"""
)

RELEASE_DUE = (
    PRELUDE
    + """
-- ARGV: visibility timeout (ms), max tries, most scheduled messages released at once
local vt, max_tries, limit = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local t = now()
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':scheduled', '-inf', t, 'LIMIT', 0, limit)) do
  redis.call('ZREM', P .. ':scheduled', id)
  local dest = redis.call('HGET', mkey(id), 'node_destination')
  if dest then
    enqueue(id, dest)
    redis.call('HSET', mkey(id), 'update_time', t)
    out[#out + 1] = changed(id)
  end
end
for _, dest in ipairs(redis.call('SMEMBERS', P .. ':dests')) do
  local q = qkey(dest)
  local start = '-'
  repeat
    local page = redis.call('XPENDING', q, GROUP, 'IDLE', vt, start, '+', 100)
    for _, p in ipairs(page) do
      if p[2] ~= RELEASED then
        local e = redis.call('XRANGE', q, p[1], p[1])
        local id = e[1] and e[1][2][2]
        if id and p[4] >= max_tries then
          unqueue(id, dest, p[1])
          redis.call('HSET', mkey(id), 'status', 'error', 'error_time', t, 'update_time', t)
          out[#out + 1] = changed(id)
        elseif id then
          redis.call('XCLAIM', q, GROUP, RELEASED, 0, p[1], 'JUSTID')
          redis.call('HSET', mkey(id), 'status', 'pending', 'update_time', t)
          out[#out + 1] = changed(id)
        else  -- an entry whose message is gone
          redis.call('XACK', q, GROUP, p[1])
        end
      end
      start = '(' .. p[1]
    end
  until #page < 100
end
return out
"""
)

NEXT_SCHEDULED = """
local first = redis.call('ZRANGE', KEYS[1] .. ':scheduled', 0, 0, 'WITHSCORES')
local t = redis.call('TIME')
return {first[2] or '', string.format('%.6f', tonumber(t[1]) + tonumber(t[2]) / 1000000)}
"""

LIST = (
    PRELUDE
    + """
-- ARGV: destination or '', status or '', limit, payload bytes to read at most (0: no bound)
-- Reply: {matched but not read, {message, ...}}. Payloads are read newest first while they
-- fit in the bound (the first always); the rest are only counted, so the reply stays small.
local dest, status, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local index = P .. ':all'
if dest ~= '' then index = P .. ':to:' .. dest end
local out, matched, bytes, reading = {}, 0, 0, true
local offset = 0
while matched < limit do
  local ids = redis.call('ZREVRANGE', index, offset, offset + 199)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    if status == '' or redis.call('HGET', mkey(id), 'status') == status then
      matched = matched + 1
      if reading then
        bytes = bytes + redis.call('HSTRLEN', mkey(id), 'payload')
        reading = budget == 0 or #out == 0 or bytes <= budget
        if reading then out[#out + 1] = message(id) end
      end
      if matched >= limit then break end
    end
  end
  offset = offset + 200
end
return {matched - #out, out}
"""
)

UPDATE = (
    PRELUDE
    + """
-- ARGV: id, payload, payload_type
local k = mkey(ARGV[1])
if redis.call('EXISTS', k) == 0 then return {} end
redis.call('HSET', k, 'payload', ARGV[2], 'payload_type', ARGV[3], 'update_time', now())
return changed(ARGV[1])
"""
)

DELETE = (
    PRELUDE
    + """
-- ARGV: id
local id = ARGV[1]
local h = redis.call('HMGET', mkey(id), 'node_destination', 'entry')
if not h[1] then return 0 end
if h[2] then unqueue(id, h[1], h[2]) end
redis.call('ZREM', P .. ':all', id)
redis.call('ZREM', P .. ':to:' .. h[1], id)
redis.call('ZREM', P .. ':scheduled', id)
redis.call('DEL', mkey(id))
publish({deleted = id})
return 1
"""
)

DELETE_ALL = (
    PRELUDE
    + """
local ids = redis.call('ZRANGE', P .. ':all', 0, -1)
for _, id in ipairs(ids) do redis.call('UNLINK', mkey(id)) end
for _, dest in ipairs(redis.call('SMEMBERS', P .. ':nodes')) do
  redis.call('UNLINK', qkey(dest), P .. ':to:' .. dest)
end
redis.call('UNLINK', P .. ':all', P .. ':scheduled', P .. ':dests', P .. ':nodes')
publish({deleted_all = #ids})
return #ids
"""
)
