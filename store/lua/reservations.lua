-- reservations.lua: end a reservation made by limiter.lua, one of three
-- ways, mark one as being released (rampd's held mail), or give back what
-- an accepted message charged when a milter refused it afterwards.
--
-- ARGV[1] = "commit": the transaction reached END-OF-MESSAGE and Postfix
--   accepted the message (or rampd released the held message); its charges
--   stay.
--     KEYS[1] the stream's reservations sorted set
--     KEYS[2] the instance's reservation record
--     KEYS[3] (optional) the stream's releasing set: the instance leaves it
--     KEYS[4] (optional) the accepted message's record, named by its queue
--             id: the reservation record becomes it, kept for ARGV[3] ms, so
--             a milter that refuses the message after END-OF-MESSAGE can
--             still have its charges given back ("refund")
--     ARGV[2] the instance; ARGV[3] (with KEYS[4]) how long to keep it, ms
--   Reply: the number of charges committed (0: nothing was reserved).
--
-- ARGV[1] = "release": rampd is about to run `postsuper -H` for the held
--   message of this instance, and may not live to see its outcome. The
--   reservation's deadline moves to ARGV[4], so no sweep gives the charges
--   back meanwhile, and the instance joins the releasing set (scored by
--   ARGV[2]) until a commit (it was released) or a cancel (it was not)
--   settles it.
--     KEYS[1] the stream's reservations sorted set
--     KEYS[2] the instance's reservation record
--     KEYS[3] the stream's releasing set
--     ARGV[2] now (ms); ARGV[3] the instance; ARGV[4] the new deadline (ms)
--   Reply: the number of charges the reservation holds.
--
-- ARGV[1] = "sweep": every reservation whose deadline has passed belongs to a
--   transaction that never completed (the client quit or reset, the message
--   was refused): give its charges back to the budget.
--     KEYS[1] the stream's reservations sorted set
--     KEYS[2] (optional) the stream's releasing set: a swept instance leaves it
--     ARGV[2] now, ms since the epoch (the daemon's clock)
--     ARGV[3] the record key prefix (the record is prefix .. instance; same
--             {stream} hash tag as KEYS[1])
--     ARGV[4] at most this many instances per call
--   Giving back: a daily count is decremented (never below 0); an hourly
--   GCRA state moves back by the charge's interval (and is dropped when that
--   puts it in the past: the budget is full). Keys already expired are left
--   alone: their budget came back by itself.
--   Reply: { instances returned, charges returned, instances still expired }
--
-- ARGV[1] = "cancel": give one reservation's charges back now (rampd charged
--   a held message recipient by recipient and cannot release it after all).
--     KEYS[1] the stream's reservations sorted set
--     KEYS[2] the instance's reservation record
--     KEYS[3] (optional) the stream's releasing set: the instance leaves it
--     ARGV[2] now, ms since the epoch; ARGV[3] the instance
--   Reply: the number of charges given back.
--
-- ARGV[1] = "refund": the Postfix log says a milter refused, after
--   END-OF-MESSAGE, the message whose charges "commit" kept under its queue
--   id: give them back now. A second refund of the same message, or one
--   after the record's time ran out, gives back nothing.
--     KEYS[1] the accepted message's record
--     ARGV[2] now, ms since the epoch
--   Reply: the number of charges given back.

local op = ARGV[1]

local DAY = 86400000

if op == 'commit' then
  local n = redis.call('LLEN', KEYS[2])
  if KEYS[4] and n > 0 then
    redis.call('RENAME', KEYS[2], KEYS[4])
    redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[3]))
  else
    redis.call('DEL', KEYS[2])
  end
  redis.call('ZREM', KEYS[1], ARGV[2])
  if KEYS[3] then redis.call('ZREM', KEYS[3], ARGV[2]) end
  return n
end

if op == 'release' then
  local until_ms = tonumber(ARGV[4])
  local ttl = until_ms - tonumber(ARGV[2]) + DAY
  redis.call('ZADD', KEYS[1], 'XX', until_ms, ARGV[3])
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ttl) end
  redis.call('ZADD', KEYS[3], tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ttl)
  if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  return redis.call('LLEN', KEYS[2])
end

-- Gives back what one reservation record charged; returns the charges returned.
local function give_back(rec, now)
  local charges = 0
  for _, item in ipairs(redis.call('LRANGE', rec, 0, -1)) do
    local kind, key, interval = string.match(item, '^(%a) (%S+) ?(%S*)$')
    if kind == 'c' then
      local v = tonumber(redis.call('GET', key))
      if v and v > 0 then
        redis.call('DECR', key)
        charges = charges + 1
      end
    elseif kind == 'r' then
      local tat = tonumber(redis.call('GET', key))
      if tat then
        local back = tat - tonumber(interval)
        if back > now then
          redis.call('SET', key, string.format('%.3f', back), 'KEEPTTL')
        else
          redis.call('DEL', key)
        end
        charges = charges + 1
      end
    end
  end
  redis.call('DEL', rec)
  return charges
end

if op == 'cancel' then
  local charges = give_back(KEYS[2], tonumber(ARGV[2]))
  redis.call('ZREM', KEYS[1], ARGV[3])
  if KEYS[3] then redis.call('ZREM', KEYS[3], ARGV[3]) end
  return charges
end

if op == 'refund' then
  return give_back(KEYS[1], tonumber(ARGV[2]))
end

if op ~= 'sweep' then
  return redis.error_reply('reservations.lua: unknown operation ' .. tostring(op))
end

local now = tonumber(ARGV[2])
local prefix = ARGV[3]
local limit = tonumber(ARGV[4])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
local charges = 0

for _, instance in ipairs(expired) do
  charges = charges + give_back(prefix .. instance, now)
  redis.call('ZREM', KEYS[1], instance)
  if KEYS[2] then redis.call('ZREM', KEYS[2], instance) end
end

local left = redis.call('ZCOUNT', KEYS[1], '-inf', now)
return { #expired, charges, left }
