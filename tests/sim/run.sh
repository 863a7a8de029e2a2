#!/usr/bin/env bash
# The simulation's one command (docs/simulation.md): runs fg_sim from the build directory
# with the arguments given, e.g.
#   tests/sim/run.sh                      100 seeds of 200 steps on 2 workers
#   tests/sim/run.sh --seeds 100000       the long run
#   tests/sim/run.sh --seed 4242          replays one seed exactly (as a failure prints it)
# FEEGATE_BUILD names the build directory (default: build/ at the top of the tree).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${FEEGATE_BUILD:-$here/../../build}
bin=$build/tests/sim/fg_sim
if [ ! -x "$bin" ]; then
    echo "run.sh: $bin is not built (make build, or set FEEGATE_BUILD)" >&2
    exit 2
fi
exec "$bin" "$@"
