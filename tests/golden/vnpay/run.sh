#!/bin/sh
# The VNPAY cross-check against the vnpay npm package (ctest golden_vnpay_npm).
# usage: run.sh SRC_DIR WORK_DIR GOLDEN_BIN
# Installs the pinned package-lock.json into WORK_DIR (npm ci --offline when a previous run
# left it cached, else npm ci from the registry), then: our URLs -> check.js (verify and
# rebuild with the library) -> IPN query strings signed by the library -> our adapter.
# Without node or npm the test fails: it is not optional (make deps installs them).
set -eu
src=$1
work=$2
bin=$3
for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "golden_vnpay_npm: $tool is required (make deps installs nodejs and npm)" >&2
        exit 1
    fi
done
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$src/check.js" "$work/"
cd "$work"
if [ -d node_modules/vnpay ]; then
    npm ci --offline --no-audit --no-fund --loglevel=error || npm ci --no-audit --no-fund --loglevel=error
else
    npm ci --no-audit --no-fund --loglevel=error
fi
"$bin" emit > ours.txt
node check.js ours.txt theirs.txt
"$bin" verify theirs.txt
