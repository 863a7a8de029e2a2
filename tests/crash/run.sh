#!/usr/bin/env bash
# tests/crash/run.sh: the crash suite (docs/reliability.md). Under load (all four providers,
# refunds mixed in) it injects faults one round at a time: the gateway killed with SIGKILL at
# a random moment and at each named fault point (FEEGATE_FAULT, gateway/fault.h), PostgreSQL
# stopped with `pg_ctl -m immediate` and started again while the gateway keeps running (it
# must reconnect by itself), the bank simulator killed with SIGKILL mid-callback and started
# again. After each round it restarts what died and checks every acknowledgement seen so far
# against the database: every payment the load generator saw created is there, once, under
# its idempotency key; every success is booked by exactly one journal; every refund answered
# is there; `feegate ledger check` passes. At the end, after a bounded wait for the recovery
# paths (callback retries, status queries, leases), nothing may be stuck, and
# `feegate ledger check` and `feegate ledger verify` pass. Prints a table: faults injected by
# kind, payments acknowledged, lost, doubled, stuck. Exit 0 only when all of that holds.
#
#   tests/crash/run.sh --faults 60          the full run (docs/reliability.md has its table)
#   tests/crash/run.sh --short              every kind once (ctest crash_short)
#
# Options: --faults N (rounds; the kinds in turn, then at random; default: one of each kind),
# --short (one round of each kind, shorter rounds), --seed S (the random choices),
# --round-seconds S (load per round, default 4), --concurrency C (virtual users, default 12),
# --keep (keep the work directory). Environment: BUILD_DIR (default build), CRASH_TIMEOUT
# (whole run, seconds; default from the number of rounds). Bounded in time: a watchdog ends the
# run, and every wait has its limit. Everything listens on 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
FEEGATE=$BUILD/gateway/feegate
LOADGEN=$BUILD/bench/feegate-loadgen
SINK=$BUILD/bench/feegate-sink
BANKSIM=$BUILD/adapters/banksim/feegate-banksim

FAULTS=""
SHORT=0
SEED=$(($(date +%s) % 100000))
ROUND_S=4
CONC=12
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
    --faults) FAULTS=$2; shift 2 ;;
    --short) SHORT=1; shift ;;
    --seed) SEED=$2; shift 2 ;;
    --round-seconds) ROUND_S=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "crash: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

# The fault points of gateway/fault.h, in its order; then the kinds that come from outside.
POINTS=(create_committed checkout_committed callback_committed outbox_claimed outbox_posted
    receipt_numbered receipt_signed refund_begun refund_answered)
KINDS=(banksim_kill postgres_immediate gateway_kill "${POINTS[@]}")
[ "$SHORT" = 1 ] && ROUND_S=3
[ -n "$FAULTS" ] || FAULTS=${#KINDS[@]}
case "$FAULTS" in '' | *[!0-9]*) echo "crash: --faults needs a number" >&2; exit 2 ;; esac
[ "$FAULTS" -ge 1 ] || { echo "crash: --faults must be at least 1" >&2; exit 2; }
RANDOM=$SEED
FINAL_WAIT_S=180 # receipt and outbox leases are 60 s, the first status query 1 min
LIMIT=${CRASH_TIMEOUT:-$((120 + FAULTS * (ROUND_S + 40) + FINAL_WAIT_S))}

say() { printf 'crash: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

WORK=$(mktemp -d /tmp/fg-crash.XXXXXX)
chmod 755 "$WORK" # the cluster may run as another user (postgres), under this directory
GW_PID=""
SIM_PID=""
SINK_PID=""
LG_PID=""
RF_PID=""
DB_STARTED=0
WATCHDOG=""

stop_pid() { # pid: SIGTERM, SIGKILL after 10 s
    local pid=$1 _
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [ -n "$WATCHDOG" ] && kill -TERM "$WATCHDOG" 2>/dev/null
    stop_pid "$LG_PID"
    stop_pid "$RF_PID"
    stop_pid "$GW_PID"
    stop_pid "$SIM_PID"
    stop_pid "$SINK_PID"
    if [ "$DB_STARTED" = 1 ]; then
        timeout 60 "$FEEGATE" dev-db stop "$WORK/db" >>"$WORK/db.log" 2>&1
    fi
    if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then
        say "logs kept in $WORK"
    else
        rm -rf "$WORK"
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
        echo "crash: time limit of $LIMIT s reached, stopping" >&2
        kill -TERM "$me"
    ) >/dev/null 2>&1 &
    WATCHDOG=$!
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 30000))
        port_busy "$p" || { echo "$p"; return 0; }
    done
    die "no free port"
}
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }
wait_until() { # seconds command...: polls every 0.1 s
    local secs=$1 _
    shift
    for _ in $(seq 1 $((secs * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
rand_ms() { echo $(($1 + RANDOM % ($2 - $1 + 1))); } # min max
sleep_ms() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

pg_bindir() {
    if [ -n "${FEEGATE_PG_BINDIR:-}" ]; then
        echo "$FEEGATE_PG_BINDIR"
    elif [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
        echo /usr/lib/postgresql/15/bin
    else
        pg_config --bindir
    fi
}
# pg_ctl as the owner of the data directory (the cluster runs as postgres when we are root).
pg_ctl_as_owner() {
    local owner
    owner=$(stat -c %U "$WORK/db/data")
    if [ "$(id -un)" = "$owner" ]; then
        "$(pg_bindir)/pg_ctl" "$@"
    else
        runuser -u "$owner" -- "$(pg_bindir)/pg_ctl" "$@"
    fi
}

q() { timeout 60 psql "$FEEGATE_ADMIN_DSN" -XAtq -v ON_ERROR_STOP=1 -F '|' "$@"; }

# ---- the system -------------------------------------------------------------------------

start_db() { # the cluster in $WORK/db, started again on the same port after a stop
    local out
    out=$(timeout 120 "$FEEGATE" dev-db start "$WORK/db" "$DB_PORT" 2>>"$WORK/db.log") ||
        die "dev-db start failed: $(tail -n 5 "$WORK/db.log")"
    eval "$(grep -E '^(export )?FEEGATE_(ADMIN_)?DSN=' <<<"$out")"
    export FEEGATE_DSN FEEGATE_ADMIN_DSN
    DB_STARTED=1
}

setup() {
    for b in "$FEEGATE" "$LOADGEN" "$SINK" "$BANKSIM"; do
        [ -x "$b" ] || die "$b is missing: build first (cmake --build $BUILD)"
    done
    DB_PORT=$(pick_port)
    GW_PORT=$(pick_port)
    SIM_PORT=$(pick_port)
    SINK_PORT=$(pick_port)
    start_db
    timeout 120 "$FEEGATE" migrate >"$WORK/migrate.log" 2>&1 ||
        die "migrate failed: $(tail -n 5 "$WORK/migrate.log")"
    export FEEGATE_WEBHOOK_URL="http://127.0.0.1:$SINK_PORT/webhooks/feegate"
    local out
    out=$(timeout 120 "$FEEGATE" seed-demo 2>"$WORK/seed.log") ||
        die "seed-demo failed: $(tail -n 5 "$WORK/seed.log")"
    eval "$(grep -E '^(export )?FEEGATE_CLIENT_(ID|SECRET)=' <<<"$out")"
    export FEEGATE_CLIENT_ID FEEGATE_CLIENT_SECRET
    export FEEGATE_URL="http://127.0.0.1:$GW_PORT"
    timeout 60 "$FEEGATE" receipt-ca init "$WORK/receipts" >"$WORK/receipt-ca.log" 2>&1 ||
        die "receipt-ca init failed: $(tail -n 5 "$WORK/receipt-ca.log")"
    SANDBOX_SECRET=$(hex 24)
    VNP_SECRET=$(hex 24)
    MOMO_ACCESS=$(hex 12)
    MOMO_SECRET=$(hex 24)
    ZP_KEY1=$(hex 24)
    ZP_KEY2=$(hex 24)
    cat >"$WORK/feegate.ini" <<EOF
; written by tests/crash/run.sh
[server]
listen = 127.0.0.1:$GW_PORT
public_url = http://127.0.0.1:$GW_PORT
loops = 2
[database]
dsn = $FEEGATE_DSN
conns_per_loop = 2
[log]
level = warn
[receipts]
cert = $WORK/receipts/signer.pem
key = $WORK/receipts/signer.key
ca = $WORK/receipts/ca.pem
[channel.sandbox]
merchant_id = FEEGATE01
secret = $SANDBOX_SECRET
endpoint_url = http://127.0.0.1:$SIM_PORT
[channel.vnpay]
merchant_id = FGCRASH1
secret = $VNP_SECRET
endpoint_url = http://127.0.0.1:$SIM_PORT/vnpay/paymentv2/vpcpay.html
api_url = http://127.0.0.1:$SIM_PORT/vnpay/merchant_webapi/api/transaction
[channel.momo]
merchant_id = MOMOCRASH
secret = $MOMO_SECRET
secret2 = $MOMO_ACCESS
endpoint_url = http://127.0.0.1:$SIM_PORT/momo/v2/gateway/api
[channel.zalopay]
merchant_id = 2553
secret = $ZP_KEY1
secret2 = $ZP_KEY2
endpoint_url = http://127.0.0.1:$SIM_PORT/zalopay
EOF
    : >"$WORK/webhooks.txt"
    "$SINK" --port "$SINK_PORT" --secret "$FEEGATE_CLIENT_SECRET" --client "$FEEGATE_CLIENT_ID" \
        --out "$WORK/webhooks.txt" --max-seconds "$LIMIT" >"$WORK/sink.json" 2>"$WORK/sink.log" &
    SINK_PID=$!
    wait_until 15 port_busy "$SINK_PORT" || die "the webhook sink did not start"
    start_banksim
    start_gateway ""
    : >"$WORK/acks.txt"
    : >"$WORK/refund-acks.txt"
    : >"$WORK/refund-todo.txt"
    : >"$WORK/refunds-tried.txt"
}

start_banksim() {
    "$BANKSIM" --listen "127.0.0.1:$SIM_PORT" --sandbox-merchant FEEGATE01 \
        --sandbox-secret "$SANDBOX_SECRET" --auto approve \
        --vnpay-tmn FGCRASH1 --vnpay-secret "$VNP_SECRET" \
        --vnpay-ipn-url "http://127.0.0.1:$GW_PORT/ipn/vnpay" \
        --momo-partner MOMOCRASH --momo-access-key "$MOMO_ACCESS" --momo-secret-key "$MOMO_SECRET" \
        --zalopay-app-id 2553 --zalopay-key1 "$ZP_KEY1" --zalopay-key2 "$ZP_KEY2" \
        --callback-interval-ms 500 --log-level warn >>"$WORK/banksim.log" 2>&1 &
    SIM_PID=$!
    wait_until 15 http_ok "http://127.0.0.1:$SIM_PORT/healthz" ||
        die "the simulator did not start: $(tail -n 5 "$WORK/banksim.log")"
}

gateway_up_or_gone() { http_ok "http://127.0.0.1:$GW_PORT/healthz" || ! alive "$GW_PID"; }

start_gateway() { # FEEGATE_FAULT value, or "": a gateway with a point armed may die at once
    FEEGATE_FAULT=$1 "$FEEGATE" serve -c "$WORK/feegate.ini" >>"$WORK/gateway.log" 2>&1 &
    GW_PID=$!
    wait_until 30 gateway_up_or_gone && { [ -n "$1" ] || alive "$GW_PID"; } ||
        die "the gateway did not start: $(tail -n 5 "$WORK/gateway.log")"
}

# ---- load: the load generator, and refunds beside it ------------------------------------

start_load() { # kind: no refunds while the simulator is killed (it would forget them)
    "$LOADGEN" --url "$FEEGATE_URL" --client "$FEEGATE_CLIENT_ID" --secret "$FEEGATE_CLIENT_SECRET" \
        --channel sandbox+vnpay+momo+zalopay --concurrency "$CONC" --duration "$ROUND_S" \
        --timeout 5 --lean --ack-log "$WORK/acks.txt" >>"$WORK/loadgen.log" 2>&1 &
    LG_PID=$!
    if [ "$1" != banksim_kill ]; then
        refund_loop "$ROUND_S" >>"$WORK/refunds.log" 2>&1 &
        RF_PID=$!
    fi
}

# One partial refund (50,000 of 200,000 VND) of a payment the provider approved, as a portal
# sends it: signed, with an idempotency key; a refund that got no answer is asked again with
# the same key later (refund-todo.txt). Answers 201 and 202 are acknowledgements.
refund_one() { # payment_id
    local id=$1 out status rid
    out=$(IDEMPOTENCY_KEY="rf-$id" timeout 10 "$FEEGATE" request POST \
        "/v1/payments/$id/refunds" "$WORK/refund.json" 2>>"$WORK/refunds.log") || true
    status=$(sed -n '1s/^HTTP \([0-9]*\)$/\1/p' <<<"$out")
    if [ -z "$status" ]; then
        echo "- $id no answer"
        echo "$id" >>"$WORK/refund-todo.txt"
        return 0
    fi
    rid=$(sed -n 's/^{"refund_id" *: *"\([^"]*\)".*/\1/p' <<<"$out")
    echo "$status $id $rid $(sed -n 's/.*"\(code\|status\)" *: *"\([^"]*\)".*/\2/p' <<<"$out")"
    if [ "$status" = 201 ] || [ "$status" = 202 ]; then
        [ -n "$rid" ] || { echo "no refund_id in: $out"; return 0; }
        echo "$rid $id rf-$id" >>"$WORK/refund-acks.txt"
    elif [ "$status" -ge 500 ] || grep -q idempotency_key_in_progress <<<"$out"; then
        echo "$id" >>"$WORK/refund-todo.txt" # not known yet: the same key again, later
    fi
}

# Refunds are asked for payments approved since the simulator last started: it forgets what it
# approved before (a real bank does not), and would not know the payment.
refund_loop() { # seconds: one refund of every third approved payment, one at a time
    local end=$((SECONDS + $1)) id
    echo '{"amount_vnd": 50000, "reason": "crash suite"}' >"$WORK/refund.json"
    while [ "$SECONDS" -lt "$end" ]; do
        id=$(head -n 1 "$WORK/refund-todo.txt")
        if [ -n "$id" ]; then
            sed -i '1d' "$WORK/refund-todo.txt"
            # At most four tries of one key: a refund whose outcome is unknown answers
            # idempotency_key_in_progress until recovery settles it.
            [ "$(grep -cxF "$id" "$WORK/refunds-tried.txt")" -lt 4 ] || id=""
            [ -z "$id" ] || echo "$id" >>"$WORK/refunds-tried.txt"
        else
            id=$(awk '$1 == "simulator" { n = 0; k = 0 }
                      $1 == "bank" && ++n % 3 == 0 { ids[++k] = $2 }
                      END { for (i = 1; i <= k; i++) print ids[i] }' "$WORK/acks.txt" |
                grep -vxF -f "$WORK/refunds-tried.txt" |
                head -n 1 || true)
            [ -n "$id" ] && echo "$id" >>"$WORK/refunds-tried.txt"
        fi
        if [ -n "$id" ]; then
            refund_one "$id"
        fi
        sleep 0.05
    done
}

# ---- faults -----------------------------------------------------------------------------

declare -A INJECTED=()
declare -A MISSED=()
ROUND_FAILS=0

wait_gone() { # pid seconds: true when the process ended within the time
    local _
    for _ in $(seq 1 $(($2 * 10))); do
        alive "$1" || { wait "$1" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    return 1
}

# One round: load, the fault of its kind, everything running again, then the checks.
round() { # n kind
    local n=$1 kind=$2 nth fired=0
    case "$kind" in
    gateway_kill | postgres_immediate | banksim_kill) ;;
    *)
        # The point armed on a fresh gateway: the nth hit kills it.
        case "$kind" in
        refund_*) nth=1 ;;
        *) nth=$(rand_ms 1 12) ;;
        esac
        stop_pid "$GW_PID"
        start_gateway "$kind:$nth"
        ;;
    esac
    [ "$kind" != banksim_kill ] || settle_bank
    start_load "$kind"
    case "$kind" in
    gateway_kill)
        sleep_ms "$(rand_ms 300 $((ROUND_S * 1000 - 300)))"
        kill -KILL "$GW_PID" && fired=1
        wait "$GW_PID" 2>/dev/null || true
        ;;
    postgres_immediate)
        sleep_ms "$(rand_ms 300 $((ROUND_S * 1000 - 300)))"
        pg_ctl_as_owner stop -D "$WORK/db/data" -m immediate -s >>"$WORK/db.log" 2>&1 && fired=1
        sleep_ms "$(rand_ms 200 2000)"
        start_db
        ;;
    banksim_kill)
        sleep_ms "$(rand_ms 300 $((ROUND_S * 1000 - 300)))"
        kill -KILL "$SIM_PID" && fired=1
        wait "$SIM_PID" 2>/dev/null || true
        echo "simulator restarted -" >>"$WORK/acks.txt" # what it approved before is forgotten
        : >"$WORK/refund-todo.txt"
        sleep_ms "$(rand_ms 100 1000)"
        start_banksim
        ;;
    *)
        if wait_gone "$GW_PID" $((ROUND_S + 10)); then
            grep -q "\"fault_point_kill\",\"point\":\"$kind\"" "$WORK/gateway.log" && fired=1
        fi
        ;;
    esac
    wait_gone "$LG_PID" $((ROUND_S + 20)) || stop_pid "$LG_PID"
    wait_gone "$RF_PID" $((ROUND_S + 20)) || stop_pid "$RF_PID"
    LG_PID=""
    RF_PID=""
    if [ "$kind" = postgres_immediate ]; then
        # The gateway kept running: its pools must have reconnected by themselves.
        if ! alive "$GW_PID"; then
            say "round $n: the gateway died while PostgreSQL was down"
            ROUND_FAILS=$((ROUND_FAILS + 1))
        elif ! wait_until 20 http_ok "$FEEGATE_URL/readyz"; then
            say "round $n: the gateway did not reconnect to PostgreSQL within 20 s"
            ROUND_FAILS=$((ROUND_FAILS + 1))
        fi
    fi
    alive "$SIM_PID" || start_banksim
    if alive "$GW_PID" && [[ " ${POINTS[*]} " == *" $kind "* ]]; then
        stop_pid "$GW_PID" # the point was not reached: disarm it
    fi
    alive "$GW_PID" || start_gateway ""
    if [ "$fired" = 1 ]; then
        INJECTED[$kind]=$((${INJECTED[$kind]:-0} + 1))
    else
        MISSED[$kind]=$((${MISSED[$kind]:-0} + 1))
    fi
    check "round $n ($kind$([ "$fired" = 1 ] || echo ', not reached'))"
}

# The simulator keeps what it approved in memory only; a real bank does not forget. Before it
# is killed, what it owes the gateway is settled first (bounded): every payment it approved is
# paid, every refund final. What the kill then loses is what happens during the round.
OWED_SQL="CREATE TEMP TABLE ack (kind text, id text, more text);
\\copy ack FROM '$WORK/acks.txt' WITH (FORMAT text, DELIMITER ' ')
SELECT a.id FROM ack a JOIN feegate.payments p ON p.id = a.id
 WHERE a.kind = 'bank' AND p.status NOT IN ('succeeded', 'partially_refunded', 'refunded')
   AND NOT EXISTS (SELECT 1 FROM ack f WHERE f.kind = 'forgotten' AND f.id = a.id)
UNION ALL SELECT f.id FROM feegate.refunds f WHERE f.status IN ('sending', 'pending')
   AND NOT EXISTS (SELECT 1 FROM ack g WHERE g.kind = 'forgotten' AND g.id = f.id)"

# What the simulator still owes after the wait (an answer recovery will ask for only after
# a longer back-off) is forgotten with it: listed as such, and not counted as stuck.
settle_bank() {
    local r _
    for _ in $(seq 1 90); do
        r=$(q <<<"$OWED_SQL") || r=error
        [ -z "$r" ] && return 0
        sleep 1
    done
    say "the simulator still owed $(wc -l <<<"$r") answers after 90 s: forgotten with it"
    sed 's/$/ by-the-simulator/; s/^/forgotten /' <<<"$r" >>"$WORK/acks.txt"
}

# ---- checks -----------------------------------------------------------------------------

# Every acknowledgement seen so far, against the database: lost (acknowledged, not there, or
# there under another key), doubled (two payments for one key, two success journals for one
# payment, refunds booked other than once), and the ledger's own check.
CHECK_SQL="
CREATE TEMP TABLE ack (kind text, id text, more text);
\\copy ack FROM '$WORK/acks.txt' WITH (FORMAT text, DELIMITER ' ')
CREATE TEMP TABLE rack (id text, payment_id text, idem text);
\\copy rack FROM '$WORK/refund-acks.txt' WITH (FORMAT text, DELIMITER ' ')
SELECT
 (SELECT count(*) FROM ack WHERE kind = 'created'),
 (SELECT count(*) FROM rack),
 (SELECT count(*) FROM ack a WHERE a.kind = 'created' AND NOT EXISTS (
     SELECT 1 FROM feegate.payments p WHERE p.id = a.id AND p.order_ref = a.more))
 + (SELECT count(*) FROM rack r WHERE NOT EXISTS (
     SELECT 1 FROM feegate.refunds f WHERE f.id = r.id AND f.payment_id = r.payment_id
       AND f.idem_key = r.idem)),
 (SELECT count(*) FROM (SELECT 1 FROM feegate.payments GROUP BY client_id, order_ref
                        HAVING count(*) > 1) x)
 + (SELECT count(*) FROM feegate.payments p
     WHERE (SELECT count(*) FROM feegate.journals j
             WHERE j.payment_id = p.id AND j.kind = 'payment_success')
           <> CASE WHEN p.status IN ('succeeded', 'partially_refunded', 'refunded')
                   THEN 1 ELSE 0 END AND NOT p.late)
 + (SELECT count(*) FROM feegate.payments p
     WHERE p.refunded_vnd <> (SELECT coalesce(sum(f.amount_vnd), 0) FROM feegate.refunds f
                               WHERE f.payment_id = p.id AND f.status = 'succeeded'))
"

# Stuck, after the final wait: approved by the provider (the load generator was sent back
# from its page) but not paid; pending with no open attempt for recovery to query; a paid
# payment without its signed receipt; a webhook not delivered; a refund not settled.
STUCK_SQL="
SELECT
 (SELECT count(*) FROM ack a JOIN feegate.payments p ON p.id = a.id
   WHERE a.kind = 'bank' AND p.status NOT IN ('succeeded', 'partially_refunded', 'refunded')
     AND NOT EXISTS (SELECT 1 FROM ack f WHERE f.kind = 'forgotten' AND f.id = a.id)),
 (SELECT count(*) FROM feegate.payments p WHERE p.status = 'pending' AND NOT EXISTS (
     SELECT 1 FROM feegate.payment_attempts t
      WHERE t.payment_id = p.id AND NOT t.final AND NOT t.exhausted)),
 (SELECT count(*) FROM feegate.receipt_jobs),
 (SELECT count(*) FROM feegate.outbox WHERE delivered_at IS NULL),
 (SELECT count(*) FROM feegate.refunds r WHERE r.status IN ('sending', 'pending')
   AND NOT EXISTS (SELECT 1 FROM ack f WHERE f.kind = 'forgotten' AND f.id = r.id))
"

TOTAL_LOST=0
TOTAL_DOUBLED=0
ACKED=0
REFUNDS_ACKED=0
check() { # label
    local r ledger=ok
    r=$(q <<<"$CHECK_SQL") || die "$1: the check query failed"
    IFS='|' read -r ACKED REFUNDS_ACKED lost doubled <<<"$r"
    timeout 120 "$FEEGATE" ledger check >"$WORK/ledger-check.log" 2>&1 || ledger=FAILED
    say "$1: $ACKED payments and $REFUNDS_ACKED refunds acknowledged, $lost lost, $doubled doubled, ledger check $ledger"
    TOTAL_LOST=$lost
    TOTAL_DOUBLED=$doubled
    if [ "$lost" != 0 ] || [ "$doubled" != 0 ] || [ "$ledger" != ok ]; then
        ROUND_FAILS=$((ROUND_FAILS + 1))
        [ "$ledger" = ok ] || cat "$WORK/ledger-check.log" >&2
    fi
}

final_check() {
    local t0=$SECONDS r sum
    STUCK=-1
    while :; do
        r=$(q <<<"CREATE TEMP TABLE ack (kind text, id text, more text);
\\copy ack FROM '$WORK/acks.txt' WITH (FORMAT text, DELIMITER ' ')
$STUCK_SQL") || die "the stuck query failed"
        sum=$(tr '|' '\n' <<<"$r" | awk '{ s += $1 } END { print s + 0 }')
        STUCK_DETAIL=$r
        STUCK=$sum
        [ "$sum" = 0 ] && break
        [ $((SECONDS - t0)) -lt "$FINAL_WAIT_S" ] || break
        sleep 1
    done
    WAITED_S=$((SECONDS - t0))
    say "final wait: ${WAITED_S} s; stuck (approved not paid|pending without attempt|receipt jobs|webhooks|refunds): $STUCK_DETAIL"
    check "final"
    LEDGER_VERIFY=ok
    # Journals are sealed every second: give the last ones a moment, then verify the chain.
    sleep 2
    timeout 300 "$FEEGATE" ledger verify >"$WORK/ledger-verify.log" 2>&1 || LEDGER_VERIFY=FAILED
    say "ledger verify: $LEDGER_VERIFY"
    [ "$LEDGER_VERIFY" = ok ] || cat "$WORK/ledger-verify.log" >&2
}

machine_line() {
    local cpu
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    printf 'machine: %s cores (%s), %s MiB RAM, kernel %s, %s\n' "$(nproc)" "${cpu:-unknown}" \
        "$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024))" \
        "$(uname -r)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

print_table() {
    local k total=0 missed=0
    echo
    echo "| fault | injected | not reached |"
    echo "|---|---:|---:|"
    for k in "${KINDS[@]}"; do
        echo "| $k | ${INJECTED[$k]:-0} | ${MISSED[$k]:-0} |"
        total=$((total + ${INJECTED[$k]:-0}))
        missed=$((missed + ${MISSED[$k]:-0}))
    done
    echo "| **all** | **$total** | $missed |"
    echo
    echo "| payments acknowledged | refunds acknowledged | lost | doubled | stuck | ledger check | ledger verify |"
    echo "|---:|---:|---:|---:|---:|---|---|"
    echo "| $ACKED | $REFUNDS_ACKED | $TOTAL_LOST | $TOTAL_DOUBLED | $STUCK | $([ "$ROUND_FAILS" = 0 ] && echo ok || echo FAILED) | $LEDGER_VERIFY |"
    echo
    echo "owed by the simulator when it was killed, and forgotten with it (not counted as stuck): $(grep -c '^forgotten ' "$WORK/acks.txt" || true)"
    echo "command: tests/crash/run.sh --faults $FAULTS --seed $SEED$([ "$SHORT" = 1 ] && echo ' --short')"
    machine_line
    TOTAL_INJECTED=$total
}

# ---- main -------------------------------------------------------------------------------

start_watchdog
setup
say "work directory $WORK, seed $SEED, $FAULTS rounds of $ROUND_S s, limit $LIMIT s"
for i in $(seq 1 "$FAULTS"); do
    if [ "$i" -le "${#KINDS[@]}" ]; then
        kind=${KINDS[$((i - 1))]}
    else
        kind=${KINDS[$((RANDOM % ${#KINDS[@]}))]}
    fi
    round "$i" "$kind"
done
final_check
print_table
rc=0
[ "$ROUND_FAILS" = 0 ] || { say "FAILED: $ROUND_FAILS round checks failed"; rc=1; }
[ "$STUCK" = 0 ] || { say "FAILED: $STUCK stuck after ${WAITED_S} s"; rc=1; }
[ "$LEDGER_VERIFY" = ok ] || { say "FAILED: ledger verify"; rc=1; }
[ "$ACKED" -gt 0 ] || { say "FAILED: no payment was acknowledged"; rc=1; }
[ "$REFUNDS_ACKED" -gt 0 ] || { say "FAILED: no refund was acknowledged"; rc=1; }
# In a sanitizer build (BUILD_DIR=build-asan) a report in any child's log fails the run.
if grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORK"/gateway.log \
    "$WORK"/banksim.log "$WORK"/loadgen.log "$WORK"/sink.log 2>/dev/null; then
    say "FAILED: a sanitizer report in the logs above"
    rc=1
fi
if [ "$FAULTS" -ge "${#KINDS[@]}" ]; then
    for k in "${KINDS[@]}"; do
        [ "${INJECTED[$k]:-0}" -gt 0 ] || { say "FAILED: fault $k was never injected"; rc=1; }
    done
fi
exit "$rc"
