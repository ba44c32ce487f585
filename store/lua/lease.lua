-- lease.lua: one streamguard-rampd at a time on a Redis (issue 13). Two
-- started by mistake would both publish the ramp, both release held mail
-- and both charge it; the one without the lease waits instead. The lease is
-- one key holding its holder's id, with an expiry the holder renews.
--
-- ARGV[1] = "hold": take the lease when it is free or already ours, and
--   (re)set its expiry.
--     KEYS[1] the lease key
--     ARGV[2] the holder's id, ARGV[3] the time to live (ms)
--     ARGV[4] (optional) an id to take it from: a holder known to be dead
--             (a rampd on this host whose process is gone); taken only if
--             that one still holds it
--   Reply: "" when ARGV[2] holds it now, else the id of the one that does.
--
-- ARGV[1] = "release": give it up (a rampd that stops), only when ours.
--     KEYS[1] the lease key
--     ARGV[2] the holder's id
--   Reply: 1 when it was ours and is gone, else 0.

local op = ARGV[1]
local current = redis.call('GET', KEYS[1])
if op == 'hold' then
  if current and current ~= ARGV[2] and current ~= ARGV[4] then
    return current
  end
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return ''
elseif op == 'release' then
  if current == ARGV[2] then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end
return redis.error_reply('lease.lua: unknown operation ' .. tostring(op))
