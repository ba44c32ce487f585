-- caps.lua: streamguard-rampd's writes into a stream's caps hash (the hash
-- policyd's limiter.lua reads), each one atomic.
--
-- ARGV[1] = "ramp": publish the caps the ramp gives today, with the ramp's
--   state, in one step.
--     KEYS[1] the stream's caps hash
--     KEYS[2] the stream's ramp state hash
--     ARGV[2] now (ms), ARGV[3] the ramp day, ARGV[4] the reason (for people)
--     ARGV[5] n, then n pairs: cap field, value ("" removes the field, so
--             policyd falls back to the config)
--     then m, then m pairs: state field, value
--   The caps hash also gets ramp:day, ramp:reason and ramp:updated_ms, and
--   ramp:version goes up by one whenever a cap field changes.
--   Reply: { version, changed (1|0) }
--
-- ARGV[1] = "breakers": publish the breakers of the stream.
--     KEYS[1] the stream's caps hash
--     ARGV[2] now (ms), ARGV[3] n, then n pairs: field ("breaker:op:NAME"),
--             value ("defer|hold|recover UNTIL_MS FRACTION REASON")
--   Every other breaker field whose UNTIL_MS has passed is removed. One that
--   has not passed is kept: after a restart rampd no longer knows why it was
--   opened, and it must not reopen the traffic early.
--   Reply: { fields written, fields removed }

local op = ARGV[1]
local now = tonumber(ARGV[2])

if op == 'ramp' then
  local n = tonumber(ARGV[5])
  local changed = 0
  for i = 0, n - 1 do
    local field, value = ARGV[6 + 2 * i], ARGV[7 + 2 * i]
    local current = redis.call('HGET', KEYS[1], field)
    if value == '' then
      if current then
        redis.call('HDEL', KEYS[1], field)
        changed = 1
      end
    elseif current ~= value then
      redis.call('HSET', KEYS[1], field, value)
      changed = 1
    end
  end
  local version
  if changed == 1 then
    version = redis.call('HINCRBY', KEYS[1], 'ramp:version', 1)
  else
    version = tonumber(redis.call('HGET', KEYS[1], 'ramp:version')) or 0
  end
  redis.call('HSET', KEYS[1], 'ramp:day', ARGV[3], 'ramp:reason', ARGV[4],
             'ramp:updated_ms', ARGV[2])
  local base = 6 + 2 * n
  local m = tonumber(ARGV[base])
  for i = 0, m - 1 do
    redis.call('HSET', KEYS[2], ARGV[base + 1 + 2 * i], ARGV[base + 2 + 2 * i])
  end
  return { version, changed }
end

if op == 'breakers' then
  local n = tonumber(ARGV[3])
  local wanted = {}
  for i = 0, n - 1 do
    local field, value = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
    wanted[field] = true
    redis.call('HSET', KEYS[1], field, value)
  end
  local removed = 0
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local field, value = all[i], all[i + 1]
    if string.sub(field, 1, 7) == 'breaker' and not wanted[field] then
      local until_ms = tonumber(string.match(value, '^%a+ (%d+)'))
      if not until_ms or until_ms <= now then
        redis.call('HDEL', KEYS[1], field)
        removed = removed + 1
      end
    end
  end
  return { n, removed }
end

return redis.error_reply('caps.lua: unknown operation ' .. tostring(op))
