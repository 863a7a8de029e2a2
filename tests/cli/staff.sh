#!/usr/bin/env bash
# `feegate staff add` from a plain shell, as docs/operations.md tells an operator to run it:
# a development cluster (`feegate dev-db start`), `feegate migrate`, then `feegate staff add`
# with FEEGATE_ADMIN_DSN and nothing else set (no search_path of ours). The member must then
# exist with its role. Loopback only (a Unix socket), bounded in time; the cluster is stopped
# on any exit.
# Usage: staff.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
FEEGATE=$BUILD/gateway/feegate
WORK=$(mktemp -d)
chmod 755 "$WORK" # as root, PostgreSQL runs as user postgres, which must reach the cluster
STARTED=""
say() { printf 'staff.sh: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; [ -f "$WORK/out" ] && cat "$WORK/out" >&2; exit 1; }
cleanup() {
    local rc=$?
    [ -n "$STARTED" ] && "$FEEGATE" dev-db stop "$WORK/pg" >/dev/null 2>&1
    [ "$rc" = 0 ] && rm -rf "$WORK"
    [ "$rc" = 0 ] || say "work directory kept: $WORK"
    exit "$rc"
}
trap cleanup EXIT
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PG_PORT=""
for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    port_busy "$p" || { PG_PORT=$p; break; }
done
[ -n "$PG_PORT" ] || fail "no free port"

env_lines=$("$FEEGATE" dev-db start "$WORK/pg" "$PG_PORT") || fail "dev-db start: $env_lines"
STARTED=1
eval "$env_lines"
export FEEGATE_ADMIN_DSN FEEGATE_DSN
"$FEEGATE" migrate >"$WORK/out" 2>&1 || fail "feegate migrate"

"$FEEGATE" staff add clerk1 clerk --name "Nguyễn Thị Lan" >"$WORK/out" 2>&1 ||
    fail "feegate staff add clerk1 clerk"
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$FEEGATE_ADMIN_DSN" -c "$1"; }
[ "$(q "SELECT role || ' ' || name FROM feegate.staff WHERE id = 'clerk1' AND active")" = \
    "clerk Nguyễn Thị Lan" ] || fail "clerk1 is not in feegate.staff as an active clerk"
# Adding again updates (the role changes, the member stays one row).
"$FEEGATE" staff add clerk1 approver >"$WORK/out" 2>&1 || fail "feegate staff add again"
[ "$(q "SELECT count(*) || ' ' || min(role) FROM feegate.staff WHERE id = 'clerk1'")" = "1 approver" ] ||
    fail "adding clerk1 again did not update its row"
# A role that does not exist is refused, and changes nothing.
if "$FEEGATE" staff add clerk2 boss >"$WORK/out" 2>&1; then fail "role boss accepted"; fi
[ "$(q "SELECT count(*) FROM feegate.staff WHERE id = 'clerk2'")" = 0 ] || fail "clerk2 was added"
say "ok: staff added, updated, a bad role refused"
