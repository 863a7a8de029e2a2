#!/usr/bin/env bash
# bench/recon.sh: import plus matching of a RECON_BENCH_LINES-line statement (default
# 1,000,000) against a day of as many switch payments, with a baseline in the same run: a
# plain COPY of the same file into an unindexed table. Self-contained: a temporary cluster
# (feegate dev-db), migrated and seeded; the day's payments, attempts, success journals and
# postings are bulk-inserted as superuser (triggers off for the load only: this measures the
# reconciliation, not the payment path); the statement has 1% of its lines missing, 1%
# unknown, 0.5% with another amount. Prints lines/s and the importer's peak memory
# (getrusage, via `--stats`). Method and figures: docs/benchmarks.md, "Reconciliation".
#
# Usage: bash bench/recon.sh [BUILD_DIR]     RECON_BENCH_LINES (1000000)  RECON_BENCH_PORT
# (55490)  RECON_BENCH_KEEP (1: keep the work dir)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-${BUILD_DIR:-$ROOT/build}}
FEEGATE=$BUILD/gateway/feegate
N=${RECON_BENCH_LINES:-1000000}
PORT=${RECON_BENCH_PORT:-55490}
WORK=$(mktemp -d /tmp/fg-recon-bench-XXXXXX)
chmod 755 "$WORK" # the cluster runs as another user when started by root

cleanup() {
    "$FEEGATE" dev-db stop "$WORK/db" >/dev/null 2>&1 || true
    if [ "${RECON_BENCH_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
# A watchdog: the whole run is bounded.
( sleep "${RECON_BENCH_TIMEOUT:-1800}"; echo "recon bench: timeout" >&2; kill -TERM $$ ) &
WATCHDOG=$!
trap 'kill $WATCHDOG 2>/dev/null || true; cleanup' EXIT

eval "$("$FEEGATE" dev-db start "$WORK/db" "$PORT" | sed -n 's/^\(FEEGATE_[A-Z_]*\)=/export \1=/p')"
"$FEEGATE" migrate >/dev/null
"$FEEGATE" seed-demo >/dev/null
PSQL=(psql -qAtX -v ON_ERROR_STOP=1 "$FEEGATE_ADMIN_DSN")
# Import and matching as the database owner's tools (no staff session: docs/console.md#controls).
export FEEGATE_DSN=$FEEGATE_ADMIN_DSN
DAY=$("${PSQL[@]}" -c "SELECT (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - 1")

secs() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

echo "recon bench: $N payments and statement lines, business day $DAY (Asia/Ho_Chi_Minh)"
t0=$(secs)
"${PSQL[@]}" <<SQL
SET session_replication_role = replica;
SET search_path = feegate;
INSERT INTO clients (id, secret) VALUES ('bench', 'bench-secret-0123456789') ON CONFLICT DO NOTHING;
INSERT INTO client_agencies VALUES ('bench', 'STP-HN') ON CONFLICT DO NOTHING;
INSERT INTO payments (id, client_id, order_ref, agency_code, status, amount_vnd, items, channel,
                      merchant_ref, provider_txn_id, base_url, expires_at, paid_at)
SELECT 'pay_b' || i, 'bench', 'B-' || i, 'STP-HN', 'succeeded', 200000,
       '[{"fee_code": "LLTP", "amount_vnd": 200000}]', 'sandbox', 'FGB' || lpad(i::text, 19, '0'),
       'T' || i, 'http://127.0.0.1:9', now(),
       recon_day_start('$DAY') + (i * 86000.0 / $N) * interval '1 second'
FROM generate_series(1, $N) i;
INSERT INTO payment_attempts (merchant_ref, payment_id, channel)
SELECT 'FGB' || lpad(i::text, 19, '0'), 'pay_b' || i, 'sandbox' FROM generate_series(1, $N) i;
INSERT INTO journals (id, kind, payment_id, business_day, memo)
SELECT 1000000000 + i, 'payment_success', 'pay_b' || i, '$DAY', 'bench'
FROM generate_series(1, $N) i;
INSERT INTO postings (journal_id, account_code, amount_vnd)
SELECT 1000000000 + i, a, v FROM generate_series(1, $N) i,
  (VALUES ('clearing:sandbox', 200000), ('payable:STP-HN-3511', -140000),
          ('payable:NSNN-HN-7111', -60000)) p(a, v);
ANALYZE;
SQL
t1=$(secs)
echo "setup (bulk load of the switch side): $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"

# The statement: 1% missing at the provider, 1% unknown to the switch, 0.5% other amounts.
STMT=$WORK/statement.csv
"${PSQL[@]}" -c "COPY (
  SELECT 'T' || i, 'FGB' || lpad(i::text, 19, '0'), 'payment',
         CASE WHEN i % 200 = 1 THEN 201000 ELSE 200000 END, 2000, 'succeeded',
         to_char((feegate.recon_day_start('$DAY') + (i * 86000.0 / $N) * interval '1 second')
                 AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+07:00\"'), 'VND'
  FROM generate_series(1, $N) i WHERE i % 100 <> 0
  UNION ALL
  SELECT 'X' || i, 'FGX' || lpad(i::text, 19, '0'), 'payment', 100000, 1000, 'succeeded',
         '${DAY}T12:00:00+07:00', 'VND' FROM generate_series(1, $N / 100) i
) TO STDOUT WITH (FORMAT csv, HEADER false)" > "$STMT.body"
{ echo "provider_txn_id,merchant_ref,kind,amount_vnd,fee_vnd,status,booked_at,currency"
  cat "$STMT.body"; } > "$STMT"
rm -f "$STMT.body"
LINES=$(($(wc -l < "$STMT") - 1))
echo "statement: $LINES lines, $(du -m "$STMT" | cut -f1) MB"

# Baseline: the same file through a plain COPY into a table without indexes.
"${PSQL[@]}" -c "CREATE UNLOGGED TABLE public.copy_baseline (provider_txn_id text,
  merchant_ref text, kind text, amount_vnd bigint, fee_vnd bigint, status text,
  booked_at timestamptz, currency text)"
t0=$(secs)
"${PSQL[@]}" -c "\\copy public.copy_baseline FROM '$STMT' WITH (FORMAT csv, HEADER true)"
t1=$(secs)
echo "baseline COPY:    $(rate "$LINES" "$t0" "$t1") lines/s"

t0=$(secs)
"$FEEGATE" statement import "$STMT" --provider sandbox --date "$DAY" --stats 2> "$WORK/import.err" \
    > "$WORK/import.out"
t1=$(secs)
echo "feegate import:   $(rate "$LINES" "$t0" "$t1") lines/s ($(grep -o 'peak memory [0-9]* KiB' "$WORK/import.err"))"
t0=$(secs)
"$FEEGATE" recon run "$DAY" --stats > "$WORK/run.out" 2> "$WORK/run.err"
t1=$(secs)
echo "feegate matching: $(rate "$LINES" "$t0" "$t1") lines/s ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s)"
echo "result: $(cat "$WORK/run.out")"
t0=$(secs)
"$FEEGATE" statement import "$STMT" --provider sandbox --date "$DAY" > "$WORK/again.out"
t1=$(secs)
echo "re-import (replay): $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s: $(cat "$WORK/again.out")"
