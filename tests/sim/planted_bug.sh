#!/usr/bin/env bash
# ctest sim_planted_bug: the simulation catches a planted bug within the CI budget, names the
# seed, and the command it prints replays the failure exactly.
#   1. tests/sim/run.sh --seeds N --mutate MUTATION (refund-remainder) must fail (exit 1) and print
#      "FAIL seed S at step T" and "replay: tests/sim/run.sh --seed S ...". The mutation
#      replaces ledger_refund in the run's throwaway database with a copy whose partial
#      refunds lose the remainder of their split (fg_sim --mutate; ledger/sql/base is not
#      changed).
#   2. The printed replay command, run as printed, fails at the same step with the same
#      difference (ids masked: the database makes them at random).
#   3. The same seed without the mutation passes (run with --verbose, which prints every
#      step): the failure is the planted bug's.
#   ctest sim_planted_overpayment runs the same with --mutate overpayment: a second success
#   of a paid payment is answered applied but its overpayment is not booked.
# Usage: planted_bug.sh BUILD_DIR SEEDS [MUTATION]
set -uo pipefail
build=$1
seeds=${2:-1000}
mutation=${3:-refund-remainder}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export FEEGATE_BUILD=$build
out=$(mktemp -d /tmp/fg-sim-planted-XXXXXX)
trap 'rm -rf "$out"' EXIT

mask() { sed -E 's/(pay_|rf_|FG)[0-9A-Fa-f]+/\1ID/g'; }
report() { grep -E '^FAIL seed|^  (model|database) ' "$1" | mask; }

bash "$root/tests/sim/run.sh" --seeds "$seeds" --mutate "$mutation" >"$out/run.out" 2>&1
rc=$?
if [ "$rc" -ne 1 ]; then
    cat "$out/run.out"
    echo "planted_bug: the mutated run exited $rc, expected 1 (a seed failed)" >&2
    exit 1
fi
fail=$(grep -m1 -E '^FAIL seed [0-9]+ at step [0-9]+' "$out/run.out")
replay=$(grep -m1 -E '^replay: tests/sim/run.sh --seed [0-9]+ ' "$out/run.out" | sed 's/^replay: //')
if [ -z "$fail" ] || [ -z "$replay" ]; then
    cat "$out/run.out"
    echo "planted_bug: the failure does not name its seed and its replay command" >&2
    exit 1
fi
echo "planted_bug: caught: $fail"
seed=$(echo "$fail" | sed -E 's/^FAIL seed ([0-9]+) .*/\1/')
# The failure of that seed alone, as the first run printed it.
awk -v s="FAIL seed $seed " 'index($0, s) == 1 {p = 1} p && /^replay:/ {exit} p' "$out/run.out" \
    >"$out/first.txt"

(cd "$root" && eval "$replay") >"$out/replay.out" 2>&1
rc=$?
if [ "$rc" -ne 1 ]; then
    cat "$out/replay.out"
    echo "planted_bug: the replay ($replay) exited $rc, expected 1" >&2
    exit 1
fi
if ! diff <(report "$out/first.txt") <(report "$out/replay.out"); then
    echo "planted_bug: the replay failed differently from the first run" >&2
    exit 1
fi
echo "planted_bug: replayed the same way: $replay"

bash "$root/tests/sim/run.sh" --seed "$seed" --verbose >"$out/clean.out" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
    cat "$out/clean.out"
    echo "planted_bug: seed $seed fails without the planted bug too" >&2
    exit 1
fi
if ! grep -q "^seed $seed .* end of seed: full comparison and ledger_check()" "$out/clean.out"; then
    cat "$out/clean.out"
    echo "planted_bug: --verbose did not print the seed's steps" >&2
    exit 1
fi
echo "planted_bug: seed $seed passes without the planted bug"
