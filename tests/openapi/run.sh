#!/bin/sh
# Validates docs/openapi.json as an OpenAPI 3.1 document (ctest openapi_document) with the
# @seriousme/openapi-schema-validator npm package.
# usage: run.sh SRC_DIR WORK_DIR OPENAPI_JSON
# Installs the pinned package-lock.json into WORK_DIR (npm ci --offline when a previous run
# left it cached, else npm ci from the registry), then runs check.js on the document.
# Without node or npm the test fails: it is not optional (make deps installs them).
set -eu
src=$1
work=$2
doc=$3
for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "openapi_document: $tool is required (make deps installs nodejs and npm)" >&2
        exit 1
    fi
done
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$src/check.js" "$work/"
cd "$work"
if [ -d node_modules/@seriousme/openapi-schema-validator ]; then
    npm ci --offline --no-audit --no-fund --loglevel=error || npm ci --no-audit --no-fund --loglevel=error
else
    npm ci --no-audit --no-fund --loglevel=error
fi
node check.js "$doc"
