-- reservations.lua: end a reservation made by limiter.lua, one of three ways.
--
-- ARGV[1] = "commit": the transaction reached END-OF-MESSAGE and Postfix
--   accepted the message; its charges stay.
--     KEYS[1] the stream's reservations sorted set
--     KEYS[2] the instance's reservation record
--     ARGV[2] the instance
--   Reply: the number of charges committed (0: nothing was reserved).
--
-- ARGV[1] = "sweep": every reservation whose deadline has passed belongs to a
--   transaction that never completed (the client quit or reset, the message
--   was refused): give its charges back to the budget.
--     KEYS[1] the stream's reservations sorted set
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
--     ARGV[2] now, ms since the epoch; ARGV[3] the instance
--   Reply: the number of charges given back.

local op = ARGV[1]

if op == 'commit' then
  local n = redis.call('LLEN', KEYS[2])
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[2])
  return n
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
  return charges
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
end

local left = redis.call('ZCOUNT', KEYS[1], '-inf', now)
return { #expired, charges, left }
