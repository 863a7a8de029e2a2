#!/usr/bin/env bash
# The README's first payment, from a plain shell, as a newcomer runs it: `feegate demo` in a
# fresh directory, then `feegate request POST /v1/payments var/example-payment.json`,
# `feegate request GET /v1/payments/<id>` and `. var/demo.env && feegate ledger check`; the same
# over HTTPS with the demo's CA (`curl --cacert "$FEEGATE_TLS_CA" "$FEEGATE_HTTPS_URL/healthz"`,
# `FEEGATE_URL=$FEEGATE_HTTPS_URL feegate request GET ...`), and a client that does not know
# that CA refused; the demo's clerk and approver from var/demo.env sign in (codes from
# oathtool) and find yesterday's business day matched with exceptions waiting. Then
# the demo database is given a schema version this binary does not know, and a second
# `feegate demo` must say so, recreate it and serve again. Loopback only, free ports, bounded
# in time; everything is stopped on any exit.
# Usage: demo.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
FEEGATE=$BUILD/gateway/feegate
WORK=$(mktemp -d)
chmod 755 "$WORK" # as root, the demo runs PostgreSQL as user postgres, which must reach var/
DEMO_PID=""
say() { printf 'demo.sh: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; [ -f "$WORK/demo.log" ] && tail -n 40 "$WORK/demo.log" >&2; exit 1; }
stop_demo() { # SIGTERM stops all; demo must then exit 0, without a sanitizer report
    [ -n "$DEMO_PID" ] || return 0
    local pid=$DEMO_PID rc=0
    DEMO_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || rc=$?
    [ "$rc" = 0 ] || fail "feegate demo exited with status $rc after SIGTERM"
    ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK"/demo*.log ||
        fail "a sanitizer report in the demo's output"
}
cleanup() {
    local rc=$?
    stop_demo
    [ "$rc" = 0 ] && rm -rf "$WORK"
    [ "$rc" = 0 ] || say "work directory kept: $WORK"
    exit "$rc"
}
trap cleanup EXIT
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # a random port nothing listens on (nothing but bash needed)
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        port_busy "$p" || { echo "$p"; return 0; }
    done
    fail "no free port"
}

start_demo() { # log
    FEEGATE_PORT=$GW_PORT BANKSIM_PORT=$SIM_PORT FEEGATE_DEMO_PG_PORT=$PG_PORT \
        FEEGATE_HTTPS_PORT=$HTTPS_PORT FEEGATE_CONSOLE_PORT=$CONSOLE_PORT \
        "$FEEGATE" demo >"$1" 2>&1 &
    DEMO_PID=$!
    for _ in $(seq 1 600); do
        curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$GW_PORT/healthz" 2>/dev/null && return 0
        kill -0 "$DEMO_PID" 2>/dev/null || fail "feegate demo exited (see $1)"
        sleep 0.1
    done
    fail "feegate demo did not answer /healthz within 60 s"
}

GW_PORT=$(free_port)
HTTPS_PORT=$(free_port)
CONSOLE_PORT=$(free_port)
SIM_PORT=$(free_port)
PG_PORT=$(free_port)
cd "$WORK"
start_demo "$WORK/demo.log"
[ -f var/demo.env ] || fail "var/demo.env was not written"
[ -f var/example-payment.json ] || fail "var/example-payment.json was not written"

grep -q '"development_mode"' "$WORK/demo.log" || fail "the demo did not say it runs in development mode"
created=$("$FEEGATE" request POST /v1/payments var/example-payment.json 2>"$WORK/request.err") ||
    fail "request POST: $created $(cat "$WORK/request.err")"
grep -q '"status" *: *"created"' <<<"$created" || fail "the payment is not created: $created"
grep -q '"checkout_url"' <<<"$created" || fail "no checkout_url: $created"
id=$(sed -n 's/.*"payment_id" *: *"\([^"]*\)".*/\1/p' <<<"$created" | head -n 1)
[ -n "$id" ] || fail "no payment_id in: $created"
# The POST made its own Idempotency-Key and said so; the same request again with that key (signed
# anew a second later, as a retry is) answers the same payment and makes no other.
key=$(sed -n 's/.*Idempotency-Key: \(cli-[0-9a-f]*\).*/\1/p' "$WORK/request.err" | head -n 1)
[ -n "$key" ] || fail "request POST did not say its Idempotency-Key: $(cat "$WORK/request.err")"
sleep 1
again=$(IDEMPOTENCY_KEY=$key "$FEEGATE" request POST /v1/payments var/example-payment.json) ||
    fail "request POST again with the key: $again"
grep -q "\"payment_id\" *: *\"$id\"" <<<"$again" || fail "the retry made another payment: $again"
got=$("$FEEGATE" request GET "/v1/payments/$id") || fail "request GET: $got"
grep -q "\"payment_id\" *: *\"$id\"" <<<"$got" || fail "GET answered another payment: $got"
(. var/demo.env && "$FEEGATE" ledger check >"$WORK/check.log" 2>&1) || fail "ledger check failed"

# HTTPS, from a plain shell: the demo's CA verifies the gateway; HSTS comes over TLS only.
(
    . var/demo.env
    [ "$FEEGATE_HTTPS_URL" = "https://127.0.0.1:$HTTPS_PORT" ] || fail "FEEGATE_HTTPS_URL is $FEEGATE_HTTPS_URL"
    [ -f "$FEEGATE_TLS_CA" ] || fail "FEEGATE_TLS_CA ($FEEGATE_TLS_CA) is not a file"
    curl -fsS --max-time 10 --cacert "$FEEGATE_TLS_CA" "$FEEGATE_HTTPS_URL/healthz" >/dev/null ||
        fail "curl --cacert \$FEEGATE_TLS_CA \$FEEGATE_HTTPS_URL/healthz failed"
    curl -fsS --max-time 10 --cacert "$FEEGATE_TLS_CA" -D - -o /dev/null "$FEEGATE_HTTPS_URL/" |
        grep -qi '^Strict-Transport-Security: max-age=31536000' || fail "no HSTS over HTTPS"
    ! curl -fsS --max-time 10 -D - -o /dev/null "$FEEGATE_URL/" | grep -qi '^Strict-Transport-Security' ||
        fail "HSTS over plain HTTP"
    ! curl -fsS --max-time 10 -o /dev/null "$FEEGATE_HTTPS_URL/healthz" 2>/dev/null ||
        fail "curl without the demo CA was not refused"
    got=$(FEEGATE_URL=$FEEGATE_HTTPS_URL "$FEEGATE" request GET "/v1/payments/$id") ||
        fail "request GET over HTTPS: $got"
    grep -q "\"payment_id\" *: *\"$id\"" <<<"$got" || fail "GET over HTTPS answered: $got"
)

# The demo's finance staff and yesterday's day (docs/console.md).
(
    . var/demo.env
    for v in FEEGATE_CLERK_USER FEEGATE_CLERK_PASSWORD FEEGATE_CLERK_TOTP FEEGATE_APPROVER_USER \
        FEEGATE_APPROVER_PASSWORD FEEGATE_APPROVER_TOTP; do
        [ -n "${!v:-}" ] || fail "var/demo.env has no $v"
    done
    yesterday=$(psql -X -q -At "$FEEGATE_ADMIN_DSN" -c \
        "SELECT (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - 1")
    session=$(FEEGATE_STAFF_PASSWORD=$FEEGATE_CLERK_PASSWORD \
        FEEGATE_STAFF_TOTP=$(oathtool --totp -b "$FEEGATE_CLERK_TOTP") \
        "$FEEGATE" staff sign-in "$FEEGATE_CLERK_USER") || fail "the demo clerk cannot sign in"
    eval "$session"
    "$FEEGATE" recon exceptions "$yesterday" >"$WORK/exceptions.json" ||
        fail "recon exceptions as the demo clerk"
    for c in missing_at_provider amount_mismatch missing_at_switch; do
        [ "$(grep -o "\"category\": \"$c\"" "$WORK/exceptions.json" | wc -l)" = 4 ] ||
            fail "yesterday has not 4 $c exceptions (one per provider)"
    done
    "$FEEGATE" staff sign-out
    FEEGATE_STAFF_PASSWORD=$FEEGATE_APPROVER_PASSWORD \
        FEEGATE_STAFF_TOTP=$(oathtool --totp -b "$FEEGATE_APPROVER_TOTP") \
        "$FEEGATE" staff sign-in "$FEEGATE_APPROVER_USER" >/dev/null ||
        fail "the demo approver cannot sign in"
) || exit 1

# The web console over real HTTP (docs/console.md#the-web-console): sign-in with the
# second factor, the cookie's flags, CSRF, maker and checker, sign-out.
(
    . var/demo.env
    C=$FEEGATE_CONSOLE_URL
    [ "$C" = "http://127.0.0.1:$CONSOLE_PORT" ] || fail "FEEGATE_CONSOLE_URL is $C"
    yesterday=$(psql -X -q -At "$FEEGATE_ADMIN_DSN" -c \
        "SELECT (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - 1")
    # The step after this one: the step of this moment may be used already (a code counts once).
    code() { oathtool --totp -b --now "$(date -u -d '+30 seconds' '+%Y-%m-%d %H:%M:%S UTC')" "$1"; }
    page=$(curl -fsS --max-time 10 "$C/signin") || fail "console: GET /signin"
    for a in 'autocomplete="username"' 'autocomplete="current-password"' 'autocomplete="one-time-code"'; do
        grep -qF "$a" <<<"$page" || fail "console: the sign-in page has no $a"
    done
    [ "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code} %{redirect_url}' "$C/days")" = "303 $C/signin" ] ||
        fail "console: /days without a session is not sent to sign in"
    # A wrong password: 401, the error summary, no cookie.
    curl -sS --max-time 10 -D "$WORK/h0" -o "$WORK/p0" -w '%{http_code}' "$C/signin" \
        --data-urlencode "user=$FEEGATE_CLERK_USER" --data-urlencode "password=wrong-password-1" \
        --data-urlencode "code=$(code "$FEEGATE_CLERK_TOTP")" >"$WORK/s0"
    [ "$(cat "$WORK/s0")" = 401 ] || fail "console: a wrong password answered $(cat "$WORK/s0")"
    grep -q 'class="error-summary"' "$WORK/p0" || fail "console: no error summary for a wrong password"
    ! grep -qi '^Set-Cookie: fgc_session' "$WORK/h0" || fail "console: a cookie for a wrong password"
    # A form from another site (its Origin) is refused, the sign-in's included.
    [ "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' \
        "$C/signin" --data 'user=x&password=y&code=000000')" = 403 ] ||
        fail "console: a sign-in from another origin was not refused"
    signin() { # user password secret jar
        curl -sS --max-time 10 -c "$4" -D "$4.h" -o /dev/null -w '%{http_code}' "$C/signin" \
            --data-urlencode "user=$1" --data-urlencode "password=$2" \
            --data-urlencode "code=$(code "$3")"
    }
    [ "$(signin "$FEEGATE_CLERK_USER" "$FEEGATE_CLERK_PASSWORD" "$FEEGATE_CLERK_TOTP" "$WORK/clerk")" = 303 ] ||
        fail "console: the clerk cannot sign in"
    grep -i '^Set-Cookie: fgc_session=' "$WORK/clerk.h" | grep -i 'HttpOnly' | grep -i 'SameSite=Strict' |
        grep -qi 'Path=/' || fail "console: the session cookie lacks HttpOnly, SameSite=Strict or Path=/"
    ! grep -i '^Set-Cookie: fgc_session=' "$WORK/clerk.h" | grep -qi 'Secure' ||
        fail "console: Secure on a plain HTTP cookie"
    get() { curl -sS --max-time 10 -b "$1" -o "$WORK/page" -w '%{http_code}' "$C$2"; }
    [ "$(get "$WORK/clerk" /days)" = 200 ] && grep -q "href=\"/days/$yesterday\"" "$WORK/page" ||
        fail "console: the days list has no $yesterday"
    [ "$(get "$WORK/clerk" "/days/$yesterday")" = 200 ] || fail "console: the day's queue"
    grep -q 'Thiếu ở nhà cung cấp' "$WORK/page" || fail "console: no category in Vietnamese words"
    ! grep -q 'missing_at_provider</td>' "$WORK/page" || fail "console: a raw category code on screen"
    # Two differences of 5,000 VND: written off, each needs an approver.
    ids=$(grep -o 'href="/exceptions/[0-9]*">[0-9]*</a></td><td>Lệch số tiền' "$WORK/page" |
        grep -o '/[0-9]*"' | grep -o '[0-9]*' | sort -un)
    id1=$(sed -n 1p <<<"$ids") id2=$(sed -n 2p <<<"$ids")
    [ -n "$id1" ] && [ -n "$id2" ] || fail "console: fewer than two amount differences in the queue"
    [ "$(get "$WORK/clerk" "/days/$yesterday?lang=en")" = 200 ] &&
        grep -q 'Missing at the provider' "$WORK/page" || fail "console: no English words"
    [ "$(get "$WORK/clerk" "/exceptions/$id1?lang=vi")" = 200 ] || fail "console: the exception page"
    csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$WORK/page" | head -n 1 | grep -o '[0-9a-f]\{64\}')
    [ -n "$csrf" ] || fail "console: no CSRF token on the exception page"
    post() { curl -sS --max-time 10 -b "$1" -o "$WORK/page" -w '%{http_code}' "$C$2" "${@:3}"; }
    # Without the CSRF token, or with a wrong one: 403, nothing asked.
    [ "$(post "$WORK/clerk" "/exceptions/$id1/resolve" --data 'action=write_off&note=x')" = 403 ] ||
        fail "console: a POST without the CSRF token was not refused"
    [ "$(post "$WORK/clerk" "/exceptions/$id1/resolve" --data "action=write_off&note=x&csrf=${csrf//?/0}")" = 403 ] ||
        fail "console: a POST with a wrong CSRF token was not refused"
    [ "$(get "$WORK/clerk" "/exceptions/$id1")" = 200 ] && ! grep -q '<td>Chờ phê duyệt</td>' "$WORK/page" ||
        fail "console: a refused POST changed the exception"
    # The clerk asks for a write-off; a clerk cannot approve it.
    [ "$(post "$WORK/clerk" "/exceptions/$id1/resolve" --data "csrf=$csrf&action=write_off" \
        --data-urlencode 'note=lost in transit, ticket 4411')" = 303 ] || fail "console: the write-off request"
    [ "$(get "$WORK/clerk" "/exceptions/$id1")" = 200 ] && grep -q '<td>Chờ phê duyệt</td>' "$WORK/page" ||
        fail "console: the write-off is not waiting for approval"
    [ "$(post "$WORK/clerk" "/exceptions/$id1/approve" --data "csrf=$csrf")" = 403 ] ||
        fail "console: a clerk's approval was not refused"
    grep -q 'Vai trò của bạn không được phép' "$WORK/page" || fail "console: the refusal is not in words"
    # The approver approves it; their own request they cannot.
    [ "$(signin "$FEEGATE_APPROVER_USER" "$FEEGATE_APPROVER_PASSWORD" "$FEEGATE_APPROVER_TOTP" "$WORK/appr")" = 303 ] ||
        fail "console: the approver cannot sign in"
    [ "$(get "$WORK/appr" /approvals)" = 200 ] && grep -q "href=\"/exceptions/$id1\"" "$WORK/page" ||
        fail "console: the approvals queue lacks $id1"
    acsrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$WORK/page" | head -n 1 | grep -o '[0-9a-f]\{64\}')
    [ "$(post "$WORK/appr" "/exceptions/$id1/approve" --data "csrf=$acsrf")" = 303 ] ||
        fail "console: the approver's approval"
    [ "$(get "$WORK/appr" "/exceptions/$id1")" = 200 ] && grep -q '<dd>Đã xử lý</dd>' "$WORK/page" ||
        fail "console: the approved exception is not resolved"
    [ "$(post "$WORK/appr" "/exceptions/$id2/resolve" --data "csrf=$acsrf&action=write_off&note=own")" = 303 ] ||
        fail "console: the approver's own write-off request"
    [ "$(post "$WORK/appr" "/exceptions/$id2/approve" --data "csrf=$acsrf")" = 409 ] ||
        fail "console: approving one's own request was not refused"
    grep -q 'chính mình' "$WORK/page" || fail "console: the same-person refusal is not in words"
    [ "$(get "$WORK/appr" /audit)" = 200 ] && grep -q 'sign_in' "$WORK/page" ||
        fail "console: the audit log page"
    # The day's report; the day closed by the approver (a clerk may not; open exceptions need
    # carrying forward).
    [ "$(get "$WORK/appr" "/days/$yesterday/report")" = 200 ] && grep -q '<!DOCTYPE html>' "$WORK/page" ||
        fail "console: the day's report"
    [ "$(post "$WORK/clerk" "/days/$yesterday/close" --data "csrf=$csrf")" = 403 ] ||
        fail "console: a clerk closed the day"
    [ "$(post "$WORK/appr" "/days/$yesterday/close" --data "csrf=$acsrf")" = 409 ] &&
        grep -q 'open exceptions' "$WORK/page" || fail "console: closed with open exceptions"
    [ "$(post "$WORK/appr" "/days/$yesterday/close" --data "csrf=$acsrf&carry_forward=yes")" = 303 ] ||
        fail "console: the approver cannot close the day"
    [ "$(get "$WORK/appr" /days)" = 200 ] && grep -q 'Đã khóa sổ' "$WORK/page" ||
        fail "console: the closed day is not shown closed"
    # Sign-out ends the session in the database, not only the cookie.
    token=$(awk '$6 == "fgc_session" {print $7}' "$WORK/clerk")
    [ "$(post "$WORK/clerk" /signout --data "csrf=$csrf")" = 303 ] || fail "console: sign-out"
    [ "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code} %{redirect_url}' \
        -H "Cookie: fgc_session=$token" "$C/days")" = "303 $C/signin" ] ||
        fail "console: the session still works after sign-out"
) || exit 1

# A schema version this binary does not know (a migration it never embedded), written while
# the demo's cluster runs; the next demo must notice it.
(. var/demo.env && psql -X -q -v ON_ERROR_STOP=1 "$FEEGATE_ADMIN_DSN" -c \
    "INSERT INTO feegate.schema_migrations (version, name, sha256) VALUES (999, '999_future', 'x')") ||
    fail "could not mark the demo database with an unknown version"
stop_demo
start_demo "$WORK/demo2.log"
grep -q 'does not know; dropping it and creating it again' "$WORK/demo2.log" ||
    fail "the second demo did not say it recreates the database"
grep -q 'database recreated at the current schema version' "$WORK/demo2.log" ||
    fail "the second demo did not say the database was recreated"
created=$("$FEEGATE" request POST /v1/payments var/example-payment.json 2>/dev/null) ||
    fail "request POST after recreate"
grep -q '"status" *: *"created"' <<<"$created" || fail "no payment after recreate: $created"
(. var/demo.env && "$FEEGATE" ledger check >"$WORK/check2.log" 2>&1) || fail "ledger check after recreate"
stop_demo
say "ok: first payment created, retried with its key and read (over HTTP and HTTPS), ledger check passed; demo staff signed in, yesterday matched; unknown schema version recreated"
