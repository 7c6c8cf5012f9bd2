#!/usr/bin/env bash
# The test suite: installs what it needs, builds everything, runs CTest (unit tests,
# multi-rank tests under mpirun --oversubscribe, end-to-end tests). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
zerod_build
cd build
ctest --output-on-failure "$@"
