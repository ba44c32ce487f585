#!/usr/bin/env bash
# Benchmarks streamguard-policyd against a Redis of its own, and (when it is
# installed) Debian's postfwd with an equivalent ruleset, using
# streamguard-policy-load. Everything runs on this machine: Redis and policyd
# on unix sockets in a temporary folder, the TCP runs on 127.0.0.1 only. Every
# process started here is stopped on exit. See docs/benchmarks.md.
#
# Variables (environment):
#   BUILD_DIR         build folder holding policyd/ and bench/ (default: build)
#   DURATION          seconds measured per 32-connection run (default 20)
#   WARMUP            seconds of unmeasured load before each run (default 3)
#   CONNECTIONS       connections of the throughput runs (default 32)
#   LAT_DURATION      seconds measured per 1-connection run (default 10)
#   POSTFWD           auto (when /usr/sbin/postfwd2 exists), 1 (required), 0 (skip)
#   POSTFWD_DURATION  seconds measured per postfwd run (default 10)
#   SUPPRESSED        addresses loaded into the suppression set before each
#                     policyd run (default 0; the issue's figure is 1000000),
#                     with streamguardctl suppress import: its time and the
#                     Redis memory the set takes are reported
#   OUT               a folder to keep the JSON reports, logs and the table in
#   KEEP=1            keep the temporary folder
#
# Usage: bench/run-policyd-bench.sh            (from the repository root)
#        BUILD_DIR=build-bench DURATION=20 bench/run-policyd-bench.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-32}
LAT_DURATION=${LAT_DURATION:-10}
POSTFWD=${POSTFWD:-auto}
POSTFWD_DURATION=${POSTFWD_DURATION:-10}
OUT=${OUT:-}
KEEP=${KEEP:-0}
SUPPRESSED=${SUPPRESSED:-0}

POLICYD=$BUILD_DIR/policyd/streamguard-policyd
LOADGEN=$BUILD_DIR/bench/streamguard-policy-load
CTL=$BUILD_DIR/ctl/streamguardctl
CONFIG=$ROOT/bench/bench.toml
POSTFWD_RULES=$ROOT/bench/postfwd.cf
HZ=$(getconf CLK_TCK)

die() {
  echo "run-policyd-bench: $*" >&2
  exit 1
}
note() { echo "== $*" >&2; }

[[ -x $POLICYD ]] || die "$POLICYD not found: build it (BUILD_DIR=$BUILD_DIR)"
[[ -x $LOADGEN ]] || die "$LOADGEN not found: build the streamguard-policy-load target"
command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
command -v dnsmasq >/dev/null || die "dnsmasq not found (apt-get install dnsmasq-base)"
command -v redis-cli >/dev/null || die "redis-cli not found (apt-get install redis-tools)"
case $POSTFWD in
  auto) [[ -x /usr/sbin/postfwd2 ]] && POSTFWD=1 || POSTFWD=0 ;;
  1) [[ -x /usr/sbin/postfwd2 ]] || die "POSTFWD=1 but /usr/sbin/postfwd2 is missing (apt-get install postfwd)" ;;
  0) ;;
  *) die "POSTFWD must be auto, 0 or 1" ;;
esac

T=$(mktemp -d /tmp/sg-bench.XXXXXX)
REDIS_PID=""
SERVER_PID=""
DNS_PID=""
DNS_ADDR=""
POSTFWD_GROUP=""

stop_pid() {  # pid: TERM, wait up to 5 s, then KILL
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

stop_postfwd() {  # the process group of the postfwd master started here
  local g=$POSTFWD_GROUP i
  [[ -n $g ]] || return 0
  kill -- "-$g" 2>/dev/null || true
  for i in $(seq 50); do
    pgrep -g "$g" >/dev/null 2>&1 || break
    sleep 0.1
  done
  pgrep -g "$g" >/dev/null 2>&1 && kill -9 -- "-$g" 2>/dev/null
  POSTFWD_GROUP=""
}

cleanup() {
  stop_pid "$SERVER_PID"
  stop_postfwd
  stop_pid "$REDIS_PID"
  stop_pid "$DNS_PID"
  if [[ -n $OUT ]]; then
    mkdir -p "$OUT"
    cp "$T"/*.json "$T"/*.md "$OUT"/ 2>/dev/null || true
    # The decision logs are hundreds of MB: keep their first 1000 lines.
    for f in "$T"/*.log; do
      [[ -f $f ]] && head -n 1000 "$f" >"$OUT/$(basename "$f")"
    done
  fi
  if [[ $KEEP = 1 ]]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- measurements -----------------------------------------------------------

cpu_ticks() {  # utime + stime of the given pids, in clock ticks
  local sum=0 pid rest
  for pid in "$@"; do
    [[ -r /proc/$pid/stat ]] || continue
    rest=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    # After "pid (comm) ", utime and stime are fields 12 and 13.
    sum=$((sum + $(awk '{print $12 + $13}' <<<"$rest")))
  done
  echo "$sum"
}

group_pids() { pgrep -g "$1" 2>/dev/null | tr '\n' ' '; }

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

pss_kb() {  # proportional set size summed over pids (shared pages split)
  local sum=0 pid v
  for pid in "$@"; do
    v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

jget() {  # key file: a scalar from the generator's one-line JSON report
  sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2" | head -n1
}

now() { date +%s.%N; }

# --- servers ----------------------------------------------------------------

start_redis() {
  stop_pid "$REDIS_PID"
  rm -f "$T/redis.sock"
  redis-server --port 0 --unixsocket "$T/redis.sock" --unixsocketperm 700 --save "" \
    --appendonly no --dir "$T" --logfile "$T/redis.log" &
  REDIS_PID=$!
  local i
  for i in $(seq 100); do
    [[ $(redis-cli -s "$T/redis.sock" ping 2>/dev/null) = PONG ]] && return 0
    sleep 0.05
  done
  die "redis-server did not start (see $T/redis.log)"
}

# The MX lookups policyd makes for custom domains go to a private dnsmasq on
# 127.0.0.1, never to the machine's resolver: a few clinics on Google's and
# Microsoft's MX, every other .example name does not exist. Each domain is
# looked up once and then answered from policyd's cache, as in production.
start_dns() {
  local user=() p
  [[ $(id -u) -eq 0 ]] && user=(--user=root)
  for _ in $(seq 10); do
    p=$((20000 + RANDOM % 30000))
    dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
      --listen-address=127.0.0.1 --port="$p" --pid-file "${user[@]}" --local-ttl=3600 \
      --mx-host=clinic001.example,aspmx.l.google.com,1 \
      --mx-host=clinic002.example,aspmx.l.google.com,1 \
      --mx-host=clinic003.example,clinic003-example.mail.protection.outlook.com,0 \
      --local=/example/ >>"$T/dnsmasq.log" 2>&1 &
    DNS_PID=$!
    sleep 0.3
    if kill -0 "$DNS_PID" 2>/dev/null; then DNS_ADDR=127.0.0.1:$p; return 0; fi
  done
  die "dnsmasq did not start (see $T/dnsmasq.log; apt-get install dnsmasq-base)"
}

free_port() {  # a TCP port on 127.0.0.1 that nothing listens on
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  die "no free port found"
}

wait_answering() {  # target pid: until one policy request is answered
  local i
  for i in $(seq 100); do
    kill -0 "$2" 2>/dev/null || return 1
    "$LOADGEN" --target "$1" --connections 1 --requests 1 --warmup 0 --max-seconds 2 \
      --timeout-ms 1000 --json >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# start_policyd NAME LEVEL unix|tcp: sets SERVER_PID and TARGET
start_policyd() {
  local name=$1 level=$2 transport=$3 listen
  stop_pid "$SERVER_PID"
  if [[ $transport = unix ]]; then
    listen=unix:$T/policy.sock
  else
    listen=inet:127.0.0.1:$(free_port)
  fi
  TARGET=$listen
  "$POLICYD" --config "$CONFIG" --listen "$listen" --redis "unix://$T/redis.sock" \
    --dns "$DNS_ADDR" --status "unix:$T/status.sock" --log-level "$level" 2>>"$T/policyd-$name.log" &
  SERVER_PID=$!
  wait_answering "$TARGET" "$SERVER_PID" || die "policyd did not answer (see $T/policyd-$name.log)"
  # The first answers may have been given before Redis was connected: start
  # the run from empty counters and a fresh log (stderr is opened O_APPEND,
  # so truncating it leaves no hole).
  redis-cli -s "$T/redis.sock" flushall >/dev/null
  load_suppressed "$name"
  : >"$T/policyd-$name.log"
}

# load_suppressed NAME: SUPPRESSED dead addresses (none of them in the load
# generator's mix, so every request still runs the limiter) into the fresh
# Redis, as an operator imports them.
load_suppressed() {
  ((SUPPRESSED > 0)) || return 0
  [[ -x $CTL ]] || die "$CTL not found: build streamguardctl"
  [[ -s $T/suppressed.csv ]] ||
    awk -v n="$SUPPRESSED" 'BEGIN { for (i = 0; i < n; i++) printf "dead%07d@clinic%03d.example\n", i, i % 400 + 1 }' >"$T/suppressed.csv"
  local before after t0 t1
  before=$(redis-cli -s "$T/redis.sock" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
  t0=$(now)
  "$CTL" suppress import "$T/suppressed.csv" --config "$CONFIG" --redis "unix://$T/redis.sock" \
    >"$T/import-$1.txt" 2>&1 || die "import failed (see $T/import-$1.txt)"
  t1=$(now)
  after=$(redis-cli -s "$T/redis.sock" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
  awk -v n="$SUPPRESSED" -v a="$t0" -v b="$t1" -v m=$((after - before)) -v name="$1" 'BEGIN {
    printf "%s: %d suppressed addresses imported in %.1f s (%.0f rows/s); Redis memory +%.0f MB (%.0f bytes an address, the whole set and %s)\n",
      name, n, b - a, n / (b - a), m / 1048576, m / n, "each stream'"'"'s copy" }' >>"$T/suppressed.txt"
}

# start_postfwd NAME postfwd1|postfwd2: sets SERVER_PID, POSTFWD_GROUP and TARGET
start_postfwd() {
  local name=$1 flavour=$2 port
  port=$(free_port)
  TARGET=inet:127.0.0.1:$port
  rm -f "$T/postfwd.pid" "$T/postfwd-cache.sock"
  if [[ $flavour = postfwd2 ]]; then
    # Prefork: enough children for every connection from the start; no
    # request cache (it would answer repeated requests without counting them).
    (cd "$T" && /usr/sbin/postfwd2 -f "$POSTFWD_RULES" \
      --server_socket "tcp:127.0.0.1:$port" --cache_socket "unix::$T/postfwd-cache.sock" \
      --pidfile "$T/postfwd.pid" -u root -g root --nodns --cache=0 --perfmon \
      --min_servers $((CONNECTIONS + 4)) --max_servers $((CONNECTIONS + 20)) \
      --min_spare_servers 2 --max_spare_servers $((CONNECTIONS + 8))) >"$T/$name.log" 2>&1
  else
    # One process (Net::Server::Multiplex), rate counters in its own memory.
    (cd "$T" && /usr/sbin/postfwd1 -d -f "$POSTFWD_RULES" -i 127.0.0.1 -p "$port" \
      --pidfile "$T/postfwd.pid" -u root -g root --nodns --cache=0 --perfmon) >"$T/$name.log" 2>&1
  fi
  local i
  for i in $(seq 50); do
    [[ -s $T/postfwd.pid ]] && break
    sleep 0.1
  done
  [[ -s $T/postfwd.pid ]] || die "$flavour did not start (see $T/$name.log)"
  SERVER_PID=$(cat "$T/postfwd.pid")
  POSTFWD_GROUP=$(ps -o pgid= -p "$SERVER_PID" | tr -d ' ')
  wait_answering "$TARGET" "$SERVER_PID" || die "$flavour did not answer (see $T/$name.log)"
  sleep 1  # let the prefork children settle
}

# --- one run ----------------------------------------------------------------

TABLE=$T/results.md
{
  echo "$(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), Linux $(uname -r); $(redis-server --version | cut -d' ' -f1-3); BUILD_DIR=${BUILD_DIR#"$ROOT"/} (policyd built $(date -u -r "$POLICYD" +%H:%MZ), tree at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- policyd common 2>/dev/null || echo ', policyd/common modified')); ${CONNECTIONS}-connection runs ${DURATION}s, 1-connection runs ${LAT_DURATION}s, postfwd runs ${POSTFWD_DURATION}s, warmup ${WARMUP}s each"
  echo
  echo "| run | server | transport | decision log | conns | req/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | DUNNO / REJECT / HOLD / DEFER / other | errors | server peak RSS MB | server CPU % | Redis CPU % | generator CPU % | server CPU µs/req |"
  echo "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|"
} >"$TABLE"

# run_load NAME SERVER TRANSPORT LOG CONNS DURATION KIND(policyd|postfwd1|postfwd2)
run_load() {
  local name=$1 server=$2 transport=$3 logdesc=$4 conns=$5 duration=$6 kind=$7
  local json=$T/$name.json gen s0 s1 r0 r1 t0 t1 rc=0
  note "$name: $server ($transport, log $logdesc), $conns connection(s), ${WARMUP}s warmup + ${duration}s"
  "$LOADGEN" --target "$TARGET" --connections "$conns" --duration "$duration" \
    --warmup "$WARMUP" --max-seconds $((WARMUP + duration + 60)) --json >"$json" &
  gen=$!
  sleep "$WARMUP"
  local spids=$SERVER_PID
  [[ $kind = postfwd2 ]] && spids=$(group_pids "$POSTFWD_GROUP")
  t0=$(now); s0=$(cpu_ticks $spids); r0=$(cpu_ticks $REDIS_PID)
  sleep "$duration"
  [[ $kind = postfwd2 ]] && spids=$(group_pids "$POSTFWD_GROUP")
  t1=$(now); s1=$(cpu_ticks $spids); r1=$(cpu_ticks $REDIS_PID)
  wait "$gen" || rc=$?
  [[ -s $json ]] || die "$name: the load generator printed no report (exit $rc)"

  local rss_mb
  if [[ $kind = postfwd2 ]]; then
    # Many processes: their summed PSS (shared pages counted once).
    local pids
    pids=$(group_pids "$POSTFWD_GROUP")
    rss_mb=$(awk -v k="$(pss_kb $pids)" -v n="$(wc -w <<<"$pids")" \
      'BEGIN{printf "%.1f (PSS of %d processes)", k/1024, n}')
  else
    rss_mb=$(awk -v k="$(hwm_kb "$SERVER_PID")" 'BEGIN{printf "%.1f", k/1024}')
  fi
  local rps
  rps=$(jget requests_per_second "$json")
  local row
  row=$(awk -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" -v hz="$HZ" \
    -v s="$((s1 - s0))" -v r="$((r1 - r0))" -v gc="$(jget client_cpu_percent "$json")" -v rps="$rps" \
    -v redis="$([[ $kind = policyd ]] && echo 1 || echo 0)" 'BEGIN{
      sc = s / hz / w * 100; rc = r / hz / w * 100;
      us = (rps > 0) ? (s / hz / w) / rps * 1e6 : 0;
      printf "%.0f %s %.0f %.1f", sc, (redis ? sprintf("%.0f", rc) : "n/a"), gc, us }')
  local sc rcpu gcpu us
  read -r sc rcpu gcpu us <<<"$row"
  printf '| %s | %s | %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s / %s / %s / %s / %s | %s | %s | %s | %s | %s | %s |\n' \
    "$name" "$server" "$transport" "$logdesc" "$conns" "$rps" \
    "$(jget p50 "$json")" "$(jget p90 "$json")" "$(jget p99 "$json")" "$(jget p99_9 "$json")" \
    "$(jget max "$json")" "$(jget DUNNO "$json")" "$(jget REJECT "$json")" "$(jget HOLD "$json")" \
    "$(jget DEFER_IF_PERMIT "$json")" "$(jget other "$json")" "$(jget errors "$json")" \
    "$rss_mb" "$sc" "$rcpu" "$gcpu" "$us" >>"$TABLE"
  if [[ $kind = policyd && -s $T/policyd-$name.log ]]; then
    local lines bytes
    lines=$(wc -l <"$T/policyd-$name.log")
    bytes=$(wc -c <"$T/policyd-$name.log")
    echo "$name: policyd wrote $lines log lines, $((bytes / 1024)) KiB" >>"$T/logvolume.txt"
  fi
}

# --- the runs ---------------------------------------------------------------

note "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1); temp $T"

start_dns

# policyd: decision log on (info, one line per decision to a file), then off (warn).
for level in info warn; do
  logdesc=$([[ $level = info ]] && echo "info (file)" || echo "off (warn)")
  stop_pid "$SERVER_PID"  # before its Redis goes away, so its log stays quiet
  start_redis
  start_policyd "$level-$CONNECTIONS" "$level" unix
  run_load "$level-$CONNECTIONS" policyd unix "$logdesc" "$CONNECTIONS" "$DURATION" policyd
  stop_pid "$SERVER_PID"
  start_redis
  start_policyd "$level-1" "$level" unix
  run_load "$level-1" policyd unix "$logdesc" 1 "$LAT_DURATION" policyd
done
# The same on TCP 127.0.0.1, the transport postfwd is measured on.
stop_pid "$SERVER_PID"
start_redis
start_policyd "warn-tcp-$CONNECTIONS" warn tcp
run_load "warn-tcp-$CONNECTIONS" policyd "tcp 127.0.0.1" "off (warn)" "$CONNECTIONS" "$DURATION" policyd
stop_pid "$SERVER_PID"
SERVER_PID=""

if [[ $POSTFWD = 1 ]]; then
  for flavour in postfwd2 postfwd1; do
    start_postfwd "$flavour-$CONNECTIONS" "$flavour"
    run_load "$flavour-$CONNECTIONS" "$flavour 1.35" "tcp 127.0.0.1" "off (--perfmon)" \
      "$CONNECTIONS" "$POSTFWD_DURATION" "$flavour"
    stop_postfwd
    start_postfwd "$flavour-1" "$flavour"
    run_load "$flavour-1" "$flavour 1.35" "tcp 127.0.0.1" "off (--perfmon)" 1 \
      "$POSTFWD_DURATION" "$flavour"
    stop_postfwd
    SERVER_PID=""
  done
fi

echo
cat "$TABLE"
echo
[[ -f $T/logvolume.txt ]] && sed 's/^/    /' "$T/logvolume.txt"
[[ -f $T/suppressed.txt ]] && sed 's/^/    /' "$T/suppressed.txt"
echo "    latency in µs as the client saw it; CPU % of one core over the measured window"
