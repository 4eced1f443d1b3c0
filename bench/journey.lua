-- wrk script: the booking journey, hold then book, each thread on its own slots.
-- Arguments (after --): a file of slot ids, a file of patient access tokens, the
-- number of wrk threads. Thread t holds ids t+1, t+1+threads, ... and books each
-- one right after holding it, as the React client does around its payment page.
-- A thread drives several connections, so each slot's pair goes out under the
-- token picked by the slot's index: concurrent pairs are mostly different patients.
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
  stride = tonumber(args[3])
  next_index = tid + 1
  step = "hold"
end

local function headers_for(index)
  return {
    ["Authorization"] = "Bearer " .. tokens[(math.floor(index / stride) % #tokens) + 1],
    ["Content-Length"] = "0",
  }
end

function request()
  local id, headers = ids[next_index], headers_for(next_index)
  if step == "hold" then
    step = "book"
    return wrk.format("POST", "/api/doctor/timeslots/" .. id .. "/hold/", headers)
  end
  step = "hold"
  next_index = next_index + stride
  if next_index > #ids then next_index = tid + 1 end
  return wrk.format("POST", "/api/doctor/timeslots/" .. id .. "/book/", headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%.0f,"p99_us":%.0f,'
      .. '"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
