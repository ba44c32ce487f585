-- limiter.lua: check and charge every cap that applies to one recipient,
-- all or nothing, in one atomic call.
--
-- KEYS[1]    the stream's caps hash (written by streamguard-rampd); a field
--            present there overrides the cap from the config
-- KEYS[1+i]  state of limiter i (i = 1..n):
--              rate  ("r"): the GCRA theoretical arrival time, ms as a string
--              count ("c"): the day's counter
-- KEYS[n+2]  (only when reserving) the stream's reservations: sorted set of
--            transaction instances, scored by the ms their reservation expires
-- KEYS[n+3]  (only when reserving) this instance's reservation record: a
--            list of what was charged, "r <key> <interval_ms>" or "c <key>"
-- KEYS[#KEYS] (only when m > 0, below) the stream's copy of the suppressed
--            addresses and domains: hash, field "a:ADDRESS" / "d:DOMAIN" ->
--            "UNTIL_MS LEARNED_MS RULE STREAM DSN TEXT" (rules/suppression.hpp)
-- ARGV[1]    now, milliseconds since the epoch (the daemon's clock, never Redis's)
-- ARGV[2]    n, the number of limiters
-- ARGV[3]    reserve_ms: 0 charges for good; > 0 records the charge as a
--            reservation of instance ARGV[4] that reservations.lua commits at
--            END-OF-MESSAGE or returns to the budget once reserve_ms passed
-- ARGV[4]    the transaction's instance (Postfix's "instance" attribute)
-- ARGV[5]    the recipient's operator ("" when none): its breaker is read
-- ARGV[6 + 5*(i-1) ...] for limiter i:
--   kind      "r" smooth hourly rate with a bounded burst, "c" exact daily count
--   field     field of KEYS[1] overriding the fallback cap
--   fallback  cap from the config; -1: no cap unless the hash sets one (the
--             stream's daily count without a cap still counts, never refuses)
--   burst     "r": burst in messages; -1: max(1, floor(cap / 60))
--   reset_ms  "c": ms until the counter's day ends (its TTL adds one day more)
-- ARGV[6 + 5*n]      m, the number of suppression fields to check (0: none)
-- ARGV[7 + 5*n ...]  the fields: the recipient's "a:ADDRESS", then "d:DOMAIN"
-- ARGV[7 + 5*n + m]  "1": charge only when KEYS[1] has the field "rampd:kept"
--                    (streamguard-rampd's mark: it restored the day's counts
--                    into this Redis); "0" or absent: no such check
-- ARGV[8 + 5*n + m]  "1": a dry run (streamguardctl explain): the same answer,
--                    with every usage as it stands, and nothing written
--
-- The mark first: a Redis that came back empty (no persistence, FLUSHALL, a
-- fresh replica promoted) has lost the day's counters, and charging there
-- would give the stream a second daily cap. Without the mark nothing is
-- read or charged and the reply says so (breaker code 4, below).
--
-- Suppression first: an entry whose UNTIL_MS has not passed refuses before
-- breakers and caps, and nothing is charged (a dead address is dead for
-- every stream, whatever its budget).
--
-- Breakers (written by streamguard-rampd into KEYS[1]): field "breaker" for
-- the whole stream, "breaker:op:NAME" for one operator, each
--   "defer UNTIL_MS 0 REASON" / "hold UNTIL_MS 0 REASON": open until UNTIL_MS,
--       nothing is charged and the recipient gets that action;
--   "recover UNTIL_MS FRACTION REASON": until UNTIL_MS the caps it covers
--       (all of them, or that operator's) are multiplied by FRACTION.
-- A breaker whose UNTIL_MS has passed is ignored.
--
-- Reply: { allowed (1|0), denied (1-based index of the first limiter that
--          refused; 0 when allowed or when a breaker or suppression refused),
--          then for each limiter: cap (-1: none applied), used, retry_ms (-1:
--          none, or never while cap is 0), refused (1|0); then breaker (0:
--          none, 1: defer, 2: hold, 3: recovering: the caps it covers were
--          cut: 3 when a stream-wide breaker's cut is reported (it covers
--          every cap), 5 when an operator's (its caps only); 4: no rampd
--          mark, nothing looked at), breaker_until_ms, breaker_reason (string), suppressed field
--          (string, "" when none), its record }
--
-- Every key written gets a TTL. Nothing is written unless every limiter allows.

local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local reserve = tonumber(ARGV[3])
local instance = ARGV[4]
local HOUR = 3600000
local DAY = 86400000

local op = ARGV[5]

-- A reply that charged nothing: no limiter looked at.
local function untouched(breaker, until_ms, why, field, record)
  local reply = { 0, 0 }
  for _ = 1, n do
    reply[#reply + 1] = -1
    reply[#reply + 1] = 0
    reply[#reply + 1] = -1
    reply[#reply + 1] = 0
  end
  reply[#reply + 1] = breaker
  reply[#reply + 1] = until_ms
  reply[#reply + 1] = why
  reply[#reply + 1] = field
  reply[#reply + 1] = record
  return reply
end

-- One read of the caps hash: each limiter's override, the breakers, and
-- rampd's mark.
local fields = {}
for i = 1, n do
  fields[i] = ARGV[6 + 5 * (i - 1) + 1]
end
fields[n + 1] = 'breaker'
fields[n + 2] = 'breaker:op:' .. op
fields[n + 3] = 'rampd:kept'
local overrides = redis.call('HMGET', KEYS[1], unpack(fields))

local m = tonumber(ARGV[6 + 5 * n]) or 0
if ARGV[7 + 5 * n + m] == '1' and not overrides[n + 3] then
  return untouched(4, 0, '', '', '')
end
if m > 0 then
  local sup = {}
  for j = 1, m do sup[j] = ARGV[6 + 5 * n + j] end
  local found = redis.call('HMGET', KEYS[#KEYS], unpack(sup))
  for j = 1, m do
    local rec = found[j]
    if rec then
      local until_ms = tonumber(string.match(rec, '^(%d+) '))
      if until_ms and until_ms > now then return untouched(0, 0, '', sup[j], rec) end
    end
  end
end

-- Breakers first: an open one refuses before anything is charged.
local fraction_all, fraction_op = 1, 1
-- The recovering breaker that cuts deepest, for the reply: { until, why, f, code }.
local recovering = nil
for j = 1, 2 do
  local b = overrides[n + j]
  if b and (j == 1 or op ~= '') then
    local action, until_ms, frac, why = string.match(b, '^(%a+) (%d+) ([%d%.]+) ?(.*)$')
    if action and tonumber(until_ms) > now then
      if action == 'defer' or action == 'hold' then
        return untouched(action == 'defer' and 1 or 2, tonumber(until_ms), why, '', '')
      elseif action == 'recover' then
        local f = tonumber(frac)
        if j == 1 then fraction_all = f else fraction_op = f end
        if not recovering or f < recovering[3] then
          recovering = { tonumber(until_ms), why, f, j == 1 and 3 or 5 }
        end
      end
    end
  end
end

local reply = { 1, 0 }
local writes = {}

for i = 1, n do
  local base = 6 + 5 * (i - 1)
  local kind = ARGV[base]
  local cap = tonumber(overrides[i]) or tonumber(ARGV[base + 2])
  -- A recovering breaker lets a fraction of the cap through.
  if cap and cap > 0 then
    local f = fraction_all
    if string.sub(ARGV[base + 1], 1, 3) == 'op:' then f = math.min(f, fraction_op) end
    if f < 1 then cap = math.max(1, math.floor(cap * f)) end
  end
  local key = KEYS[1 + i]
  local used, retry, ok = 0, -1, true

  if cap == nil or cap < 0 then
    cap = -1
    if kind == 'c' and string.sub(ARGV[base + 1], 1, 3) ~= 'op:' then
      -- No cap, but the stream's day is still counted: streamguard-rampd's
      -- send days (and the status page) read it. (An operator's day without
      -- a cap is not: nothing reads it, and it would cost a write.)
      local count = tonumber(redis.call('GET', key)) or 0
      used = count + 1
      writes[#writes + 1] = { 'c', key, tonumber(ARGV[base + 4]) + 86400000, nil, nil,
                              #reply + 2, count }
    end
  elseif kind == 'r' then
    local burst = tonumber(ARGV[base + 3])
    if burst < 1 then burst = math.max(1, math.floor(cap / 60)) end
    if cap == 0 then
      ok = false
    else
      local interval = HOUR / cap
      local tat = tonumber(redis.call('GET', key)) or now
      if tat < now then tat = now end
      local new_tat = tat + interval
      local window = interval * burst
      if new_tat - now > window then
        ok = false
        used = math.ceil((tat - now) / interval - 1e-9)
        retry = math.ceil(new_tat - now - window)
      else
        used = math.ceil((new_tat - now) / interval - 1e-9)
        writes[#writes + 1] = { 'r', key, new_tat, math.ceil(new_tat - now) + 1000, interval,
                                #reply + 2, math.ceil((tat - now) / interval - 1e-9) }
      end
    end
  else
    local count = tonumber(redis.call('GET', key)) or 0
    local reset = tonumber(ARGV[base + 4])
    used = count
    if count + 1 > cap then
      ok = false
      if cap > 0 then retry = reset end
    else
      used = count + 1
      writes[#writes + 1] = { 'c', key, reset + 86400000, nil, nil, #reply + 2, count }
    end
  end

  if not ok and reply[1] == 1 then
    reply[1] = 0
    reply[2] = i
  end
  reply[#reply + 1] = cap
  reply[#reply + 1] = used
  reply[#reply + 1] = retry
  reply[#reply + 1] = ok and 0 or 1
end

local dry = ARGV[8 + 5 * n + m] == '1'
if reply[1] == 0 or dry then
  -- Nothing is charged: a limiter that would have allowed reports its usage
  -- as it stands, not as it would have been.
  for _, w in ipairs(writes) do reply[w[6]] = w[7] end
end

if reply[1] == 1 and not dry then
  local record = {}
  for _, w in ipairs(writes) do
    if w[1] == 'r' then
      redis.call('SET', w[2], string.format('%.3f', w[3]), 'PX', w[4])
      record[#record + 1] = 'r ' .. w[2] .. ' ' .. string.format('%.3f', w[5])
    else
      redis.call('INCR', w[2])
      redis.call('PEXPIRE', w[2], w[3])
      record[#record + 1] = 'c ' .. w[2]
    end
  end
  if reserve > 0 and #record > 0 then
    local zset, rec = KEYS[n + 2], KEYS[n + 3]
    redis.call('RPUSH', rec, unpack(record))
    -- Kept a day past its deadline so a late sweep can still return it.
    redis.call('PEXPIRE', rec, reserve + DAY)
    redis.call('ZADD', zset, now + reserve, instance)
    redis.call('PEXPIRE', zset, reserve + DAY)
  end
end

if recovering and recovering[3] < 1 then
  reply[#reply + 1] = recovering[4]
  reply[#reply + 1] = recovering[1]
  reply[#reply + 1] = recovering[2]
else
  reply[#reply + 1] = 0
  reply[#reply + 1] = 0
  reply[#reply + 1] = ''
end
reply[#reply + 1] = ''
reply[#reply + 1] = ''
return reply
