#!/usr/bin/env bash
# bench/run.sh: the benchmark, end to end and self-contained. Starts a temporary PostgreSQL
# cluster (feegate dev-db), migrates and seeds it, starts the bank simulator (--auto approve)
# and the gateway on 127.0.0.1, runs feegate-loadgen (healthz, readyz, full), prints the
# figures (with the CPU each process spent per payment of the full path) and a ledger check,
# and stops everything on any exit. Bounded in time: a watchdog
# ends the run after BENCH_TIMEOUT seconds. Method and meaning of each figure:
# docs/benchmarks.md.
#
# Knobs (environment):
#   BENCH_CONCURRENCY (64)  BENCH_DURATION (10, seconds per mode)  BENCH_MODES
#   (healthz,readyz,full)  BENCH_VERIFY (0; 1 adds GET /v1/payments/{id})  BENCH_PAYMENTS
#   (unset: bounded by duration)  BENCH_AGENCY (STP-HN)  BENCH_FEE (LLTP)  BENCH_AMOUNT
#   (200000)  BENCH_LOOPS (nproc)  BENCH_CONNS_PER_LOOP (2)  BENCH_LOG_LEVEL (warn)
#   BENCH_CLIENT / BENCH_SECRET (default: what seed-demo prints)  BENCH_PORT_BASE (18080)
#   BENCH_OUT (copy the JSON lines there)  BENCH_KEEP (1: keep the work dir and logs)
#   BENCH_TIMEOUT (whole run, seconds)  BUILD_DIR (build)
#   BENCH_CHANNELS (sandbox): comma-separated channels the full mode pays through, one
#   loadgen run each (sandbox, vnpay, momo, zalopay: all simulated), e.g.
#   BENCH_CHANNELS=sandbox,vnpay,momo,zalopay; a summary prints payments/s and p99 per channel
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
FEEGATE=$BUILD/gateway/feegate
LOADGEN=$BUILD/bench/feegate-loadgen
BANKSIM=${BANKSIM:-$BUILD/adapters/banksim/feegate-banksim}

CONC=${BENCH_CONCURRENCY:-64}
DUR=${BENCH_DURATION:-10}
MODES=${BENCH_MODES:-healthz,readyz,full}
CHANNELS=${BENCH_CHANNELS:-sandbox}
N_CHANNELS=$(($(tr -cd ',' <<<"$CHANNELS" | wc -c) + 1))
VERIFY=${BENCH_VERIFY:-0}
PAYMENTS=${BENCH_PAYMENTS:-}
AGENCY=${BENCH_AGENCY:-STP-HN}
FEE=${BENCH_FEE:-LLTP}
AMOUNT=${BENCH_AMOUNT:-200000}
LOOPS=${BENCH_LOOPS:-$(nproc)}
CONNS=${BENCH_CONNS_PER_LOOP:-2}
LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
PORT_BASE=${BENCH_PORT_BASE:-18080}
KEEP=${BENCH_KEEP:-0}
N_MODES=$(($(tr -cd ',' <<<"$MODES" | wc -c) + 1))
# Each mode: its duration, then at most timeout (15 s) + grace to drain; plus setup.
LIMIT=${BENCH_TIMEOUT:-$((180 + (N_MODES + N_CHANNELS) * (DUR + 20)))}

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

WORK=""
GW_PID=""
SIM_PID=""
LG_PID=""
DB_STARTED=0
WATCHDOG=""

stop_pid() { # pid name: SIGTERM (the gateway drains), SIGKILL after 10 s
    local pid=$1 _
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    say "$2 (pid $pid) did not stop in 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e # best effort from here: every step runs even when an earlier one fails
    [ -n "$WATCHDOG" ] && kill -TERM "$WATCHDOG" 2>/dev/null
    stop_pid "$LG_PID" loadgen
    stop_pid "$GW_PID" gateway
    stop_pid "$SIM_PID" simulator
    if [ "$DB_STARTED" = 1 ]; then
        timeout 60 "$FEEGATE" dev-db stop "$WORK/db" >"$WORK/db-stop.log" 2>&1 ||
            say "dev-db stop failed: see $WORK/db-stop.log"
    fi
    if [ -n "$WORK" ]; then
        if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then
            say "logs and config kept in $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_watchdog() {
    local me=$$
    (
        trap 'kill "$sp" 2>/dev/null; exit 0' TERM
        sleep "$LIMIT" &
        sp=$!
        wait "$sp"
        echo "bench: time limit of $LIMIT s reached, stopping" >&2
        kill -TERM "$me"
    ) >/dev/null &
    WATCHDOG=$!
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
    local p=$1
    while port_busy "$p"; do
        p=$((p + 1))
        [ "$p" -lt $(($1 + 100)) ] || die "no free port near $1"
    done
    echo "$p"
}

# Keeps only KEY=VALUE lines for FEEGATE_ variables from a command's output, then evals them.
eval_feegate_lines() {
    local lines
    lines=$(grep -E '^(export )?FEEGATE_[A-Z_]+=' <<<"$1" || true)
    [ -n "$lines" ] || return 1
    eval "$lines"
}

wait_until() { # seconds description pid-to-watch command...
    local secs=$1 what=$2 pid=$3 _
    shift 3
    for _ in $(seq 1 $((secs * 10))); do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    say "$what not ready after $secs s"
    return 1
}

http_ok() { curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; }

build_if_needed() {
    if [ -x "$FEEGATE" ] && [ -x "$LOADGEN" ] && [ -n "$(find_banksim)" ]; then
        return 0
    fi
    say "building into $BUILD"
    timeout 900 cmake -S "$ROOT" -B "$BUILD" >/dev/null
    timeout 900 cmake --build "$BUILD" -j"$(nproc)" >/dev/null
}

find_banksim() {
    if [ -x "$BANKSIM" ]; then
        echo "$BANKSIM"
    else
        find "$BUILD" -type f -name feegate-banksim -perm -u+x 2>/dev/null | head -n 1
    fi
}

start_db() {
    local out db_port
    db_port=$(pick_port $((PORT_BASE + 200)))
    DB_STARTED=1
    out=$(timeout 120 "$FEEGATE" dev-db start "$WORK/db" "$db_port" 2>"$WORK/db-start.log") ||
        die "dev-db start failed: $(tail -n 5 "$WORK/db-start.log")"
    eval_feegate_lines "$out" || die "dev-db start printed no FEEGATE_ lines"
    if [ -z "${FEEGATE_DSN:-}" ] || [ -z "${FEEGATE_ADMIN_DSN:-}" ]; then
        die "dev-db start must print FEEGATE_DSN and FEEGATE_ADMIN_DSN"
    fi
    export FEEGATE_DSN FEEGATE_ADMIN_DSN
    timeout 120 "$FEEGATE" migrate >"$WORK/migrate.log" 2>&1 ||
        die "migrate failed: $(tail -n 5 "$WORK/migrate.log")"
    out=$(timeout 120 "$FEEGATE" seed-demo 2>"$WORK/seed.log") ||
        die "seed-demo failed: $(tail -n 5 "$WORK/seed.log")"
    eval_feegate_lines "$out" || true
    CLIENT=${BENCH_CLIENT:-${FEEGATE_CLIENT_ID:-demo-portal}}
    SECRET=${BENCH_SECRET:-${FEEGATE_CLIENT_SECRET:-}}
    [ -n "$SECRET" ] || die "seed-demo printed no FEEGATE_CLIENT_SECRET; set BENCH_SECRET"
}

write_config() {
    SANDBOX_SECRET=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
    VNP_SECRET=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
    MOMO_ACCESS=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
    MOMO_SECRET=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
    ZP_KEY1=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
    ZP_KEY2=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
    cat >"$WORK/feegate.ini" <<EOF
; written by bench/run.sh
[server]
listen = 127.0.0.1:$GW_PORT
public_url = http://127.0.0.1:$GW_PORT
loops = $LOOPS
[database]
dsn = $FEEGATE_DSN
conns_per_loop = $CONNS
[log]
level = $LOG_LEVEL
[channel.sandbox]
merchant_id = FEEGATE01
secret = $SANDBOX_SECRET
endpoint_url = http://127.0.0.1:$SIM_PORT
[channel.vnpay]
merchant_id = FGBENCH1
secret = $VNP_SECRET
endpoint_url = http://127.0.0.1:$SIM_PORT/vnpay/paymentv2/vpcpay.html
api_url = http://127.0.0.1:$SIM_PORT/vnpay/merchant_webapi/api/transaction
[channel.momo]
merchant_id = MOMOBENCH
secret = $MOMO_SECRET
secret2 = $MOMO_ACCESS
endpoint_url = http://127.0.0.1:$SIM_PORT/momo/v2/gateway/api
[channel.zalopay]
merchant_id = 2553
secret = $ZP_KEY1
secret2 = $ZP_KEY2
endpoint_url = http://127.0.0.1:$SIM_PORT/zalopay
EOF
}

start_servers() {
    local sim
    sim=$(find_banksim)
    [ -n "$sim" ] || die "feegate-banksim not found under $BUILD"
    "$sim" --listen "127.0.0.1:$SIM_PORT" --sandbox-merchant FEEGATE01 \
        --sandbox-secret "$SANDBOX_SECRET" --auto approve \
        --vnpay-tmn FGBENCH1 --vnpay-secret "$VNP_SECRET" \
        --vnpay-ipn-url "http://127.0.0.1:$GW_PORT/ipn/vnpay" \
        --momo-partner MOMOBENCH --momo-access-key "$MOMO_ACCESS" --momo-secret-key "$MOMO_SECRET" \
        --zalopay-app-id 2553 --zalopay-key1 "$ZP_KEY1" --zalopay-key2 "$ZP_KEY2" \
        --callback-interval-ms 1000 >"$WORK/banksim.log" 2>&1 &
    SIM_PID=$!
    wait_until 15 simulator "$SIM_PID" port_busy "$SIM_PORT" ||
        die "simulator did not start: $(tail -n 5 "$WORK/banksim.log")"
    "$FEEGATE" serve -c "$WORK/feegate.ini" >"$WORK/gateway.log" 2>&1 &
    GW_PID=$!
    wait_until 30 gateway "$GW_PID" http_ok "http://127.0.0.1:$GW_PORT/healthz" ||
        die "gateway did not start: $(tail -n 5 "$WORK/gateway.log")"
    http_ok "http://127.0.0.1:$GW_PORT/readyz" || say "warning: /readyz is not 200 yet"
}

machine_line() {
    local cpu
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    printf 'machine: %s cores (%s), %s MiB RAM, kernel %s, %s\n' "$(nproc)" "${cpu:-unknown}" \
        "$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024))" \
        "$(uname -r)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

# CPU time in clock ticks: a process (all its threads), and the database (the postmaster,
# the backends it has reaped, and the ones alive now).
ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
db_ticks() {
    local pm t=0 c
    pm=$(head -n 1 "$WORK/db/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
    t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat" 2>/dev/null || echo 0)
    for c in $(pgrep -P "$pm" 2>/dev/null); do
        t=$((t + $(ticks_of "$c")))
    done
    echo "$t"
}
# Children's CPU of this shell (loadgen, once waited for), from the `times` builtin; it must
# run in this shell, not a subshell (a fork starts from zero), hence the file.
children_ticks() {
    times >"$WORK/times.txt"
    awk -v hz="$(getconf CLK_TCK)" 'END {
        split($1, u, /[ms]/); split($2, s, /[ms]/);
        printf "%d\n", ((u[1] * 60 + u[2]) + (s[1] * 60 + s[2])) * hz }' "$WORK/times.txt"
}
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
all_ticks() { # into a file: children_ticks must not run in a subshell
    children_ticks >"$WORK/children.txt"
    echo "$(db_ticks) $(ticks_of "$GW_PID") $(ticks_of "$SIM_PID") $(cat "$WORK/children.txt") $(busy_ticks) $(date +%s%N)" >"$1"
}

# One JSON line per full run: CPU milliseconds per completed payment, per process, and how
# busy the machine was; the summary prints it beside payments/s.
cpu_line() { # channel before-ticks after-ticks
    local done_n
    done_n=$(grep '"mode":"full"' "$WORK/results.jsonl" | grep "\"channel\":\"$1\"" | tail -n 1 |
        sed -n 's/.*"completed":\([0-9]*\).*/\1/p')
    awk -v ch="$1" -v n="${done_n:-0}" -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" \
        -v a="$2" -v b="$3" 'BEGIN {
        split(a, x, " "); split(b, y, " ");
        if (n == 0) n = 1;
        ms = 1000 / hz / n;
        wall_s = (y[6] - x[6]) / 1e9;
        busy = wall_s > 0 ? (y[5] - x[5]) / hz / wall_s : 0;
        printf "{\"mode\":\"cpu\",\"channel\":\"%s\",\"payments\":%d,", ch, n;
        printf "\"cpu_ms_per_payment\":{\"postgres\":%.3f,\"gateway\":%.3f,", (y[1] - x[1]) * ms, (y[2] - x[2]) * ms;
        printf "\"simulator\":%.3f,\"loadgen\":%.3f,\"machine\":%.3f},", (y[3] - x[3]) * ms, (y[4] - x[4]) * ms, (y[5] - x[5]) * ms;
        printf "\"machine_busy_cores\":%.2f,\"cores\":%d}\n", busy, cores }'
}

run_loadgen() { # modes channel
    local args=(--url "http://127.0.0.1:$GW_PORT" --client "$CLIENT" --secret "$SECRET"
        --agency "$AGENCY" --fee "$FEE" --amount "$AMOUNT" --concurrency "$CONC"
        --duration "$DUR" --mode "$1" --channel "$2" --gateway-pid "$GW_PID" --json)
    [ "$VERIFY" = 1 ] && args+=(--verify)
    [ -n "$PAYMENTS" ] && args+=(--payments "$PAYMENTS")
    [ -n "${BENCH_MIX:-}" ] && args+=(--mix "$BENCH_MIX")
    # In the background so that the watchdog's and Ctrl-C's traps run at once (bash defers
    # traps until a foreground command ends); the table goes to stderr, JSON to the file.
    local rc=0
    "$LOADGEN" "${args[@]}" >>"$WORK/results.jsonl" &
    LG_PID=$!
    wait "$LG_PID" || rc=$?
    LG_PID=""
    [ "$rc" -eq 0 ] || LG_RC=$rc
}

run_all() {
    LG_RC=0
    : >"$WORK/results.jsonl"
    : >"$WORK/cpu.jsonl"
    local probes full=0 ch
    probes=$(tr ',' '\n' <<<"$MODES" | grep -v '^full$' | paste -sd, - || true)
    tr ',' '\n' <<<"$MODES" | grep -qx full && full=1
    [ -n "$probes" ] && run_loadgen "$probes" sandbox
    if [ "$full" = 1 ]; then
        for ch in ${CHANNELS//,/ }; do
            say "full payment path through $ch"
            all_ticks "$WORK/ticks.before"
            run_loadgen full "$ch"
            all_ticks "$WORK/ticks.after"
            cpu_line "$ch" "$(cat "$WORK/ticks.before")" "$(cat "$WORK/ticks.after")" >>"$WORK/cpu.jsonl"
        done
    fi
    return 0
}

# payments/s and p99 of the whole payment path, per channel, side by side.
summary() {
    echo "per channel (full payment path: create, checkout, provider page, callback):"
    printf '  %-8s %10s %10s %8s\n' channel payments_s p99_ms errors
    grep '"mode":"full"' "$WORK/results.jsonl" | while IFS= read -r line; do
        local ch per p99 err
        ch=$(sed -n 's/.*"channel":"\([a-z0-9_]*\)".*/\1/p' <<<"$line")
        per=$(sed -n 's/.*"per_s":\([0-9.]*\).*/\1/p' <<<"$line")
        p99=$(sed -n 's/.*"payment":{[^}]*"p99_us":\([0-9]*\).*/\1/p' <<<"$line")
        err=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$line")
        printf '  %-8s %10s %10s %8s\n' "$ch" "$per" "$(awk -v u="${p99:-0}" 'BEGIN{printf "%.1f", u/1000}')" "$err"
    done
    echo "CPU ms per payment (user+system; the machine line is every process, the kernel's too):"
    printf '  %-8s %9s %9s %9s %9s %9s %11s\n' channel postgres gateway simulator loadgen machine busy_cores
    while IFS= read -r line; do
        sed -n 's/.*"channel":"\([a-z0-9_]*\)".*"postgres":\([0-9.]*\),"gateway":\([0-9.]*\),"simulator":\([0-9.]*\),"loadgen":\([0-9.]*\),"machine":\([0-9.]*\)},"machine_busy_cores":\([0-9.]*\).*/\1 \2 \3 \4 \5 \6 \7/p' <<<"$line" |
            while read -r ch pg gw sim lg all busy; do
                printf '  %-8s %9s %9s %9s %9s %9s %11s\n' "$ch" "$pg" "$gw" "$sim" "$lg" "$all" "$busy"
            done
    done <"$WORK/cpu.jsonl"
}

report() {
    local ledger_rc=0 errors
    echo
    machine_line
    printf 'gateway: loops=%s conns_per_loop=%s log=%s; concurrency=%s duration=%ss per mode\n' \
        "$LOOPS" "$CONNS" "$LOG_LEVEL" "$CONC" "$DUR"
    echo "results (JSON, one line per mode):"
    cat "$WORK/results.jsonl" "$WORK/cpu.jsonl"
    summary
    [ -n "${BENCH_OUT:-}" ] && cat "$WORK/results.jsonl" "$WORK/cpu.jsonl" >"$BENCH_OUT"
    errors=$(grep -c '"level":"error"' "$WORK/gateway.log" || true)
    echo "gateway log: ${errors:-0} error lines ($WORK/gateway.log)"
    timeout 300 "$FEEGATE" ledger check >"$WORK/ledger-check.log" 2>&1 || ledger_rc=$?
    echo "ledger check: exit $ledger_rc"
    tail -n 20 "$WORK/ledger-check.log"
    [ "$ledger_rc" -eq 0 ] || LG_RC=4
}

main() {
    start_watchdog
    build_if_needed
    "$LOADGEN" --self-test >/dev/null || die "feegate-loadgen --self-test failed"
    WORK=$(mktemp -d /tmp/feegate-bench.XXXXXX)
    # The database runs as an unprivileged user when we are root: it must reach its dir.
    chmod 755 "$WORK"
    GW_PORT=$(pick_port "$PORT_BASE")
    SIM_PORT=$(pick_port $((PORT_BASE + 100)))
    say "work dir $WORK, gateway :$GW_PORT, simulator :$SIM_PORT, limit ${LIMIT}s"
    start_db
    write_config
    start_servers
    say "running $MODES at concurrency $CONC for ${DUR}s each"
    run_all
    report
    case $LG_RC in
        0) say "done" ;;
        1) say "done, with errors counted above (loadgen exit 1)" ;;
        3) say "aborted: connection storm (loadgen exit 3)" ;;
        4) say "ledger check failed after the run" ;;
        *) say "loadgen exit $LG_RC" ;;
    esac
    return "$LG_RC"
}

main "$@"
