#!/usr/bin/env bash
# The finance staff's web console in a real browser (ctest browser_console).
# usage: console.sh SRC_DIR WORK_DIR FEEGATE_BIN
# Installs the pinned package-lock.json into WORK_DIR as run.sh does, starts `feegate demo`
# in a fresh directory on free loopback ports (its clerk, approver and yesterday's business
# day with exceptions waiting, the console on [console] listen), runs console.browser.mjs
# with node's test runner against Debian's Chromium, and stops everything on any exit.
# Bounded in time: a watchdog ends the run after BROWSER_TIMEOUT seconds (600).
set -euo pipefail

SRC=$1
NODE_DIR=$2
FEEGATE=$3
LIMIT=${BROWSER_TIMEOUT:-600}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

say() { printf 'browser_console: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for tool in node npm curl psql; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required (make deps installs it)"
done
[ -x "$CHROMIUM" ] || die "$CHROMIUM is required (make deps installs Debian's chromium)"

WORK=""
DEMO_PID=""
NODE_PID=""
WATCHDOG=""

stop_pid() { # pid name: SIGTERM, SIGKILL after 30 s
    local pid=$1 _
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    say "$2 (pid $pid) did not stop in 30 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [ -n "$WATCHDOG" ] && kill -TERM "$WATCHDOG" 2>/dev/null
    stop_pid "$NODE_PID" "node --test"
    stop_pid "$DEMO_PID" "feegate demo"
    if [ "$rc" -eq 0 ] && [ -n "$WORK" ] &&
        grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK/demo.log" 2>/dev/null; then
        say "sanitizer report in $WORK/demo.log"
        rc=1
    fi
    if [ -n "$WORK" ]; then
        if [ "$rc" -ne 0 ]; then
            say "logs kept in $WORK"
            tail -n 20 "$WORK/demo.log" >&2 2>/dev/null
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
        echo "browser_console: time limit of $LIMIT s reached, stopping" >&2
        kill -TERM "$me"
    ) >/dev/null &
    WATCHDOG=$!
}

free_port() {
    node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => {
        console.log(s.address().port); s.close(); });'
}

install_node_modules() {
    mkdir -p "$NODE_DIR"
    cp "$SRC/package.json" "$SRC/package-lock.json" "$NODE_DIR/"
    cp "$SRC"/*.mjs "$NODE_DIR/"
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

main() {
    start_watchdog
    # Its own copy of the modules: ctest may run the citizen tests (run.sh) at the same time.
    NODE_DIR=$NODE_DIR-console
    install_node_modules
    WORK=$(mktemp -d /tmp/feegate-console.XXXXXX)
    chmod 755 "$WORK" # as root, the demo runs PostgreSQL as user postgres
    cd "$WORK"
    FEEGATE_PORT=$(free_port) BANKSIM_PORT=$(free_port) FEEGATE_DEMO_PG_PORT=$(free_port) \
        FEEGATE_HTTPS_PORT=$(free_port) FEEGATE_CONSOLE_PORT=$(free_port) \
        "$FEEGATE" demo >"$WORK/demo.log" 2>&1 &
    DEMO_PID=$!
    local ok=0 _
    for _ in $(seq 1 1200); do
        if [ -f var/demo.env ] && (. var/demo.env && curl -fsS -o /dev/null --max-time 1 \
            "$FEEGATE_CONSOLE_URL/signin") 2>/dev/null; then
            ok=1
            break
        fi
        kill -0 "$DEMO_PID" 2>/dev/null || die "feegate demo exited"
        sleep 0.1
    done
    [ "$ok" = 1 ] || die "the demo's console did not answer within 120 s"
    # shellcheck disable=SC1091
    . var/demo.env
    local day
    day=$(psql -X -q -At "$FEEGATE_ADMIN_DSN" -c \
        "SELECT (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - 1")
    FG_GATEWAY_URL=$FEEGATE_URL FG_BANKSIM_URL=$BANKSIM_URL FG_CLIENT_ID=$FEEGATE_CLIENT_ID \
        FG_CLIENT_SECRET=$FEEGATE_CLIENT_SECRET FG_CHROMIUM=$CHROMIUM FG_SHOTS_DIR= \
        FG_CONSOLE_URL=$FEEGATE_CONSOLE_URL FG_DAY=$day \
        FG_CLERK_USER=$FEEGATE_CLERK_USER FG_CLERK_PASSWORD=$FEEGATE_CLERK_PASSWORD \
        FG_CLERK_TOTP=$FEEGATE_CLERK_TOTP FG_APPROVER_USER=$FEEGATE_APPROVER_USER \
        FG_APPROVER_PASSWORD=$FEEGATE_APPROVER_PASSWORD FG_APPROVER_TOTP=$FEEGATE_APPROVER_TOTP \
        node --test --test-concurrency=1 --test-reporter=spec "$NODE_DIR/console.browser.mjs" &
    NODE_PID=$!
    local rc=0
    wait "$NODE_PID" || rc=$?
    NODE_PID=""
    return "$rc"
}

main "$@"
