#!/usr/bin/env bash
# clang-tidy over every C file of ours, with .clang-tidy's checks as errors (docs/style.md,
# rules 24 and 34).
#
#   bash tests/tidy/tidy.sh [BUILD_DIR]            check (exit 1 on any finding not allowed)
#   bash tests/tidy/tidy.sh [BUILD_DIR] --update   rewrite the baseline from today's findings
#
# Two checks are ratcheted rather than absolute: bugprone-easily-swappable-parameters and
# readability-function-size (parameters over 5, bodies over 70 lines). The code predates
# them; the findings that existed when they were turned on are listed, by file, check and
# function (not by line, which moves), in tests/tidy/baseline.txt. A new finding of these two
# fails like any other; one that disappears is reported, so that the list only shrinks.
# Every other check must be clean. Needs BUILD_DIR/compile_commands.json (`make build`).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-build}
update=0
[ "${2:-}" = --update ] && update=1
cd "$root" || exit 2
case $build in /*) ;; *) build=$root/$build ;; esac
baseline=tests/tidy/baseline.txt
[ -f "$build/compile_commands.json" ] || {
    echo "tidy: $build/compile_commands.json is missing: run make build first" >&2
    exit 2
}
command -v clang-tidy >/dev/null 2>&1 || { echo "tidy: clang-tidy is not installed" >&2; exit 2; }

out=$(mktemp)
keys=$(mktemp)
trap 'rm -f "$out" "$keys"' EXIT
find . \( -name 'build*' -o -name .git -o -name node_modules -o -name var \) -prune -o \
    -type f -name '*.c' -print | sort |
    xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet >"$out" 2>&1
# One key per finding: path|check|the function it is about (or the message).
grep -E '^[^ ]+:[0-9]+:[0-9]+: (error|warning): .* \[[a-zA-Z0-9.,-]+\]$' "$out" |
    sed -E "s|^$root/||; s|^\./||" |
    sed -E 's/^([^:]+):[0-9]+:[0-9]+: (error|warning): (.*) \[([a-zA-Z0-9.-]+)(,-warnings-as-errors)?\]$/\1|\4|\3/' |
    sed -E "s/\|(bugprone-easily-swappable-parameters)\|.* of '([^']+)' of .*/|\1|\2/;
            s/\|(readability-function-size)\|function '([^']+)' exceeds.*/|\1|\2/" |
    sort -u >"$keys"
# clang-tidy itself failing (a file that does not compile) is a finding too.
if grep -qE 'Error while processing|Found compiler error' "$out"; then
    grep -E 'Error while processing|Found compiler error|error:' "$out" | head -n 20 >&2
    echo "tidy: clang-tidy could not process every file" >&2
    exit 1
fi

ratcheted='\|(bugprone-easily-swappable-parameters|readability-function-size)\|'
if [ "$update" = 1 ]; then
    {
        echo "# tests/tidy/tidy.sh --update: findings of the ratcheted checks, path|check|function."
        echo "# Only ever remove lines from this file (by fixing the code)."
        grep -E "$ratcheted" "$keys"
    } >"$baseline"
    echo "tidy: baseline rewritten: $(grep -cvE '^#' "$baseline") findings in $baseline"
    exit 0
fi

status=0
others=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: (error|warning): ' "$out" |
    grep -vE '\[(bugprone-easily-swappable-parameters|readability-function-size)[],]' |
    sed -E "s|^$root/||" | sort -u || true)
if [ -n "$others" ]; then
    echo "tidy: findings (fix them; the full messages: clang-tidy -p $build FILE):"
    sed 's/^/  /' <<<"$others"
    status=1
fi
new=$(grep -E "$ratcheted" "$keys" | grep -vxF -f <(grep -vE '^#' "$baseline") || true)
if [ -n "$new" ]; then
    echo "tidy: new findings of a ratcheted check (not in $baseline):"
    sed 's/^/  /' <<<"$new"
    status=1
fi
gone=$(grep -vE '^#' "$baseline" | grep -vxF -f <(grep -E "$ratcheted" "$keys") || true)
if [ -n "$gone" ]; then
    echo "tidy: fixed since the baseline (remove these lines from $baseline):"
    sed 's/^/  /' <<<"$gone"
fi
if [ "$status" = 0 ]; then
    echo "tidy: ok ($(grep -cE "$ratcheted" "$keys") ratcheted findings left, as listed in $baseline)"
fi
exit "$status"
