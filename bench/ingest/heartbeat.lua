-- heartbeat.lua — wrk script for bench/ingest/run: one POST per request, each to a different
-- simulated agent, cycling through BENCH_AGENTS names (agent-000000 .. agent-<N-1>).
--
-- Configuration comes from the environment (wrk passes it through):
--   HB_MODE     json (faultline, nginx): POST /api/v1/heartbeat with a ~300-byte JSON body
--               pushgw (pushgateway):    POST /metrics/job/heartbeat/instance/<name>, text body
--   HB_AGENTS   number of distinct names (default 100000)
--   HB_THREADS  must equal wrk -t: thread i sends names i, i+T, i+2T, ... so the threads
--               together cover every name and no two threads send the same one
--   HB_PAD      json padding: "field" adds a "labels" string field, "space" pads with JSON
--               whitespace (for a server that rejects unknown fields) (default field)
--   HB_BODY     target JSON body size in bytes (default 300)
--   HB_CONNS    connections per thread (wrk -c / -t), for the warm-up stop rule
--   HB_ONCE     if set to a directory: warm-up mode. Every thread stops after each of its names
--               has been answered once; the last thread to finish interrupts wrk (SIGINT), so
--               the run ends as soon as all names are registered instead of after -d.
--
--   HB_PROBE    if set to a file: probe mode (run with -t1 -c1): one request for agent-000000,
--               its request, status and response body go to the file, then wrk ends.
--
-- done() prints one machine-readable line, read by the run script:
--   RESULT requests=N duration_us=N rps=N p50_us=N p90_us=N p99_us=N p999_us=N max_us=N
--          connect=N read=N write=N status=N timeout=N non2xx=N
-- (status/non2xx = responses with status >= 400, as wrk counts them; in warm-up mode non2xx also
-- counts 1xx/3xx answers, which response() sees).

local mode = os.getenv("HB_MODE") or "json"
local agents = tonumber(os.getenv("HB_AGENTS") or "100000")
local nthreads = tonumber(os.getenv("HB_THREADS") or "1")
local pad_mode = os.getenv("HB_PAD") or "field"
local body_size = tonumber(os.getenv("HB_BODY") or "300")
local once_dir = os.getenv("HB_ONCE")
if once_dir == "" then once_dir = nil end
local probe_file = os.getenv("HB_PROBE")
if probe_file == "" then probe_file = nil end

-- ---------------------------------------------------------------- setup / done (main state)
local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

-- ---------------------------------------------------------------- per-thread state
tid = tid or 0
local reqs = {}
local nreqs = 0
local idx = 1
answered = 0 -- globals, so done() can read them with thread:get()
bad = 0
local stopped = false
local conns = tonumber(os.getenv("HB_CONNS") or "64") -- connections per thread

local sites = { "fra1", "ams3", "sfo2", "nyc1", "sgp1", "lon1", "tor1", "blr1" }

local function json_body(i, name)
   local uptime = 100000 + (i * 7919) % 900000
   local core = string.format(
      '{"name":"%s","gpus":8,"version":"0.1.0","uptime_s":%d,"site":"%s"',
      name, uptime, sites[i % #sites + 1])
   local need = body_size - #core - 1 -- closing brace
   if pad_mode == "space" then
      if need > 0 then core = core .. string.rep(" ", need) end
      return core .. "}"
   end
   -- ,"labels":"..." is 12 bytes of overhead
   local fill = need - 12
   if fill < 1 then return core .. "}" end
   local text = string.rep("rack-r12 row-b gpu-h100 ", 20)
   return core .. ',"labels":"' .. text:sub(1, fill) .. '"}'
end

function init(args)
   local headers, path
   if mode == "pushgw" then
      headers = { ["Content-Type"] = "text/plain; version=0.0.4" }
   else
      headers = {
         ["Authorization"] = "Bearer " .. (os.getenv("HB_KEY") or "bench"),
         ["Content-Type"] = "application/json",
      }
      path = "/api/v1/heartbeat"
   end
   -- Pre-generate every request of this thread: request() is then a table lookup, so wrk spends
   -- as little of the shared CPU as possible.
   local i = tid
   while i < agents do
      local name = string.format("agent-%06d", i)
      local req
      if mode == "pushgw" then
         local body = string.format("heartbeat_uptime_seconds %d\n", 100000 + (i * 7919) % 900000)
         req = wrk.format("POST", "/metrics/job/heartbeat/instance/" .. name, headers, body)
      else
         req = wrk.format("POST", path, headers, json_body(i, name))
      end
      nreqs = nreqs + 1
      reqs[nreqs] = req
      i = i + nthreads
   end
   if nreqs == 0 then
      reqs[1] = wrk.format("GET", "/", {}, nil)
      nreqs = 1
   end
end

function request()
   local r = reqs[idx]
   idx = idx + 1
   if idx > nreqs then idx = 1 end
   return r
end

-- Ends wrk now instead of after -d. io.popen, not os.execute: system() makes wrk ignore SIGINT
-- while the child runs.
local function end_wrk()
   local k = io.popen("kill -INT $PPID")
   if k then k:close() end
end

if probe_file then
   -- Probe mode: send the first request of thread 0 (agent-000000) once, write the request and
   -- the answer's status line and body to probe_file, and end wrk.
   function response(status, headers, body)
      if stopped then return end
      stopped = true
      local f = io.open(probe_file, "w")
      f:write(string.format("STATUS %d\n", status))
      f:write("REQUEST\n", reqs[1], "\nRESPONSE-BODY\n", body or "", "\n")
      f:close()
      end_wrk()
      wrk.thread:stop()
   end
elseif once_dir then
   function response(status, headers, body)
      answered = answered + 1
      if status < 200 or status > 299 then bad = bad + 1 end
      -- Requests go out in order, one in flight per connection; once nreqs answers have come
      -- back plus one per connection, every name of this thread has been answered.
      if not stopped and answered >= nreqs + conns then
         stopped = true
         local f = io.open(once_dir .. "/done." .. tid, "w")
         f:write(string.format("%d %d\n", answered, bad))
         f:close()
         local all = true
         for t = 0, nthreads - 1 do
            local g = io.open(once_dir .. "/done." .. t, "r")
            if g then g:close() else all = false end
         end
         if all then end_wrk() end
         wrk.thread:stop()
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d " ..
      "max_us=%d connect=%d read=%d write=%d status=%d timeout=%d non2xx=%d\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0),
      latency:percentile(99.9), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout, e.status))
   if once_dir then
      local tot_bad = 0
      for _, t in ipairs(threads) do
         local b = t:get("bad")
         if b then tot_bad = tot_bad + b end
      end
      io.write(string.format("WARMUP bad=%d\n", tot_bad))
   end
end
