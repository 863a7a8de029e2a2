#!/usr/bin/env bash
# bench/run.sh: the benchmark, end to end and self-contained. Starts a temporary PostgreSQL
# cluster (feegate dev-db), migrates and seeds it (the portal client's webhook URL pointing
# at feegate-sink), makes a demo receipt CA, starts the portal's webhook sink, the bank
# simulator (--auto approve) and the gateway (receipts signed) on 127.0.0.1, runs
# feegate-loadgen (healthz, readyz, full: closed loop, then open loop at a fraction of the
# closed-loop rate), waits (bounded) after each full run until every receipt is signed and
# every webhook delivered, sampling the backlogs once a second, runs two baselines on the
# same cluster (pgbench TPC-B, and bench/floor.sql: the rows of one payment without logic),
# prints the figures, a ledger check and one summary JSON line, and stops everything on any
# exit. Bounded in time: a watchdog ends the run after BENCH_TIMEOUT seconds. Method and
# meaning of each figure: docs/benchmarks.md.
#
# Knobs (environment):
#   BENCH_CONCURRENCY (64)  BENCH_DURATION (10, seconds per mode)  BENCH_MODES
#   (healthz,readyz,full)  BENCH_VERIFY (0; 1 adds GET /v1/payments/{id})  BENCH_PAYMENTS
#   (unset: bounded by duration)  BENCH_AGENCY (STP-HN)  BENCH_FEE (LLTP)  BENCH_AMOUNT
#   (200000)  BENCH_LOOPS (nproc)  BENCH_CONNS_PER_LOOP (2)  BENCH_LOG_LEVEL (warn)
#   BENCH_CLIENT / BENCH_SECRET (default: what seed-demo prints)  BENCH_PORT_BASE (18080)
#   BENCH_OUT (copy the JSON lines there)  BENCH_KEEP (1: keep the work dir and logs)
#   BENCH_TIMEOUT (whole run, seconds)  BUILD_DIR (build)
#   BENCH_CHANNELS (sandbox+vnpay+momo+zalopay): comma-separated entries, one closed-loop
#   loadgen run each; an entry A+B+... is a mix in one run (user i pays through the
#   (i mod n)th); all four are simulated. A summary prints payments/s and p99 per entry
#   BENCH_PAGES (1; 0: without GET /pay/{id} and the return page)  BENCH_SIGN (1; 0: receipts
#   unsigned)  BENCH_WEBHOOKS (1; 0: no webhook URL, no sink)  BENCH_DRAIN_TIMEOUT (60 s
#   after each full run for the receipt and webhook backlogs)  BENCH_OPEN_RATE (payments/s
#   of the open-loop run; default BENCH_OPEN_FRACTION (0.5) x the first entry's closed-loop
#   rate; 0: no open-loop run)  BENCH_BASELINES (1; 0: no pgbench runs)
#   BENCH_PGBENCH_CLIENTS (8)  BENCH_TPCB_SCALE (8)  BENCH_SINK_SECRET (the client's; another
#   value makes the sink refuse every webhook: a check that backlog_bounded turns false)
#   BENCH_GATEWAYS (1; 2: the two-gateway mode: HAProxy on 127.0.0.1 in front of one gateway,
#   then of two on the same database, the /healthz rate and the full path (the first
#   BENCH_CHANNELS entry, closed loop) through it in each, printed side by side; no open loop,
#   no baselines; needs haproxy; docs/benchmarks.md#two-gateways-behind-haproxy)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
FEEGATE=$BUILD/gateway/feegate
LOADGEN=$BUILD/bench/feegate-loadgen
BANKSIM=${BANKSIM:-$BUILD/adapters/banksim/feegate-banksim}

CONC=${BENCH_CONCURRENCY:-64}
DUR=${BENCH_DURATION:-10}
MODES=${BENCH_MODES:-healthz,readyz,full}
CHANNELS=${BENCH_CHANNELS:-sandbox+vnpay+momo+zalopay}
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
PAGES=${BENCH_PAGES:-1}
SIGN=${BENCH_SIGN:-1}
WEBHOOKS=${BENCH_WEBHOOKS:-1}
DRAIN_TIMEOUT=${BENCH_DRAIN_TIMEOUT:-60}
OPEN_RATE=${BENCH_OPEN_RATE:-}
OPEN_FRACTION=${BENCH_OPEN_FRACTION:-0.5}
BASELINES=${BENCH_BASELINES:-1}
PGB_CLIENTS=${BENCH_PGBENCH_CLIENTS:-8}
TPCB_SCALE=${BENCH_TPCB_SCALE:-8}
SINK=$BUILD/bench/feegate-sink
GATEWAYS=${BENCH_GATEWAYS:-1}
N_MODES=$(($(tr -cd ',' <<<"$MODES" | wc -c) + 1))
# Each mode: its duration, then at most timeout (15 s) + grace to drain; each full run (the
# closed-loop entries and the open-loop one) also its drain; two pgbench runs and their
# set-up; plus setup.
LIMIT=${BENCH_TIMEOUT:-$((240 + (N_MODES + N_CHANNELS + 1) * (DUR + 20 + DRAIN_TIMEOUT) + 2 * (DUR + 60)))}

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

WORK=""
GW_PID=""
GW2_PID=""
HP_PID=""
SIM_PID=""
LG_PID=""
SINK_PID=""
SAMPLER_PID=""
PGB_PID=""
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
    stop_pid "$PGB_PID" pgbench
    stop_pid "$SAMPLER_PID" sampler
    stop_pid "$HP_PID" haproxy
    stop_pid "$GW_PID" gateway
    stop_pid "$GW2_PID" gateway2
    stop_pid "$SINK_PID" sink
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
    if [ -x "$FEEGATE" ] && [ -x "$LOADGEN" ] && [ -x "$SINK" ] && [ -n "$(find_banksim)" ]; then
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
    # The portal client's webhook URL is the sink's (seed-demo reads FEEGATE_WEBHOOK_URL).
    if [ "$WEBHOOKS" = 1 ]; then
        export FEEGATE_WEBHOOK_URL="http://127.0.0.1:$SINK_PORT/webhooks/feegate"
    else
        unset FEEGATE_WEBHOOK_URL
    fi
    out=$(timeout 120 "$FEEGATE" seed-demo 2>"$WORK/seed.log") ||
        die "seed-demo failed: $(tail -n 5 "$WORK/seed.log")"
    eval_feegate_lines "$out" || true
    CLIENT=${BENCH_CLIENT:-${FEEGATE_CLIENT_ID:-demo-portal}}
    SECRET=${BENCH_SECRET:-${FEEGATE_CLIENT_SECRET:-}}
    [ -n "$SECRET" ] || die "seed-demo printed no FEEGATE_CLIENT_SECRET; set BENCH_SECRET"
}

write_config() {
    RECEIPTS_SECTION=""
    # Unsigned receipts (BENCH_SIGN=0) are only allowed in development mode (docs/operations.md,
    # "Start-up checks"); otherwise the gateway runs as in production.
    DEVELOPMENT_LINE="development = true"
    if [ "$SIGN" = 1 ]; then
        DEVELOPMENT_LINE="development = false"
        # The demo CA and signing certificate, as `feegate demo` makes them.
        timeout 60 "$FEEGATE" receipt-ca init "$WORK/receipts" >"$WORK/receipt-ca.log" 2>&1 ||
            die "receipt-ca init failed: $(tail -n 5 "$WORK/receipt-ca.log")"
        RECEIPTS_SECTION="[receipts]
cert = $WORK/receipts/signer.pem
key = $WORK/receipts/signer.key
ca = $WORK/receipts/ca.pem"
    fi
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
public_url = $PUBLIC_URL
loops = $LOOPS
$DEVELOPMENT_LINE
connections_per_address_max = $PER_ADDRESS_MAX
; the load generator is thousands of citizens behind one address
page_rate_burst = 100000
page_rate_per_min = 1000000
[database]
dsn = $FEEGATE_DSN
conns_per_loop = $CONNS
[log]
level = $LOG_LEVEL
$RECEIPTS_SECTION
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

start_sink() {
    [ "$WEBHOOKS" = 1 ] || return 0
    : >"$WORK/webhooks.txt"
    "$SINK" --port "$SINK_PORT" --secret "${BENCH_SINK_SECRET:-$SECRET}" --client "$CLIENT" \
        --out "$WORK/webhooks.txt" --max-seconds $((LIMIT < 3600 ? LIMIT : 3600)) >"$WORK/sink.json" 2>"$WORK/sink.log" &
    SINK_PID=$!
    wait_until 15 sink "$SINK_PID" port_busy "$SINK_PORT" ||
        die "webhook sink did not start: $(tail -n 5 "$WORK/sink.log")"
}

start_servers() {
    local sim
    start_sink
    sim=$(find_banksim)
    [ -n "$sim" ] || die "feegate-banksim not found under $BUILD"
    "$sim" --listen "127.0.0.1:$SIM_PORT" --sandbox-merchant FEEGATE01 \
        --sandbox-secret "$SANDBOX_SECRET" --auto approve \
        --vnpay-tmn FGBENCH1 --vnpay-secret "$VNP_SECRET" \
        --vnpay-ipn-url "$PUBLIC_URL/ipn/vnpay" \
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
all_ticks() { # into a file: children_ticks must not run in a subshell (gateway: both, if two)
    children_ticks >"$WORK/children.txt"
    echo "$(db_ticks) $(($(ticks_of "$GW_PID") + $(ticks_of "${GW2_PID:-0}"))) $(ticks_of "$SIM_PID") $(cat "$WORK/children.txt") $(busy_ticks) $(date +%s%N)" >"$1"
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

run_loadgen() { # modes channel [rate]
    local args=(--url "$LG_URL" --client "$CLIENT" --secret "$SECRET"
        --agency "$AGENCY" --fee "$FEE" --amount "$AMOUNT" --concurrency "$CONC"
        --duration "$DUR" --mode "$1" --channel "$2" --gateway-pid "$GW_PID" --json)
    [ "$VERIFY" = 1 ] && args+=(--verify)
    [ "$PAGES" = 1 ] || args+=(--lean)
    [ -n "${3:-}" ] && args+=(--rate "$3")
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

# ---- backlogs, drain and done payments --------------------------------------------------

q() { timeout 60 psql "$FEEGATE_ADMIN_DSN" -XAtq -v ON_ERROR_STOP=1 -F '|' "$@"; }

# Receipt jobs not yet stored, webhooks not yet delivered (scheduled outbox rows), and
# checkout attempts whose recovery query is due but not done.
BACKLOG_SQL="SELECT (SELECT count(*) FROM feegate.receipt_jobs),
    (SELECT count(*) FROM feegate.outbox WHERE next_attempt_at IS NOT NULL),
    (SELECT count(*) FROM feegate.payment_attempts
      WHERE NOT final AND NOT exhausted AND next_query_at <= now())"

start_sampler() { # one line a second: unix time|receipt jobs|outbox|recovery
    : >"$WORK/backlog.txt"
    (
        while :; do
            echo "$(date +%s)|$(q -c "$BACKLOG_SQL" 2>/dev/null || echo '||')" >>"$WORK/backlog.txt"
            sleep 1
        done
    ) &
    SAMPLER_PID=$!
}

# Waits until no receipt job and no webhook is left, at most DRAIN_TIMEOUT seconds; sets
# DRAIN_S (seconds it took, -1: not drained) and LAST_BACKLOG.
drain() {
    local t0 b
    t0=$(date +%s%N)
    DRAIN_S=-1
    while :; do
        b=$(q -c "$BACKLOG_SQL" 2>/dev/null || echo '||')
        LAST_BACKLOG=$b
        if [ "${b%%|*}" = 0 ] && [ "$(cut -d'|' -f2 <<<"$b")" = 0 ]; then
            DRAIN_S=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.2f", (b - a) / 1e9}')
            return 0
        fi
        [ $((($(date +%s%N) - t0) / 1000000000)) -lt "$DRAIN_TIMEOUT" ] || return 1
        sleep 0.2
    done
}

# Payments done so far: succeeded, and (when configured) their receipt signed and their
# payment.succeeded webhook verified by the sink.
done_payments() {
    local sign_cond="true" hook_cond="true" copy=""
    [ "$SIGN" = 1 ] && sign_cond="d.signed_at IS NOT NULL"
    if [ "$WEBHOOKS" = 1 ]; then
        copy="\\copy w FROM '$WORK/webhooks.txt' WITH (FORMAT text, DELIMITER ' ')"
        hook_cond="EXISTS (SELECT 1 FROM w WHERE w.payment_id = p.id AND w.type = 'payment.succeeded')"
    fi
    q <<EOF
CREATE TEMP TABLE w (event_id text, payment_id text, type text);
$copy
SELECT count(*) FROM feegate.payments p
  LEFT JOIN feegate.receipts r ON r.payment_id = p.id
  LEFT JOIN feegate.receipt_documents d ON d.receipt_id = r.id AND d.kind = 'xml'
 WHERE p.status = 'succeeded' AND $sign_cond AND $hook_cond;
EOF
}

# One full run (closed loop, or open loop at a rate), then its drain: one "done" JSON line
# (payments done, counted from the start of the load to the end of the drain).
run_full() { # channel [rate]
    local t0 before after wall completed undone loop=closed
    [ -n "${2:-}" ] && loop=open
    before=$(done_payments)
    t0=$(date +%s%N)
    all_ticks "$WORK/ticks.before"
    run_loadgen full "$1" "${2:-}"
    all_ticks "$WORK/ticks.after"
    cpu_line "$1" "$(cat "$WORK/ticks.before")" "$(cat "$WORK/ticks.after")" >>"$WORK/cpu.jsonl"
    if ! drain; then
        say "backlog not drained $DRAIN_TIMEOUT s after the load ($loop, $1): $LAST_BACKLOG"
        BOUNDED=false
    fi
    after=$(done_payments)
    # Payments the load generator saw succeed but that are not done after the drain.
    completed=$(tail -n 1 "$WORK/results.jsonl" | sed -n 's/.*"completed":\([0-9]*\).*/\1/p')
    undone=$((${completed:-0} - (after - before)))
    [ "$undone" -gt 0 ] || undone=0
    if [ "$undone" -gt 0 ]; then
        say "$undone payments of this run succeeded without a signed receipt or a verified webhook"
        BOUNDED=false
    fi
    wall=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.3f", (b - a) / 1e9}')
    printf '{"mode":"done","loop":"%s","channel":"%s","done":%d,"undone":%d,"wall_s":%s,"done_per_s":%s,"drain_s":%s,"backlog_at_end":"%s"}\n' \
        "$loop" "$1" $((after - before)) "$undone" "$wall" \
        "$(awk -v n=$((after - before)) -v w="$wall" 'BEGIN{printf "%.1f", (w > 0 ? n / w : 0)}')" \
        "$DRAIN_S" "$LAST_BACKLOG" >>"$WORK/done.jsonl"
}

closed_rate() { # per_s of the first closed-loop full run
    grep '"mode":"full"' "$WORK/results.jsonl" | grep '"loop":"closed"' | head -n 1 |
        sed -n 's/.*"per_s":\([0-9.]*\).*/\1/p'
}

run_all() {
    LG_RC=0
    BOUNDED=true
    : >"$WORK/results.jsonl"
    : >"$WORK/cpu.jsonl"
    : >"$WORK/done.jsonl"
    : >"$WORK/backlog.txt"
    local probes full=0 ch rate first
    probes=$(tr ',' '\n' <<<"$MODES" | grep -v '^full$' | paste -sd, - || true)
    tr ',' '\n' <<<"$MODES" | grep -qx full && full=1
    [ -n "$probes" ] && run_loadgen "$probes" sandbox
    [ "$full" = 1 ] || return 0
    start_sampler
    table_writes >"$WORK/writes.before"
    for ch in ${CHANNELS//,/ }; do
        say "full payment path through $ch (closed loop)"
        run_full "$ch"
    done
    first=${CHANNELS%%,*}
    rate=${OPEN_RATE:-$(awk -v r="$(closed_rate)" -v f="$OPEN_FRACTION" 'BEGIN{printf "%.1f", r * f}')}
    if awk -v r="$rate" 'BEGIN{exit !(r > 0)}'; then
        say "full payment path through $first (open loop, $rate payments/s)"
        run_full "$first" "$rate"
    fi
    table_writes >"$WORK/writes.after"
    stop_pid "$SAMPLER_PID" sampler
    SAMPLER_PID=""
    return 0
}

# Rows inserted, updated and deleted per table of the ledger, and commits, so far.
table_writes() {
    sleep 1 # the backends report their counts when idle, at most once a second
    q -c "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables
          WHERE schemaname = 'feegate'
          UNION ALL SELECT '_commits', xact_commit, 0, 0 FROM pg_stat_database
          WHERE datname = current_database()" 2>/dev/null || true
}

# The rows a done payment wrote, per table (bench/floor.sql writes the same rows).
writes_per_payment() {
    local n
    n=$(awk -F'"done":' 'NF > 1 {split($2, a, ","); s += a[1]} END {print s + 0}' "$WORK/done.jsonl")
    [ "$n" -gt 0 ] || return 0
    echo "database writes per done payment ($n payments, all full runs; _commits: every commit of the database, the periodic jobs' too):"
    printf '  %-22s %8s %8s %8s\n' table inserts updates deletes
    join -t'|' <(sort "$WORK/writes.before") <(sort "$WORK/writes.after") |
        awk -F'|' -v n="$n" '{ i = ($5 - $2) / n; u = ($6 - $3) / n; d = ($7 - $4) / n;
            if (i + u + d > 0.005) printf "  %-22s %8.2f %8.2f %8.2f\n", $1, i, u, d }'
}

# Peak and end of each backlog over the full runs, from the samples.
backlog_line() {
    awk -F'|' -v bounded="$BOUNDED" 'NF == 4 && $2 != "" {
            if ($2 > r) r = $2; if ($3 > o) o = $3; if ($4 > c) c = $4; n++ }
        END { printf "{\"mode\":\"backlog\",\"samples\":%d,\"peak\":{\"receipt_jobs\":%d,\"outbox\":%d,\"recovery\":%d},", n, r, o, c }' \
        "$WORK/backlog.txt"
    local end
    end=$(q -c "$BACKLOG_SQL" 2>/dev/null || echo '||')
    IFS='|' read -r er eo ec <<<"$end"
    printf '"end":{"receipt_jobs":%d,"outbox":%d,"recovery":%d},"bounded":%s}\n' \
        "${er:-0}" "${eo:-0}" "${ec:-0}" "$BOUNDED"
}

# ---- baselines: pgbench TPC-B and the floor of our data model ----------------------------

run_pgbench() { # log-file pgbench-args...: tps into PGB_TPS
    local log=$1 rc=0
    shift
    timeout $((DUR + 60)) pgbench "$@" >"$log" 2>&1 &
    PGB_PID=$!
    wait "$PGB_PID" || rc=$?
    PGB_PID=""
    PGB_TPS=$(sed -n 's/^tps = \([0-9]*\.[0-9]\).*/\1/p' "$log" | tail -n 1)
    if [ "$rc" -ne 0 ] || [ -z "$PGB_TPS" ]; then
        say "pgbench failed: $(tail -n 3 "$log")"
        PGB_TPS=0
    fi
}

run_baselines() {
    TPCB_TPS=0
    FLOOR_TPS=0
    [ "$BASELINES" = 1 ] || return 0
    command -v pgbench >/dev/null || { say "no pgbench: baselines skipped"; return 0; }
    local tpcb="$FEEGATE_ADMIN_DSN dbname=bench_tpcb"
    say "baseline: pgbench TPC-B, scale $TPCB_SCALE, $PGB_CLIENTS clients, prepared, ${DUR}s"
    if q -c "CREATE DATABASE bench_tpcb" >"$WORK/tpcb-init.log" 2>&1 &&
        timeout 300 pgbench -i -q -s "$TPCB_SCALE" "$tpcb" >>"$WORK/tpcb-init.log" 2>&1; then
        run_pgbench "$WORK/tpcb.log" -n -M prepared -c "$PGB_CLIENTS" -j 2 -T "$DUR" "$tpcb"
        TPCB_TPS=$PGB_TPS
    else
        say "pgbench -i failed: $(tail -n 3 "$WORK/tpcb-init.log")"
    fi
    say "baseline: bench/floor.sql (one payment's rows, no logic), $PGB_CLIENTS clients, ${DUR}s"
    if q -f "$ROOT/bench/floor_setup.sql" >"$WORK/floor-init.log" 2>&1; then
        run_pgbench "$WORK/floor.log" -n -M prepared -c "$PGB_CLIENTS" -j 2 -T "$DUR" \
            -f "$ROOT/bench/floor.sql" "$FEEGATE_ADMIN_DSN"
        FLOOR_TPS=$PGB_TPS
    else
        say "floor set-up failed: $(tail -n 3 "$WORK/floor-init.log")"
    fi
}

json_num() { # key line: the first number after "key":
    sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2" | head -n 1
}
step_ms() { # step percentile(p50|p99) line
    local us
    us=$(sed -n "s/.*\"$1\":{[^}]*\"$2_us\":\([0-9]*\).*/\1/p" <<<"$3")
    awk -v u="${us:-0}" 'BEGIN{printf "%.1f", u / 1000}'
}

# payments/s and p99 of the whole payment path, per run, side by side.
summary() {
    echo "per full run (create, checkout page, checkout, provider page with its callback, return page):"
    printf '  %-6s %-28s %9s %9s %8s %9s %9s %8s\n' loop channel started_s p99_ms errors done done_s drain_s
    grep '"mode":"full"' "$WORK/results.jsonl" >"$WORK/full.jsonl" || true
    local i=0 line d
    while IFS= read -r line; do
        i=$((i + 1))
        d=$(sed -n "${i}p" "$WORK/done.jsonl")
        printf '  %-6s %-28s %9s %9s %8s %9s %9s %8s\n' \
            "$(sed -n 's/.*"loop":"\([a-z]*\)".*/\1/p' <<<"$line")" \
            "$(sed -n 's/.*"channel":"\([a-z0-9_+]*\)".*/\1/p' <<<"$line")" \
            "$(json_num per_s "$line")" "$(step_ms payment p99 "$line")" "$(json_num errors "$line")" \
            "$(json_num done "$d")" "$(json_num done_per_s "$d")" "$(sed -n 's/.*"drain_s":\([-0-9.]*\).*/\1/p' <<<"$d")"
    done <"$WORK/full.jsonl"
    echo "  (started_s: payments the load generator saw through, per second of load; done: succeeded,"
    echo "   receipt signed and webhook verified by the sink; done_s: done per second from the"
    echo "   start of the load to the end of the drain)"
    local open
    open=$(grep '"mode":"full"' "$WORK/results.jsonl" | grep '"loop":"open"' | tail -n 1 || true)
    if [ -n "$open" ]; then
        printf 'open loop at %s payments/s offered (%s due, at most %s waiting for a user):\n' \
            "$(json_num rate_per_s "$open")" "$(json_num offered "$open")" "$(json_num behind_max "$open")"
        printf '  %-9s %8s %8s\n' step p50_ms p99_ms
        printf '  %-9s %8s %8s\n' create "$(step_ms create p50 "$open")" "$(step_ms create p99 "$open")"
        printf '  %-9s %8s %8s\n' callback "$(step_ms bank p50 "$open")" "$(step_ms bank p99 "$open")"
        printf '  %-9s %8s %8s\n' payment "$(step_ms payment p50 "$open")" "$(step_ms payment p99 "$open")"
    fi
    echo "CPU ms per payment (user+system; the machine line is every process, the kernel's too):"
    printf '  %-28s %9s %9s %9s %9s %9s %11s\n' channel postgres gateway simulator loadgen machine busy_cores
    while IFS= read -r line; do
        sed -n 's/.*"channel":"\([a-z0-9_+]*\)".*"postgres":\([0-9.]*\),"gateway":\([0-9.]*\),"simulator":\([0-9.]*\),"loadgen":\([0-9.]*\),"machine":\([0-9.]*\)},"machine_busy_cores":\([0-9.]*\).*/\1 \2 \3 \4 \5 \6 \7/p' <<<"$line" |
            while read -r ch pg gw sim lg all busy; do
                printf '  %-28s %9s %9s %9s %9s %9s %11s\n' "$ch" "$pg" "$gw" "$sim" "$lg" "$all" "$busy"
            done
    done <"$WORK/cpu.jsonl"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.4f", a / b; else printf "null" }'; }
num_or_null() { if [ -n "$1" ]; then echo "$1"; else echo null; fi; }

# The last line of the run, for machines.
summary_json() {
    local closed open per
    closed=$(head -n 1 "$WORK/done.jsonl" 2>/dev/null | grep '"loop":"closed"' || true)
    open=$(grep '"mode":"full"' "$WORK/results.jsonl" | grep '"loop":"open"' | tail -n 1 || true)
    per=$(json_num done_per_s "$closed")
    per=${per:-0}
    printf '{"mode":"summary","payments_per_s":%s,"tpcb_tps":%s,"floor_tps":%s,"ratio_tpcb":%s,"ratio_floor":%s,' \
        "$per" "${TPCB_TPS:-0}" "${FLOOR_TPS:-0}" "$(ratio "$per" "${TPCB_TPS:-0}")" "$(ratio "$per" "${FLOOR_TPS:-0}")"
    if [ -n "$open" ]; then
        printf '"open_loop_p99_create_ms":%s,"open_loop_p99_payment_ms":%s,' \
            "$(step_ms create p99 "$open")" "$(step_ms payment p99 "$open")"
    else
        printf '"open_loop_p99_create_ms":null,"open_loop_p99_payment_ms":null,'
    fi
    printf '"backlog_bounded":%s,"closed_loop_per_s":%s,"open_loop_rate_per_s":%s,' \
        "$BOUNDED" "$(num_or_null "$(closed_rate)")" "$(num_or_null "$(json_num rate_per_s "$open")")"
    if [ -n "$open" ]; then
        printf '"open_loop_p50_create_ms":%s,"open_loop_p50_callback_ms":%s,"open_loop_p99_callback_ms":%s,"open_loop_p50_payment_ms":%s,' \
            "$(step_ms create p50 "$open")" "$(step_ms bank p50 "$open")" "$(step_ms bank p99 "$open")" \
            "$(step_ms payment p50 "$open")"
    fi
    printf '"signed":%s,"webhooks":%s,"pages":%s}\n' \
        "$([ "$SIGN" = 1 ] && echo true || echo false)" "$([ "$WEBHOOKS" = 1 ] && echo true || echo false)" \
        "$([ "$PAGES" = 1 ] && echo true || echo false)"
}

report() {
    local ledger_rc=0 errors
    echo
    machine_line
    printf 'gateway: loops=%s conns_per_loop=%s log=%s; concurrency=%s duration=%ss per mode\n' \
        "$LOOPS" "$CONNS" "$LOG_LEVEL" "$CONC" "$DUR"
    [ -s "$WORK/backlog.txt" ] && backlog_line >"$WORK/backlog.jsonl" || : >"$WORK/backlog.jsonl"
    : >"$WORK/sink-stats.jsonl"
    if [ "$SINK_PID" != "" ]; then
        curl -fsS --max-time 2 "http://127.0.0.1:$SINK_PORT/stats" >"$WORK/sink-stats.jsonl" 2>/dev/null || true
    fi
    printf '{"mode":"baselines","tpcb_tps":%s,"floor_tps":%s,"pgbench_clients":%s,"tpcb_scale":%s}\n' \
        "${TPCB_TPS:-0}" "${FLOOR_TPS:-0}" "$PGB_CLIENTS" "$TPCB_SCALE" >"$WORK/baselines.jsonl"
    echo "results (JSON, one line per mode):"
    cat "$WORK/results.jsonl" "$WORK/cpu.jsonl" "$WORK/done.jsonl" "$WORK/backlog.jsonl" \
        "$WORK/sink-stats.jsonl" "$WORK/baselines.jsonl"
    summary
    writes_per_payment
    echo "baselines: pgbench TPC-B $TPCB_TPS tps, floor (bench/floor.sql) $FLOOR_TPS payments/s"
    errors=$(grep -c '"level":"error"' "$WORK/gateway.log" || true)
    echo "gateway log: ${errors:-0} error lines ($WORK/gateway.log)"
    timeout 300 "$FEEGATE" ledger check >"$WORK/ledger-check.log" 2>&1 || ledger_rc=$?
    echo "ledger check: exit $ledger_rc"
    tail -n 20 "$WORK/ledger-check.log"
    [ "$ledger_rc" -eq 0 ] || LG_RC=4
    summary_json >"$WORK/summary.jsonl"
    [ -n "${BENCH_OUT:-}" ] && cat "$WORK/results.jsonl" "$WORK/cpu.jsonl" "$WORK/done.jsonl" \
        "$WORK/backlog.jsonl" "$WORK/baselines.jsonl" "$WORK/summary.jsonl" >"$BENCH_OUT"
    cat "$WORK/summary.jsonl"
}

# The two-gateway mode (BENCH_GATEWAYS=2): main_two and its helpers.
# shellcheck source=bench/two_gateways.sh
. "$ROOT/bench/two_gateways.sh"

main() {
    start_watchdog
    build_if_needed
    "$LOADGEN" --self-test >/dev/null || die "feegate-loadgen --self-test failed"
    WORK=$(mktemp -d /tmp/feegate-bench.XXXXXX)
    # The database runs as an unprivileged user when we are root: it must reach its dir.
    chmod 755 "$WORK"
    GW_PORT=$(pick_port "$PORT_BASE")
    SIM_PORT=$(pick_port $((PORT_BASE + 100)))
    SINK_PORT=$(pick_port $((PORT_BASE + 300)))
    PUBLIC_URL="http://127.0.0.1:$GW_PORT"
    LG_URL=$PUBLIC_URL
    PER_ADDRESS_MAX=128
    if [ "$GATEWAYS" = 2 ]; then
        main_two
        return $?
    fi
    say "work dir $WORK, gateway :$GW_PORT, simulator :$SIM_PORT, sink :$SINK_PORT, limit ${LIMIT}s"
    start_db
    write_config
    start_servers
    say "running $MODES at concurrency $CONC for ${DUR}s each"
    run_all
    run_baselines
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
