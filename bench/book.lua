-- wrk script: booking, each request on a slot nobody else asks for.
-- Arguments (after --): a file of slot ids, a file of patient access tokens, the
-- steps for each slot ("book", or "hold,book": the journey around the payment
-- page), the number of wrk threads. Thread t takes ids t+1, t+1+threads, ...; if
-- the ids run out it starts over, and those requests answer 400 (non2xx). Each
-- request carries its own Idempotency-Key.
-- A thread drives several connections, so each slot's requests go out under the
-- token its index picks: concurrent requests are mostly different patients.
dofile("report.lua")  -- done(): the summary line bench/run.py reads
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  ids = {}
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  tokens = {}
  for line in io.lines(args[2]) do tokens[#tokens + 1] = line end
  steps = {}
  for step in string.gmatch(args[3], "[^,]+") do steps[#steps + 1] = step end
  stride = tonumber(args[4])
  next_index = tid + 1
  step = 1
  run_id = os.time() .. "-" .. tid
end

function request()
  local id = ids[next_index]
  local headers = {
    ["Authorization"] = "Bearer " .. tokens[(math.floor(next_index / stride) % #tokens) + 1],
    ["Content-Length"] = "0",
    -- As a client that retries safely sends it: one key per step, never reused.
    ["Idempotency-Key"] = "bench-" .. run_id .. "-" .. id .. "-" .. steps[step],
  }
  local path = "/api/doctor/timeslots/" .. id .. "/" .. steps[step] .. "/"
  step = step + 1
  if step > #steps then
    step = 1
    next_index = next_index + stride
    if next_index > #ids then next_index = tid + 1 end
  end
  return wrk.format("POST", path, headers)
end
