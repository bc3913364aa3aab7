#!/usr/bin/env bash
# Runs the Node integration suites against the given server binary.
set -euo pipefail
bin=$(realpath "${1:?usage: integration.sh path/to/realtime}")
cd "$(dirname "$0")/../tests"
export REALTIME_BIN="$bin"
exec node --test --test-concurrency=1 --test-timeout=300000 integration/
