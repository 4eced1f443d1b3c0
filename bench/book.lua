-- wrk script: each request books a different slot.
-- Arguments (after --): a file of slot ids, a file of patient access tokens,
-- the number of wrk threads. Thread t takes ids t+1, t+1+threads, ... so no two
-- requests ever ask for the same slot; if the ids run out it starts over, and
-- those requests answer 400 (counted as non2xx).
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  ids = {}
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  local tokens = {}
  for line in io.lines(args[2]) do tokens[#tokens + 1] = line end
  stride = tonumber(args[3])
  headers = {
    ["Authorization"] = "Bearer " .. tokens[(tid % #tokens) + 1],
    ["Content-Length"] = "0",
  }
  next_index = tid + 1
end

function request()
  local id = ids[next_index]
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
