-- pollAfterSeconds: `domain::queue::Pacing` in Lua, operation for operation (the Rust is the
-- model and documents the rule; tests/queue checks that both give the same hints). Functions
-- of their arguments only; the queue scripts keep the pace `k` in the line's meta.
local PACE_HEAD_SECONDS, PACE_HEAD_POLL, PACE_SLOWEST_SHARE = 10.0, 2, 0.1
local PACE_JITTER, PACE_DRAWS, PACE_WINDOW_S = 0.1, 1048576, 60.0

-- The line length the pace is computed for: `n` rounded up to two significant digits.
local function line_bucket(n)
  if n < 100 then return n end
  local m = 1
  while n >= 100 * m do m = m * 10 end
  return math.ceil(n / m) * m
end

-- Admissions a second: the last minute's, or `slowest` without one.
local function pace_rate(admits, slowest)
  if admits == 0 then return math.max(slowest, 2.2250738585072014e-308) end
  return admits / PACE_WINDOW_S
end

-- What a line of `line` waiting at rate `r` asks for beyond the head at pace `k`.
local function pace_polls(k, line, r, max_s)
  local e = line / r
  if e <= PACE_HEAD_SECONDS then return 0.0 end
  local mx = max_s
  local mn = math.min(PACE_HEAD_POLL, mx)
  local a, b = mn / k, mx / k
  local fe, f10
  if e <= a then fe = e / mn
  elseif e <= b then fe = a / mn + math.log(e / a) / k
  else fe = a / mn + math.log(b / a) / k + (e - b) / mx end
  local x = PACE_HEAD_SECONDS
  if x <= a then f10 = x / mn
  elseif x <= b then f10 = a / mn + math.log(x / a) / k
  else f10 = a / mn + math.log(b / a) / k + (x - b) / mx end
  return r * (fe - f10)
end

-- The pace `k`: at least a tenth, and the least that keeps the line to the budget less the
-- jitter's share (bisection, 48 steps; every hint at the maximum when nothing can).
local function pace(line, r, max_s, budget)
  local target = budget * (1.0 - PACE_JITTER)
  local all_max = max_s / PACE_HEAD_SECONDS
  if pace_polls(PACE_SLOWEST_SHARE, line, r, max_s) <= target then return PACE_SLOWEST_SHARE end
  if pace_polls(all_max, line, r, max_s) > target then return all_max end
  local lo, hi = PACE_SLOWEST_SHARE, all_max
  for _ = 1, 48 do
    local mid = (lo + hi) / 2.0
    if pace_polls(mid, line, r, max_s) <= target then hi = mid else lo = mid end
  end
  return hi
end

-- The hint before the jitter, given the pace `k` of the line (`pace_of` below).
local function paced_hint(position, r, k, max_s)
  local wait = position / r
  local fastest = math.min(PACE_HEAD_POLL, max_s)
  if wait <= PACE_HEAD_SECONDS then return fastest end
  local h = math.ceil(k * wait)
  return math.max(fastest, math.min(h, max_s))
end

-- Before the opening nobody moves: the pre-queue polls within the budget less the jitter.
local function hint_before_opening(line, max_s, budget)
  local h = math.ceil(line / math.max(budget * (1.0 - PACE_JITTER), 1.0))
  return math.max(math.min(PACE_HEAD_POLL, max_s), math.min(h, max_s))
end

-- Spread down by up to a tenth: never under 1, 2 stays 2.
local function jittered(h, draw)
  local share = PACE_JITTER * draw / PACE_DRAWS
  return math.max(math.ceil(h * (1.0 - share)), 1)
end
