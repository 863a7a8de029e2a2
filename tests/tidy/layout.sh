#!/usr/bin/env bash
# The tree is the architecture: checks the include arrows between folders, that no two C
# files include each other, that every C file includes banned.h last (the rules are in
# docs/style.md), and that no SQL function is defined twice in ledger/sql. Exit 1 with one
# line per violation.
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2
bad=0
say() { echo "layout: $*"; bad=1; }

# Headers owned by each folder, by base name.
headers_of() { find "$1" -name '*.h' -printf '%f\n' 2>/dev/null | sort -u; }
gateway_h=$(headers_of gateway)
ledger_h=$(headers_of ledger)
adapters_h=$(headers_of adapters)
receipts_h=$(headers_of receipts)

# May folder $1 include header $2 (base name)? The arrows: gateway -> adapters, ledger,
# receipts, proto, common; adapters, ledger, receipts -> common only; common -> nothing.
check_folder() {
    local folder=$1; shift
    local forbidden="$*"
    while IFS= read -r f; do
        while IFS= read -r inc; do
            for h in $forbidden; do
                [ "$inc" = "$h" ] && say "$f includes \"$inc\" from a folder it may not use"
            done
        done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | xargs -r -n1 basename)
    done < <(find "$folder" -name '*.[ch]' -not -path '*/build*')
}
check_folder common "$gateway_h $ledger_h $adapters_h $receipts_h"
check_folder adapters "$gateway_h $ledger_h $receipts_h"
check_folder ledger "$gateway_h $adapters_h $receipts_h"
check_folder receipts "$gateway_h $ledger_h $adapters_h"

# No two C files include each other (include_pairs.awk says when a file includes another's
# header): the dependencies between files go one way, as between folders.
pairs=$(find common gateway adapters ledger receipts -name '*.[ch]' -not -path '*/build*' \
        | sort | xargs awk -f "$root/tests/tidy/include_pairs.awk" | sort)
while IFS= read -r line; do
    [ -n "$line" ] || continue
    say "$line"
done <<<"$pairs"

# banned.h is the last include of every .c file of ours (but the allocator itself, the one
# file that calls malloc and free by design).
while IFS= read -r f; do
    [ "$f" = common/gw_arena.c ] && continue
    last=$(grep -E '^#include ' "$f" | tail -n 1)
    case "$last" in
    '#include "banned.h"'*) ;;
    *) say "$f: the last #include is not \"banned.h\" ($last)" ;;
    esac
done < <(find common gateway adapters ledger receipts bench -name '*.c' -not -path '*/build*' \
         | sort)
# The gateway's files stay small enough to read whole (docs/style.md, rule 25): none over
# 700 lines; a file that grows past it is split along what it owns.
while IFS= read -r f; do
    n=$(wc -l <"$f")
    [ "$n" -le 700 ] || say "$f has $n lines: split it along what it owns (at most 700 in gateway/)"
done < <(find gateway -name '*.[ch]' | sort)

# Every SQL function is defined in one file only (docs/ledger.md, "Migrations"): a second
# CREATE [OR REPLACE] FUNCTION of the same name anywhere in ledger/sql splits its definition.
while IFS= read -r dup; do
    [ -n "$dup" ] || continue
    say "SQL function $dup is defined more than once: $(grep -rlEi \
        "CREATE( OR REPLACE)? FUNCTION (feegate\.)?$dup\(" ledger/sql | tr '\n' ' ')"
done < <(grep -rhoEi 'CREATE( OR REPLACE)? FUNCTION (feegate\.)?[a-z_0-9]+\(' ledger/sql \
         --include='*.sql' | sed -E 's/.* FUNCTION (feegate\.)?//I; s/\($//' | sort | uniq -d)
[ $bad = 0 ] && echo "layout: ok"
exit $bad
