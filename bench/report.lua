-- wrk script: prints the run's summary as one JSON line that bench/run.py reads
-- (percentiles in microseconds; non2xx counts every 4xx/5xx answer).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%.0f,"p99_us":%.0f,'
      .. '"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
