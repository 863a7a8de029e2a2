#!/usr/bin/env bash
# bench/idle.sh: the gateway's memory with thousands of idle keep-alive connections. Starts a
# temporary PostgreSQL cluster (feegate dev-db), migrates it, starts `feegate serve` on
# 127.0.0.1 (default configuration but the port and log level), then runs
# feegate-idle-conns: IDLE_CONNECTIONS (10000) connections from IDLE_SOURCES (80) loopback
# source addresses (the gateway allows [server] connections_per_address_max, 128, per
# address), one keep-alive GET /healthz each, then VmRSS of the gateway with them idle.
# Prints the machine, the gateway's connection_limits log line (descriptors, connections_max,
# per_address) and the figures. Stops everything on any exit; bounded by a watchdog.
# docs/benchmarks.md#idle-keep-alive-connections.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
FEEGATE=$BUILD/gateway/feegate
IDLE=$BUILD/bench/feegate-idle-conns
N=${IDLE_CONNECTIONS:-10000}
SOURCES=${IDLE_SOURCES:-80}
PORT=${IDLE_PORT:-18580}
LIMIT=300

say() { printf 'idle: %s\n' "$*" >&2; }
WORK=$(mktemp -d /tmp/feegate-idle.XXXXXX)
chmod 755 "$WORK"
GW_PID=""
DB_STARTED=0
cleanup() {
    local rc=$?
    set +e
    [ -n "$GW_PID" ] && kill -TERM "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
    [ "$DB_STARTED" = 1 ] && timeout 60 "$FEEGATE" dev-db stop "$WORK/db" >/dev/null 2>&1
    if [ "$rc" -ne 0 ]; then say "logs kept in $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
(sleep "$LIMIT" && say "time limit of $LIMIT s reached" && kill -TERM $$) >/dev/null 2>&1 &
WATCHDOG=$!
trap 'kill "$WATCHDOG" 2>/dev/null; cleanup' EXIT

if [ ! -x "$FEEGATE" ] || [ ! -x "$IDLE" ]; then
    say "build first (cmake --build $BUILD)"
    exit 1
fi
DB_STARTED=1
out=$(timeout 120 "$FEEGATE" dev-db start "$WORK/db" $((PORT + 1)) 2>"$WORK/db.log")
eval "$(grep -E '^(export )?FEEGATE_[A-Z_]+=' <<<"$out")"
export FEEGATE_DSN FEEGATE_ADMIN_DSN
timeout 120 "$FEEGATE" migrate >"$WORK/migrate.log" 2>&1
cat >"$WORK/feegate.ini" <<EOF
; written by bench/idle.sh
[server]
listen = 127.0.0.1:$PORT
[database]
dsn = $FEEGATE_DSN
[log]
level = info
EOF
"$FEEGATE" serve -c "$WORK/feegate.ini" >"$WORK/gateway.log" 2>&1 &
GW_PID=$!
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/readyz" 2>/dev/null && break
    sleep 0.1
done
sleep 2 # the jobs' first rounds, so that the idle figure is the steady one
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
printf 'machine: %s cores (%s), %s MiB RAM, kernel %s, %s, load average %s\n' "$(nproc)" \
    "${cpu:-unknown}" "$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024))" \
    "$(uname -r)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'client descriptor limit: %s (hard %s)\n' "$(ulimit -n)" "$(ulimit -Hn)"
grep -m1 '"connection_limits"' "$WORK/gateway.log" || true
"$IDLE" --port "$PORT" --pid "$GW_PID" --connections "$N" --sources "$SOURCES" --hold-s 5
refused=$(curl -fsS --max-time 2 "http://127.0.0.1:$PORT/metrics" |
    grep '^feegate_http_connections_refused_total' || true)
printf 'gateway refusals: %s\n' "$(tr '\n' ' ' <<<"${refused:-none}")"
