#!/usr/bin/env bash
# Finance staff from a plain shell, as docs/operations.md and docs/console.md tell an operator
# and a clerk to run it: a development cluster (`feegate dev-db start`), `feegate migrate`,
# `feegate staff add` with FEEGATE_ADMIN_DSN (no search_path of ours): the member exists with
# its role, an argon2id hash and the TOTP secret printed as an otpauth:// URI. Then as the
# application role: `feegate staff sign-in` with the password and a code (oathtool, from the
# URI's secret), a command in that session, `--staff` without a password refused, a wrong
# password and a wrong code refused, the lock-out after five failures, sign-out. Loopback only
# (a Unix socket), bounded in time; the cluster is stopped on any exit.
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

PW='correct horse battery 1'
FEEGATE_STAFF_PASSWORD=$PW "$FEEGATE" staff add clerk1 clerk --name "Nguyễn Thị Lan" \
    >"$WORK/out" 2>&1 || fail "feegate staff add clerk1 clerk"
uri=$(sed -n 's/^totp: //p' "$WORK/out")
case "$uri" in otpauth://totp/feegate:clerk1\?secret=*) ;; *) fail "no otpauth:// URI: $uri" ;; esac
SECRET=$(sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p' <<<"$uri")
[ ${#SECRET} = 32 ] || fail "the TOTP secret is not 160 bits of base32: $SECRET"
ADMIN=$FEEGATE_ADMIN_DSN
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$ADMIN" -c "$1"; }
[ "$(q "SELECT role || ' ' || name || ' ' || left(password_hash, 9) FROM feegate.staff WHERE id = 'clerk1' AND active")" = 'clerk Nguyễn Thị Lan $argon2id' ] ||
    fail "clerk1 is not in feegate.staff as an active clerk with an argon2id hash"
grep -q "$PW" "$WORK/out" && fail "staff add printed a password it was given"
# Adding again updates (the role changes, the member stays one row).
FEEGATE_STAFF_PASSWORD=$PW "$FEEGATE" staff add clerk1 approver >"$WORK/out" 2>&1 ||
    fail "feegate staff add again"
SECRET=$(sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p' "$WORK/out")
[ "$(q "SELECT count(*) || ' ' || min(role) FROM feegate.staff WHERE id = 'clerk1'")" = "1 approver" ] ||
    fail "adding clerk1 again did not update its row"
# A role that does not exist is refused, and changes nothing.
if FEEGATE_STAFF_PASSWORD=$PW "$FEEGATE" staff add clerk2 boss >"$WORK/out" 2>&1; then
    fail "role boss accepted"
fi
[ "$(q "SELECT count(*) FROM feegate.staff WHERE id = 'clerk2'")" = 0 ] || fail "clerk2 was added"
# Without a password, staff add makes one and prints it once.
"$FEEGATE" staff add aud1 auditor >"$WORK/out" 2>&1 || fail "staff add without a password"
grep -q '^password: [0-9a-f]\{24\}$' "$WORK/out" || fail "no generated password printed"

# From here on, the application role (FEEGATE_DSN): what the gateway and a clerk's shell have.
unset FEEGATE_ADMIN_DSN
code() { oathtool --totp -b "$SECRET"; }
# --staff with no password and no terminal: refused before anything runs.
if "$FEEGATE" recon run 2020-01-01 --staff clerk1 </dev/null >"$WORK/out" 2>&1; then
    fail "--staff without a password was accepted"
fi
grep -q 'needs a password and a one-time code' "$WORK/out" || fail "wrong reason for --staff alone"
# Nor may the application role act without a session.
if "$FEEGATE" recon run 2020-01-01 >"$WORK/out" 2>&1; then fail "recon run without a session"; fi
grep -q 'not_signed_in' "$WORK/out" || fail "recon run without a session: wrong reason"
# Sign in: the password and the current code.
FEEGATE_STAFF_PASSWORD=$PW FEEGATE_STAFF_TOTP=$(code) "$FEEGATE" staff sign-in clerk1 \
    >"$WORK/session" 2>"$WORK/out" || fail "staff sign-in clerk1"
grep -q "^export FEEGATE_SESSION='[0-9a-f]\{64\}'$" "$WORK/session" || fail "no session printed"
. "$WORK/session"
"$FEEGATE" recon run 2020-01-01 >"$WORK/out" 2>&1 || fail "recon run in clerk1's session"
grep -q '"business_day": "2020-01-01"' "$WORK/out" || fail "recon run: $(cat "$WORK/out")"
[ "$(q "SELECT count(*) FROM feegate.audit_log WHERE staff_id = 'clerk1' AND action = 'recon_run'")" = 1 ] ||
    fail "the run is not in the audit log as clerk1's"
"$FEEGATE" staff sign-out || fail "staff sign-out"
if "$FEEGATE" recon run 2020-01-01 >"$WORK/out" 2>&1; then fail "the session outlived sign-out"; fi
unset FEEGATE_SESSION
# The same code again (it was used), a wrong password, a wrong code: refused.
used=$(code)
sign_in() { FEEGATE_STAFF_PASSWORD=$1 FEEGATE_STAFF_TOTP=$2 "$FEEGATE" staff sign-in clerk1 >"$WORK/out" 2>&1; }
if sign_in "$PW" "$used"; then
    # the step may have turned since: then this was a new code; use it up and try it again
    sign_in "$PW" "$used" && fail "a used code was accepted twice"
fi
sign_in 'not the password 1' "$(code)" && fail "a wrong password was accepted"
grep -q 'refused: wrong name, password or code' "$WORK/out" || fail "wrong password: $(cat "$WORK/out")"
sign_in "$PW" 000000 && [ "$(code)" != 000000 ] && fail "a wrong code was accepted"
# Five failures in a row lock the member out, even with the right password and code.
q "UPDATE feegate.staff SET failures = 0 WHERE id = 'clerk1'"
for _ in 1 2 3 4 5; do sign_in 'not the password 1' "$(code)" && fail "wrong password accepted"; done
grep -q 'wrong name, password or code' "$WORK/out" || fail "fifth failure: $(cat "$WORK/out")"
sign_in "$PW" "$(code)" && fail "a locked member signed in"
grep -q 'locked after 5 failed sign-ins' "$WORK/out" || fail "not locked: $(cat "$WORK/out")"
say "ok: staff added with argon2id and TOTP, signed in and out, --staff alone, bad passwords and codes refused, locked out"
