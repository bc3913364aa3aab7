#!/usr/bin/env bash
# Fails if any C source or header is not formatted per .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files -co --exclude-standard -- 'src/*.c' 'src/*.h' 'tests/unit/*.c' 'tests/unit/*.h' 'fuzz/*.c' 'sdk/*.c' 'sdk/*.h' 'bench/*.c' | sort -u)
[ -n "$files" ] || { echo "check-format: no files"; exit 1; }
clang-format --dry-run -Werror $files
echo "check-format: $(echo "$files" | wc -l) files formatted"
