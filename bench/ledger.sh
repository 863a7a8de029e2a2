#!/usr/bin/env bash
# The ledger's write path under load: journals and postings per second through
# feegate.post_journal (the single write path: balance assertion, business day, accounts,
# commit-time balance trigger), against a baseline of plain INSERTs of the same rows in the
# same run, then the sealing rate of feegate.ledger_seal over everything posted.
# Starts a temporary cluster (feegate dev-db) and removes it on any exit; bounded by timeouts.
#   bash bench/ledger.sh [BUILD_DIR]   env: LEDGER_BENCH_CLIENTS (8) LEDGER_BENCH_SECONDS (10)
set -euo pipefail
BUILD=${1:-build}
FEEGATE=$BUILD/gateway/feegate
CLIENTS=${LEDGER_BENCH_CLIENTS:-8}
SECONDS_PER_RUN=${LEDGER_BENCH_SECONDS:-10}
PORT=${LEDGER_BENCH_PORT:-18432}
[ -x "$FEEGATE" ] || { echo "ledger.sh: $FEEGATE not built" >&2; exit 2; }
command -v pgbench >/dev/null || { echo "ledger.sh: pgbench not found" >&2; exit 2; }
WORK=$(mktemp -d /tmp/fg-ledger-bench.XXXXXX)
chmod 755 "$WORK"
cleanup() {
    timeout 60 "$FEEGATE" dev-db stop "$WORK/db" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

out=$(timeout 120 "$FEEGATE" dev-db start "$WORK/db" "$PORT")
eval "$(printf '%s\n' "$out" | grep -E '^FEEGATE_(ADMIN_)?DSN=')"
export FEEGATE_DSN FEEGATE_ADMIN_DSN
timeout 120 "$FEEGATE" migrate >/dev/null
timeout 120 "$FEEGATE" seed-demo >/dev/null

# Three postings per journal, as a success split over two treasury accounts.
cat >"$WORK/post.sql" <<'SQL'
SELECT feegate.post_journal('bench', NULL, 'bench', '[{"account":"clearing:sandbox","amount_vnd":200000},{"account":"payable:STP-HN-3511","amount_vnd":-140000},{"account":"payable:NSNN-HN-7111","amount_vnd":-60000}]');
SQL
cat >"$WORK/insert.sql" <<'SQL'
WITH j AS (INSERT INTO feegate.journals (kind, business_day, memo) VALUES ('bench_raw', (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, 'bench') RETURNING id) INSERT INTO feegate.postings (journal_id, account_code, amount_vnd) SELECT j.id, a, v FROM j, (VALUES ('clearing:sandbox', 200000), ('payable:STP-HN-3511', -140000), ('payable:NSNN-HN-7111', -60000)) x(a, v);
SQL

run() { # name script -> journals/s
    local tps
    tps=$(PGOPTIONS='-c search_path=feegate,pg_temp' timeout $((SECONDS_PER_RUN + 60)) \
        pgbench -n -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" -f "$2" "$FEEGATE_ADMIN_DSN" 2>&1 |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    printf '%-28s %10.0f journals/s %10.0f postings/s\n' "$1" "$tps" "$(echo "$tps * 3" | bc)"
}
echo "machine: $(nproc) cores, $(uname -sr), $CLIENTS sessions, ${SECONDS_PER_RUN} s per run"
run "post_journal" "$WORK/post.sql"
run "plain INSERT (baseline)" "$WORK/insert.sql"
run "post_journal (again)" "$WORK/post.sql"

n=$(psql -X -qAt "$FEEGATE_ADMIN_DSN" -c "SELECT count(*) FROM feegate.journals")
t0=$(date +%s.%N)
sealed=$(timeout 600 psql -X -qAt "$FEEGATE_ADMIN_DSN" \
    -c "SELECT sum(feegate.ledger_seal(20000)) FROM generate_series(1, ($n + 19999) / 20000)")
t1=$(date +%s.%N)
printf 'ledger_seal: %s journals in %.2f s: %.0f journals/s\n' "$sealed" \
    "$(echo "$t1 - $t0" | bc)" "$(echo "$sealed / ($t1 - $t0)" | bc -l)"
timeout 300 "$FEEGATE" ledger verify --max-unsealed-age 0 | tail -n 2
