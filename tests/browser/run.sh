#!/usr/bin/env bash
# The citizen's pages in a real browser (ctest browser).
# usage: run.sh SRC_DIR WORK_DIR FEEGATE_BIN BANKSIM_BIN
# Installs the pinned package-lock.json into WORK_DIR (npm ci --offline when a previous run
# left it cached, else npm ci from the registry), starts its own stack on 127.0.0.1 with free
# ports (a temporary PostgreSQL cluster by `feegate dev-db`, migrated and seeded, the bank
# simulator with interactive pages, `feegate serve`), runs the *.test.mjs files with node's
# test runner against Debian's Chromium (never a downloaded browser), and stops everything on
# any exit. Bounded in time: a watchdog ends the run after BROWSER_TIMEOUT seconds (900).
# Screenshots land in WORK_DIR/shots; the logs of a failed run stay in the work dir it prints.
# BROWSER_TEST_PATTERN runs only the tests whose name matches (node --test-name-pattern).
# Without node, npm or chromium the test fails: it is not optional (make deps installs them).
set -euo pipefail

SRC=$1
NODE_DIR=$2
FEEGATE=$3
BANKSIM=$4
LIMIT=${BROWSER_TIMEOUT:-900}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

say() { printf 'browser: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for tool in node npm curl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required (make deps installs it)"
done
[ -x "$CHROMIUM" ] || die "$CHROMIUM is required (make deps installs Debian's chromium)"

WORK=""
GW_PID=""
SIM_PID=""
NODE_PID=""
DB_STARTED=0
WATCHDOG=""

stop_pid() { # pid name: SIGTERM, SIGKILL after 10 s
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
    stop_pid "$NODE_PID" "node --test"
    stop_pid "$GW_PID" gateway
    stop_pid "$SIM_PID" simulator
    # Under the sanitizers (build-asan) a report in a child fails the run, as in the harness.
    if [ "$rc" -eq 0 ] && [ -n "$WORK" ] && grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
        "$WORK/gateway.log" "$WORK/banksim.log" 2>/dev/null; then
        say "sanitizer report in the file(s) above"
        rc=1
    fi
    if [ "$DB_STARTED" = 1 ]; then
        timeout 60 "$FEEGATE" dev-db stop "$WORK/db" >"$WORK/db-stop.log" 2>&1 ||
            say "dev-db stop failed: see $WORK/db-stop.log"
    fi
    if [ -n "$WORK" ]; then
        if [ "$rc" -ne 0 ]; then
            say "logs and config kept in $WORK"
            tail -n 20 "$WORK/gateway.log" "$WORK/banksim.log" 2>/dev/null >&2
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
        echo "browser: time limit of $LIMIT s reached, stopping" >&2
        kill -TERM "$me"
    ) >/dev/null &
    WATCHDOG=$!
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A free port from the kernel's ephemeral range (bound then released by node), so that two
# runs at once (both builds under ctest -j2) do not race for the same neighbourhood.
free_port() {
    node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => {
        console.log(s.address().port); s.close(); });'
}

eval_feegate_lines() { # keeps only FEEGATE_*=... lines of a command's output, then evals them
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

install_node_modules() {
    mkdir -p "$NODE_DIR"
    cp "$SRC/package.json" "$SRC/package-lock.json" "$NODE_DIR/"
    rm -f "$NODE_DIR"/*.mjs
    cp "$SRC"/*.mjs "$NODE_DIR/" # beside node_modules: ES modules resolve from their own dir
    cd "$NODE_DIR"
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    if [ -d node_modules/playwright-core ] && [ -d node_modules/axe-core ]; then
        npm ci --offline --no-audit --no-fund --loglevel=error ||
            npm ci --no-audit --no-fund --loglevel=error
    else
        npm ci --no-audit --no-fund --loglevel=error
    fi
    cd - >/dev/null
}

start_db() {
    local out
    DB_STARTED=1
    out=$(timeout 120 "$FEEGATE" dev-db start "$WORK/db" "$(free_port)" 2>"$WORK/db-start.log") ||
        die "dev-db start failed: $(tail -n 5 "$WORK/db-start.log")"
    eval_feegate_lines "$out" || die "dev-db start printed no FEEGATE_ lines"
    [ -n "${FEEGATE_DSN:-}" ] && [ -n "${FEEGATE_ADMIN_DSN:-}" ] ||
        die "dev-db start must print FEEGATE_DSN and FEEGATE_ADMIN_DSN"
    export FEEGATE_DSN FEEGATE_ADMIN_DSN
    timeout 120 "$FEEGATE" migrate >"$WORK/migrate.log" 2>&1 ||
        die "migrate failed: $(tail -n 5 "$WORK/migrate.log")"
    out=$(timeout 120 "$FEEGATE" seed-demo 2>"$WORK/seed.log") ||
        die "seed-demo failed: $(tail -n 5 "$WORK/seed.log")"
    eval_feegate_lines "$out" || true
    [ -n "${FEEGATE_CLIENT_SECRET:-}" ] || die "seed-demo printed no FEEGATE_CLIENT_SECRET"
    CLIENT=${FEEGATE_CLIENT_ID:-demo-portal}
    SECRET=$FEEGATE_CLIENT_SECRET
}

secret() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

write_config() {
    SANDBOX_SECRET=$(secret 24)
    VNP_SECRET=$(secret 24)
    MOMO_ACCESS=$(secret 12)
    MOMO_SECRET=$(secret 24)
    ZP_KEY1=$(secret 24)
    ZP_KEY2=$(secret 24)
    # Receipts signed by a demo CA, as `feegate demo` does: the verification page checks
    # uploaded files against it.
    timeout 60 "$FEEGATE" receipt-ca init "$WORK/receipts" >"$WORK/receipt-ca.log" 2>&1 ||
        die "receipt-ca init failed: $(tail -n 5 "$WORK/receipt-ca.log")"
    cat >"$WORK/feegate.ini" <<EOF
; written by tests/browser/run.sh
[server]
listen = 127.0.0.1:$GW_PORT
public_url = http://127.0.0.1:$GW_PORT
loops = 1
; the pages as a development machine serves them: receipts unsigned (docs/operations.md)
development = true
; every test's browser comes from 127.0.0.1: room for the whole run's pages
page_rate_burst = 100000
page_rate_per_min = 1000000
[database]
dsn = $FEEGATE_DSN
conns_per_loop = 2
[log]
level = info
[receipts]
cert = $WORK/receipts/signer.pem
key = $WORK/receipts/signer.key
ca = $WORK/receipts/ca.pem
[channel.sandbox]
merchant_id = FEEGATE01
secret = $SANDBOX_SECRET
endpoint_url = http://127.0.0.1:$SIM_PORT
[channel.vnpay]
merchant_id = FGBROWS1
secret = $VNP_SECRET
endpoint_url = http://127.0.0.1:$SIM_PORT/vnpay/paymentv2/vpcpay.html
api_url = http://127.0.0.1:$SIM_PORT/vnpay/merchant_webapi/api/transaction
[channel.momo]
merchant_id = MOMOBROWS
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
    # No --auto: every payment stops on the simulator's page, where the browser decides.
    "$BANKSIM" --listen "127.0.0.1:$SIM_PORT" --sandbox-merchant FEEGATE01 \
        --sandbox-secret "$SANDBOX_SECRET" \
        --vnpay-tmn FGBROWS1 --vnpay-secret "$VNP_SECRET" \
        --vnpay-ipn-url "http://127.0.0.1:$GW_PORT/ipn/vnpay" \
        --momo-partner MOMOBROWS --momo-access-key "$MOMO_ACCESS" \
        --momo-secret-key "$MOMO_SECRET" \
        --zalopay-app-id 2553 --zalopay-key1 "$ZP_KEY1" --zalopay-key2 "$ZP_KEY2" \
        --callback-interval-ms 500 >"$WORK/banksim.log" 2>&1 &
    SIM_PID=$!
    wait_until 15 simulator "$SIM_PID" http_ok "http://127.0.0.1:$SIM_PORT/healthz" ||
        die "simulator did not start: $(tail -n 5 "$WORK/banksim.log")"
    "$FEEGATE" serve -c "$WORK/feegate.ini" >"$WORK/gateway.log" 2>&1 &
    GW_PID=$!
    wait_until 60 gateway "$GW_PID" http_ok "http://127.0.0.1:$GW_PORT/healthz" ||
        die "gateway did not start: $(tail -n 5 "$WORK/gateway.log")"
}

run_tests() {
    local rc=0
    mkdir -p "$NODE_DIR/shots"
    # In the background so that the watchdog's trap runs at once (bash defers traps until a
    # foreground command ends).
    FG_GATEWAY_URL="http://127.0.0.1:$GW_PORT" FG_BANKSIM_URL="http://127.0.0.1:$SIM_PORT" \
        FG_CLIENT_ID="$CLIENT" FG_CLIENT_SECRET="$SECRET" FG_CHROMIUM="$CHROMIUM" \
        FG_SHOTS_DIR="$NODE_DIR/shots" \
        node --test --test-concurrency=1 --test-reporter=spec \
        ${BROWSER_TEST_PATTERN:+--test-name-pattern="$BROWSER_TEST_PATTERN"} \
        "$NODE_DIR"/*.test.mjs &
    NODE_PID=$!
    wait "$NODE_PID" || rc=$?
    NODE_PID=""
    return "$rc"
}

main() {
    start_watchdog
    install_node_modules
    WORK=$(mktemp -d /tmp/feegate-browser.XXXXXX)
    # The database runs as an unprivileged user when we are root: it must reach its dir.
    chmod 755 "$WORK"
    GW_PORT=$(free_port)
    SIM_PORT=$(free_port)
    while [ "$SIM_PORT" = "$GW_PORT" ]; do SIM_PORT=$(free_port); done
    say "work dir $WORK, gateway :$GW_PORT, simulator :$SIM_PORT, limit ${LIMIT}s"
    start_db
    write_config
    start_servers
    local t0=$SECONDS
    run_tests
    say "browser tests passed in $((SECONDS - t0)) s"
}

main "$@"
