#!/usr/bin/env bash
# bench/lib.sh — what the benchmark drivers share (sourced by bench/ingest/run and
# bench/metrics/run): cleanup of every process they start, free ports, CPU and RSS readings from
# /proc, and the wrk warm-up (every agent name once) and measured rounds with heartbeat.lua.
# The caller sets out (results dir), tmp (temp dir), WRK, LUA, AGENTS, THREADS, CONNS, DURATION,
# ROUNDS and WARMUP_MAX before calling the wrk functions.

# ------------------------------------------------------------------------------ cleanup
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${pids[@]+"${pids[@]}"}"; do stop_pid "$p"; done
  rm -rf "$tmp"
  exit "$rc"
}
stop_pid() {
  local p=$1 i
  kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
  kill -TERM "$p" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$p" 2>/dev/null || break
    # a zombie child of ours counts as gone once reaped
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && break
    sleep 0.1
  done
  kill -0 "$p" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] &&
    kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null || true
  local keep=() q
  for q in "${pids[@]+"${pids[@]}"}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  pids=("${keep[@]+"${keep[@]}"}")
}
trap cleanup EXIT
trap 'echo; echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------------ helpers
log() { printf '%s\n' "$*" | tee -a "$out/log.txt" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
    2>/dev/null && return 0
  local p
  for ((;;)); do
    p=$((20000 + RANDOM % 40000))
    [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
  done
}

# wait_listen PID PORT: until something accepts on 127.0.0.1:PORT (no HTTP request is sent).
wait_listen() {
  local pid=$1 port=$2 i
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

ratio() { # a / b with 2 decimals, "-" if either is missing
  awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}
ms() { awk -v u="${1:-}" 'BEGIN { if (u == "") print "-"; else printf "%.2f", u / 1000 }'; }

# The *-tls targets are the same servers over HTTPS (wrk does not verify the certificate).
scheme() { case $1 in *-tls) echo https ;; *) echo http ;; esac; }
# tls_pair: a self-signed certificate for 127.0.0.1 in $tmp/tls (made once), the same one for
# every TLS target: EC P-256, as a certificate from Let's Encrypt would usually be.
tls_pair() {
  [ -s "$tmp/tls/cert.pem" ] && return 0
  mkdir -p "$tmp/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$tmp/tls/key.pem" -out "$tmp/tls/cert.pem" 2>/dev/null
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# CPU ticks (user+system) of a process and its children (nginx workers).
cpu_ticks() {
  local p t=0 c
  for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    c=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    t=$((t + c))
  done
  echo "$t"
}
# "tid utime stime" for every thread of a process and of its children.
task_ticks() {
  local p
  for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    for f in /proc/"$p"/task/*/stat; do
      awk '{ tid = $1; sub(/^.*\) /, ""); print tid, $12, $13 }' "$f" 2>/dev/null || true
    done
  done
}
# thread_report BEFORE AFTER SECONDS: per-thread CPU over the run, busiest first, as % of one core
# (user/system), e.g. "12345 99% (61/38)".
thread_report() {
  awk -v hz="$CLK_TCK" -v secs="$3" 'NR == FNR { u[$1] = $2; s[$1] = $3; next }
    { du = $2 - u[$1]; ds = $3 - s[$1]; if (du + ds > 0)
        printf "%s %.0f%% (%.0f/%.0f)\n", $1, 100 * (du + ds) / hz / secs, 100 * du / hz / secs, 100 * ds / hz / secs }' \
    "$1" "$2" | sort -t' ' -k2 -nr
}
CLK_TCK=$(getconf CLK_TCK)
# Busy ticks of all CPUs together (user nice system irq softirq steal; not idle, not iowait).
sys_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

busy_note() {
  # Other processes on the machine steal the two cores from both client and server.
  local l1
  l1=$(cut -d' ' -f1 /proc/loadavg)
  echo "$l1"
}

# field NAME FILE: value of NAME=... on the RESULT line.
field() { sed -n "s/^RESULT.* $1=\([0-9.]*\).*/\1/p; s/^RESULT $1=\([0-9.]*\).*/\1/p" "$2" | head -1; }

# Per-target results, filled by wrk_warmup and run_wrk.
declare -A R_RPS R_P50 R_P99 R_RSS R_CPU R_ERR R_NOTE R_WARM R_OTHER R_RANGE

# wrk_warmup TARGET MODE URL [PAD]: every name once (HB_ONCE), as fast as the server takes them.
# Sets R_WARM[TARGET] (req/s) and notes what went wrong in R_NOTE[TARGET].
wrk_warmup() {
  local t=$1 mode=$2 url=$3 pad=${4:-field} once=$tmp/once-$1
  local per=$((CONNS / THREADS))
  mkdir -p "$once"
  log "  warm-up: $AGENTS names once each ($THREADS threads, $CONNS connections)"
  # Each wrk thread stops once all its names are answered and drops a done.<tid> file; the last
  # one also sends wrk SIGINT. Watch for the files here too and end wrk ourselves (wrk prints its
  # results on SIGINT), so the warm-up never waits out its -d cap once every name is in.
  HB_MODE=$mode HB_AGENTS=$AGENTS HB_THREADS=$THREADS HB_CONNS=$per HB_PAD=$pad HB_ONCE=$once \
    "$WRK" -t"$THREADS" -c"$CONNS" -d"${WARMUP_MAX}s" --timeout 10s -s "$LUA" "$url" \
    > "$out/$t.warmup.txt" 2>&1 &
  local wpid=$! n i
  pids+=("$wpid")
  while kill -0 "$wpid" 2>/dev/null; do
    n=$(find "$once" -name 'done.*' | wc -l)
    if (( n >= THREADS )); then
      for ((i = 0; i < 40 && $(kill -0 "$wpid" 2>/dev/null && echo 1 || echo 0); i++)); do
        (( i % 10 == 0 )) && kill -INT "$wpid" 2>/dev/null
        sleep 0.05
      done
      break
    fi
    sleep 0.05
  done
  wait "$wpid" || log "  warm-up: wrk exited with $?"
  local keep=() q
  for q in "${pids[@]}"; do [ "$q" = "$wpid" ] || keep+=("$q"); done
  pids=("${keep[@]+"${keep[@]}"}")
  local wreq wdur wbad wstat
  wreq=$(field requests "$out/$t.warmup.txt"); wdur=$(field duration_us "$out/$t.warmup.txt")
  wbad=$(sed -n 's/^WARMUP bad=\([0-9]*\)/\1/p' "$out/$t.warmup.txt")
  wstat=$(awk '{n+=$1} END {print n+0}' "$once"/done.* 2>/dev/null || echo 0)
  local ndone
  ndone=$(ls "$once" 2>/dev/null | grep -c '^done\.' || true)
  if [ "$ndone" != "$THREADS" ]; then
    R_NOTE[$t]+="warm-up did not reach all names within ${WARMUP_MAX}s; "
  fi
  if [ -n "$wbad" ] && [ "$wbad" != 0 ]; then
    R_NOTE[$t]+="warm-up: $wbad non-2xx; "
  fi
  R_WARM[$t]=$(awk -v r="${wreq:-0}" -v d="${wdur:-1}" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
  log "  warm-up: ${wreq:-?} requests in $(awk -v d="${wdur:-0}" 'BEGIN{printf "%.2f", d/1e6}') s" \
      "(${R_WARM[$t]} req/s, non-2xx ${wbad:-?})"
}

# run_wrk TARGET MODE PORT PID [PAD]: warm-up (every name once) then the measured rounds.
# Fills the per-target result variables; RSS/agent is the growth over the warm-up.
run_wrk() {
  local t=$1 mode=$2 port=$3 pid=$4 pad=${5:-field}
  local url="$(scheme "$t")://127.0.0.1:$port/"
  local rss0 rss1 rss2
  rss0=$(rss_kb "$pid")
  wrk_warmup "$t" "$mode" "$url" "$pad"
  sleep 1
  rss1=$(rss_kb "$pid")

  local load c0 c1
  load=$(busy_note)
  log "  measured: $ROUNDS round(s) of ${DURATION}s, load average before: $load"
  local s0 s1 w0 w1 wcpu=0 r
  task_ticks "$pid" > "$tmp/tasks0"
  c0=$(cpu_ticks "$pid"); s0=$(sys_busy); w0=$(date +%s.%N)
  local TIMEFORMAT='%3U %3S'
  : > "$out/$t.run.txt"
  for ((r = 1; r <= ROUNDS; r++)); do
    { time HB_MODE=$mode HB_AGENTS=$AGENTS HB_THREADS=$THREADS HB_PAD=$pad \
        "$WRK" -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency -s "$LUA" "$url" \
        > "$out/$t.run$r.txt" 2>&1 || log "  round $r: wrk exited with $?"; } 2> "$tmp/wrk.time"
    wcpu=$(awk -v a="$wcpu" '{ print a + $1 + $2 }' "$tmp/wrk.time")
    grep '^RESULT' "$out/$t.run$r.txt" | sed "s/^RESULT/RESULT round=$r/" >> "$out/$t.run.txt" || true
    log "  round $r: $(awk '/^Requests\/sec/ { printf "%.0f req/s", $2 }' "$out/$t.run$r.txt")," \
        "p50 $(ms "$(field p50_us "$out/$t.run$r.txt")") ms, p99 $(ms "$(field p99_us "$out/$t.run$r.txt")") ms"
  done
  c1=$(cpu_ticks "$pid"); s1=$(sys_busy); w1=$(date +%s.%N)
  task_ticks "$pid" > "$tmp/tasks1"
  local threads_cpu
  threads_cpu=$(thread_report "$tmp/tasks0" "$tmp/tasks1" "$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')")
  # CPU used by everything else on the machine during the runs, as a share of all cores.
  R_OTHER[$t]=$(awk -v s="$((s1 - s0))" -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v w="$wcpu" \
    -v t0="$w0" -v t1="$w1" -v n="$(nproc)" \
    'BEGIN { o = (s - c) / hz - w; if (o < 0) o = 0; printf "%.0f", 100 * o / (n * (t1 - t0)) }')
  rss2=$(rss_kb "$pid")

  # Median over the rounds, each figure on its own; errors summed.
  local med rounds_ok
  rounds_ok=$(grep -c '^RESULT' "$out/$t.run.txt" || true)
  if [ "${rounds_ok:-0}" = 0 ]; then
    R_NOTE[$t]+="wrk produced no result; "
    R_RPS[$t]=""; return 1
  fi
  (( rounds_ok < ROUNDS )) && R_NOTE[$t]+="only $rounds_ok of $ROUNDS rounds gave a result; "
  med() { # median of the NAME= values on the RESULT lines
    sed -n "s/^RESULT.* $1=\([0-9.]*\).*/\1/p" "$out/$t.run.txt" | sort -n |
      awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
  }
  sum() { sed -n "s/^RESULT.* $1=\([0-9.]*\).*/\1/p" "$out/$t.run.txt" | awk '{ n += $1 } END { print n + 0 }'; }
  R_RPS[$t]=$(med rps); R_P50[$t]=$(med p50_us); R_P99[$t]=$(med p99_us)
  R_RANGE[$t]=$(sed -n 's/^RESULT.* rps=\([0-9.]*\).*/\1/p' "$out/$t.run.txt" | sort -n |
    awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }')
  local req e v k
  req=$(sum requests)
  e=0
  for k in connect read write status timeout; do
    v=$(sum "$k"); e=$((e + v))
    [ "$v" != 0 ] && R_NOTE[$t]+="$k errors: $v; "
  done
  R_ERR[$t]=$e
  R_CPU[$t]=$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v r="$req" \
    'BEGIN { if (r > 0) printf "%.1f", c / hz * 1e6 / r; else print "-" }')
  if [ "${t%-tls}" = nginx ]; then
    R_RSS[$t]="-"
  else
    R_RSS[$t]=$(awk -v a="$rss0" -v b="$rss1" -v n="$AGENTS" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
  fi
  {
    echo "target=$t rss_idle_kb=$rss0 rss_after_warmup_kb=$rss1 rss_after_run_kb=$rss2"
    echo "median: rps=${R_RPS[$t]} p50_us=${R_P50[$t]} p99_us=${R_P99[$t]} range_rps=${R_RANGE[$t]}"
    echo "cpu_ticks_run=$((c1 - c0)) clk_tck=$CLK_TCK requests=$req loadavg_before=$load"
    echo "server threads, % of one core (user/system) over the runs, busiest first:"
    printf '%s\n' "$threads_cpu" | sed 's/^/  tid /'
    echo "wrk_cpu_s=$wcpu wall_s=$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.2f", b-a}')" \
      "system_busy_ticks=$((s1 - s0)) others_pct=${R_OTHER[$t]}"
  } >> "$out/$t.run.txt"
  log "  RSS idle ${rss0} kB, after warm-up ${rss1} kB, after the runs ${rss2} kB;" \
      "server CPU ${R_CPU[$t]} us/request; wrk CPU ${wcpu}s; other processes ${R_OTHER[$t]}% of the CPUs"
  log "  busiest server threads (% of one core, user/system): $(printf '%s\n' "$threads_cpu" | head -3 | cut -d' ' -f2- | paste -sd, - | sed 's/,/, /g')"
}

# probe MODE PORT [PAD] [SCHEME]: one request for agent-000000 (one of the benchmark's own names),
# sent by wrk with heartbeat.lua so it is byte for byte what the load sends; prints the HTTP
# status. The request and the answer are kept in $tmp/probe.out.
probe() {
  local mode=$1 port=$2 pad=${3:-field} scheme=${4:-http}
  rm -f "$tmp/probe.out"
  HB_MODE=$mode HB_AGENTS=1 HB_THREADS=1 HB_PAD=$pad HB_PROBE=$tmp/probe.out \
    timeout 20 "$WRK" -t1 -c1 -d10s --timeout 5s -s "$LUA" "$scheme://127.0.0.1:$port/" \
    > "$tmp/probe.wrk" 2>&1 || true
  sed -n 's/^STATUS \([0-9]*\)$/\1/p' "$tmp/probe.out" 2>/dev/null | head -1 | grep . || echo 000
}
probe_body_len() {
  awk '/^RESPONSE-BODY$/ { exit } b { n += length($0) + 1 } /^\r?$/ && !b { b = 1 } END { print n - 1 }' \
    "$tmp/probe.out"
}
probe_answer() { sed -n '/^RESPONSE-BODY$/,$p' "$tmp/probe.out" 2>/dev/null | sed 1d | head -c 300; }
