-- heartbeat.lua — wrk script for bench/ingest/run and bench/metrics/run: one request per
-- simulated agent, each to a different agent, cycling through BENCH_AGENTS names
-- (agent-000000 .. agent-<N-1>).
--
-- Configuration comes from the environment (wrk passes it through):
--   HB_MODE     json (faultline, nginx): POST /api/v1/heartbeat with a ~300-byte JSON body
--               pushgw (pushgateway):    POST /metrics/job/heartbeat/instance/<name>, text body
--               prom (faultline):        POST /api/v1/metrics/<name>, HB_SERIES series in text
--                                        format, as an agent pushes them
--               pushgw-prom (pushgateway): PUT /metrics/job/agent/instance/<name>, the same body
--   HB_SERIES   series per push in the prom modes (default 50)
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

-- An agent's push: node_exporter's host series and two GPUs under dcgm-exporter's names, 50 in
-- all (then bench_extra_series up to HB_SERIES), values varying per agent. Each family has its
-- TYPE line before its samples.
local series = tonumber(os.getenv("HB_SERIES") or "50")
local function prom_body(i)
   local out, n, family = {}, 0, nil
   local function add(name, typ, labels, value)
      if n >= series then return end
      if name ~= family then
         out[#out + 1] = string.format("# TYPE %s %s\n", name, typ)
         family = name
      end
      out[#out + 1] = string.format("%s%s %s\n", name, labels, value)
      n = n + 1
   end
   local v = (i * 7919) % 1000003
   for _, m in ipairs({ "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal" }) do
      add("node_cpu_seconds_total", "counter", string.format('{cpu="all",mode="%s"}', m),
          string.format("%.2f", v * 3.7 + #m * 1000.25))
   end
   add("node_load1", "gauge", "", string.format("%.2f", (v % 800) / 100))
   add("node_load5", "gauge", "", string.format("%.2f", (v % 700) / 100))
   add("node_load15", "gauge", "", string.format("%.2f", (v % 600) / 100))
   add("node_memory_MemTotal_bytes", "gauge", "", "2151618412544")
   add("node_memory_MemAvailable_bytes", "gauge", "", tostring(1000000000000 + v * 4096))
   add("node_memory_SwapTotal_bytes", "gauge", "", "0")
   add("node_memory_SwapFree_bytes", "gauge", "", "0")
   local fs = { { "/dev/nvme0n1p2", "ext4", "/" }, { "/dev/md0", "xfs", "/data" } }
   for _, f in ipairs({ "node_filesystem_size_bytes", "node_filesystem_avail_bytes",
                        "node_filesystem_free_bytes" }) do
      for k, m in ipairs(fs) do
         add(f, "gauge", string.format('{device="%s",fstype="%s",mountpoint="%s"}', m[1], m[2], m[3]),
             tostring(k * 1920383410176 - v * 512))
      end
   end
   for _, f in ipairs({ "node_disk_read_bytes_total", "node_disk_written_bytes_total" }) do
      for _, d in ipairs({ "nvme0n1", "nvme1n1" }) do
         add(f, "counter", string.format('{device="%s"}', d), tostring(v * 65536 + #f))
      end
   end
   for _, f in ipairs({ "node_network_receive_bytes_total", "node_network_transmit_bytes_total",
                        "node_network_receive_packets_total", "node_network_transmit_packets_total" }) do
      add(f, "counter", '{device="eth0"}', tostring(v * 1500 + #f))
   end
   add("node_boot_time_seconds", "gauge", "", tostring(1795000000 - v))
   add("node_filefd_allocated", "gauge", "", tostring(2000 + v % 5000))
   add("node_time_seconds", "gauge", "", string.format("%.3f", 1795255200 + v / 1000))
   local dcgm = {
      { "DCGM_FI_DEV_GPU_UTIL", v % 101 }, { "DCGM_FI_DEV_FB_USED", 40000 + v % 40000 },
      { "DCGM_FI_DEV_FB_FREE", 81559 - 40000 - v % 40000 }, { "DCGM_FI_DEV_GPU_TEMP", 30 + v % 55 },
      { "DCGM_FI_DEV_POWER_USAGE", string.format("%.3f", 70 + (v % 62000) / 100) },
      { "DCGM_FI_DEV_SM_CLOCK", 1980 }, { "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", 0 },
      { "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", 0 }, { "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", 1 },
   }
   for _, d in ipairs(dcgm) do
      for g = 0, 1 do
         add(d[1], "gauge", string.format(
            '{gpu="%d",UUID="GPU-%08x-8d2c-4b1e-9f3a-%012x",modelName="NVIDIA H100 80GB HBM3"}',
            g, i, g), tostring(d[2]))
      end
   end
   local k = 0
   while n < series do
      add("bench_extra_series", "gauge", string.format('{n="%d"}', k), tostring(k))
      k = k + 1
   end
   return table.concat(out)
end

function init(args)
   local headers, path
   if mode == "pushgw" or mode == "pushgw-prom" then
      headers = { ["Content-Type"] = "text/plain; version=0.0.4" }
   elseif mode == "prom" then
      headers = {
         ["Authorization"] = "Bearer " .. (os.getenv("HB_KEY") or "bench"),
         ["Content-Type"] = "text/plain; version=0.0.4",
      }
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
      elseif mode == "pushgw-prom" then
         -- PUT replaces the whole group, as a push to faultline replaces the worker's samples.
         req = wrk.format("PUT", "/metrics/job/agent/instance/" .. name, headers, prom_body(i))
      elseif mode == "prom" then
         req = wrk.format("POST", "/api/v1/metrics/" .. name, headers, prom_body(i))
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
