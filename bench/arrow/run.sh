#!/usr/bin/env bash
# HyphaArrow benchmark beside pyarrow's baseline, same machine, same run.
#   bench/arrow/run.sh            # needs python with pyarrow: $HYPHA_PYTHON or .venv/bin/python
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="${HYPHA_PYTHON:-$root/.venv/bin/python}"
shared="${HYPHA_SHARED_DIR:-$root/../shared}"
work="${TMPDIR:-/tmp}/hypha-arrow-bench"
mkdir -p "$work" "$here/.build"
echo "== building (swiftc -O)"
swiftc -O -wmo -module-name ArrowBench "$root"/Sources/Arrow/*.swift "$here/main.swift" -o "$here/.build/arrow-bench"
echo "== writing the 1M-row table with pyarrow"
HYPHA_SHARED_DIR="$shared" "$py" "$here/make_table.py" "$work"
echo "== HyphaArrow"
"$here/.build/arrow-bench" "$work/bench.arrows" "$work/bench-lz4.arrows" "$work/bench-zstd.arrows"
echo "== pyarrow baseline (arrow_baseline.py bench)"
"$py" "$shared/tools/arrow_baseline.py" bench
