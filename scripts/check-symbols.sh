#!/usr/bin/env bash
# Fails on any symbol exported by the library without the rt_ prefix
# (STYLE.md: everything non-static is rt_<subsystem>_<verb>). ASan's own
# __odr_asan.* markers for globals are not ours and are skipped.
set -euo pipefail
lib=${1:?usage: check-symbols.sh path/to/librt.a}
bad=$(nm -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | grep -v '^rt_' | grep -v '^__odr_asan\.' | sort -u || true)
if [ -n "$bad" ]; then
  echo "check-symbols: exported symbols without the rt_ prefix:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "check-symbols: every exported symbol starts with rt_"
