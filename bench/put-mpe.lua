-- wrk script: PUT a new managed private endpoint on every request (unique
-- names per thread and request), as durable creates.
-- Usage: wrk -s put-mpe.lua <base URL> -- <cluster id> <target id> <token> [pause ms] [name prefix]
-- (Several wrk processes at once need a name prefix each: bench/replicas.sh.)
-- With a pause, each connection waits that long after a response before its
-- next request: a paced load whose latency is the server's, not a queue's.
local counter = 0
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  cluster = args[1]
  target = args[2]
  token = args[3]
  pause = tonumber(args[4] or "0")
  prefix = args[5] or "w"
  body = '{"properties":{"privateLinkResourceId":"' .. target .. '","groupId":"blob","requestMessage":"Please Approve."}}'
  headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
end

function request()
  counter = counter + 1
  local path = cluster .. "/managedPrivateEndpoints/" .. prefix .. tid .. "n" .. counter .. "?api-version=2024-04-13"
  return wrk.format("PUT", path, headers, body)
end

function delay()
  return pause
end

function done(summary, latency, requests)
  io.write(string.format("p50 %.2fms p90 %.2fms p99 %.2fms errors(status) %d\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, summary.errors.status))
end
