#!/usr/bin/env bash
# Concurrency checks of the ledger functions with two real sessions, after smoke.sql (which
# creates the SMOKE fixtures). Connection from the usual PG* variables (PGHOST, PGPORT,
# PGUSER, PGDATABASE), as an admin role. Exits non-zero on the first failed check.
#   1. same Idempotency-Key while the first request is still open: the second waits, then
#      gets the stored response, byte for byte, replayed = true;
#   2. same key, first request rolls back: the second creates its own payment;
#   3. same order_ref (no key) while the first is open: the second waits, then FG409;
#   4. 8 sessions x N payments (create, checkout, success) at once: every receipt number is
#      taken exactly once, gapless, and ledger_check() finds nothing.
set -euo pipefail
n_per_client=${N_PER_CLIENT:-200}
psql=(psql -X -q -At -v ON_ERROR_STOP=1)
run=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL $*" >&2; exit 1; }

req() { # order_ref
    printf '{"order_ref":"%s","agency_code":"SMOKE","items":[{"fee_code":"ODD","amount_vnd":1000}],"amount_vnd":1000}' "$1"
}

# Session A holds its transaction open for 1.5 s after its call; session B starts 0.3 s in.
# $1: A's end (COMMIT or ROLLBACK), $2: idem key or NULL, $3: order_ref; outputs in $tmp.
two_sessions() {
    local key=$2 body
    body=$(req "$3")
    "${psql[@]}" >"$tmp/a" 2>&1 <<SQL &
BEGIN;
SELECT http_status || ' ' || replayed || ' ' || body
FROM feegate.api_create_payment('smoke', $key, 'sha', '$body', 'http://gw');
SELECT pg_sleep(1.5);
$1;
SQL
    local a=$!
    sleep 0.3
    "${psql[@]}" -c "SELECT http_status || ' ' || replayed || ' ' || body
        FROM feegate.api_create_payment('smoke', $key, 'sha', '$body', 'http://gw')" \
        >"$tmp/b" 2>&1 || true
    wait $a || true
}

# 1. Same key, A commits: B returns A's stored response.
two_sessions COMMIT "'c1-$run'" "C1-$run"
a=$(head -n 1 "$tmp/a"); b=$(cat "$tmp/b")
[[ $a == "201 false {"* ]] || fail "idempotency: first answer: $a"
[[ $b == "201 true ${a#201 false }" ]] || fail "idempotency: second answer differs: $b"
echo "ok   same key concurrently: second waited and replayed the stored response"

# 2. Same key, A rolls back: B is a fresh 201.
two_sessions ROLLBACK "'c2-$run'" "C2-$run"
b=$(cat "$tmp/b")
[[ $b == "201 false {"* ]] || fail "idempotency after rollback: $b"
echo "ok   same key after a rollback: second created its own payment"

# 3. Same order_ref, no key, A commits: B gets order_ref_in_use.
two_sessions COMMIT NULL "C3-$run"
b=$(cat "$tmp/b")
grep -q 'order_ref_in_use' <<<"$b" || fail "order_ref race: $b"
echo "ok   same order_ref concurrently: second waited and got order_ref_in_use"

# 4. Parallel success paths on one receipt series.
before=$("${psql[@]}" -c "SELECT next_number FROM feegate.receipt_series WHERE series = 'ZZ-26E'")
cat >"$tmp/pay.sql" <<'SQL'
\set n random(1, 1000000000)
SELECT feegate.apply_provider_result('sandbox',
    feegate.checkout_begin((SELECT body::json ->> 'payment_id' FROM feegate.api_create_payment(
        'smoke', NULL, 'sha', ('{"order_ref":"P-' || :n || '-' || txid_current() ||
        '","agency_code":"SMOKE","items":[{"fee_code":"ODD","amount_vnd":1000}],"amount_vnd":1000}')::jsonb,
        'http://gw')), 'sandbox', 'http://gw') ->> 'merchant_ref',
    'succeeded', 1000, 'T', now(), 'ipn', '{}') AS verdict \gset
SQL
pgbench=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
"$pgbench" -n -c 8 -j 2 -t "$n_per_client" -f "$tmp/pay.sql" >"$tmp/bench" 2>&1 ||
    { cat "$tmp/bench"; fail "pgbench"; }
grep -E '^(tps|number of (transactions actually processed|failed))' "$tmp/bench" | sed 's/^/     /'
after=$("${psql[@]}" -c "SELECT next_number FROM feegate.receipt_series WHERE series = 'ZZ-26E'")
(( after - before == 8 * n_per_client )) || fail "receipts: $before -> $after"
bad=$("${psql[@]}" -c "SELECT string_agg(check_name || ' ' || violations || ' ' || detail, '; ')
                       FROM feegate.ledger_check() WHERE violations <> 0")
[[ -z $bad ]] || fail "ledger_check: $bad"
echo "ok   $((8 * n_per_client)) parallel successes: receipts $before..$((after - 1)) gapless, ledger_check clean"
