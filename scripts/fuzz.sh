#!/usr/bin/env bash
# scripts/fuzz.sh BUILD_DIR [SECONDS] - runs every libFuzzer target built in
# BUILD_DIR for SECONDS each (default 60), seeded from fuzz/corpus/<name>/,
# with new inputs kept in fuzz/corpus-<name>/ (ignored by git). Any crash
# stops the run with the reproducer's path.
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD_DIR [SECONDS]}
secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
found=0
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  found=1
  name=${bin##*/fuzz_}
  work="$root/fuzz/corpus-$name"
  mkdir -p "$work"
  echo "fuzz: $name for ${secs}s"
  "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$work/" "$work" "$root/fuzz/corpus/$name" 2>&1 | tail -3
done
[ "$found" = 1 ] || { echo "fuzz: no targets in $build" >&2; exit 1; }
