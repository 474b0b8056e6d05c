#!/usr/bin/env bash
# Build the libFuzzer harness for the HyphaArrow reader and fuzz for a bounded time.
#   fuzz/run.sh [SECONDS]   (default 60)
# Seeds: arrow-testing's IPC fuzz corpus, the gold files and pyarrow fixtures from
# ../shared/reference (required) plus fuzz/seeds/. New corpus entries go to
# fuzz/.corpus (git-ignored), crashes to fuzz/artifacts/. Exit status != 0 on a crash.
set -euo pipefail
seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
shared="${HYPHA_SHARED_DIR:-$root/../shared}"
build="$here/.build"
bin="$build/arrow-fuzz"
mkdir -p "$build" "$here/.corpus" "$here/artifacts"

sources=("$root"/Sources/Arrow/*.swift "$here/FuzzMain.swift")
if [ ! -x "$bin" ] || [ -n "$(find "${sources[@]}" -newer "$bin" 2>/dev/null | head -1)" ]; then
    echo "== building $bin"
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name ArrowFuzz \
        "${sources[@]}" -o "$bin"
fi

# Every seed folder must be there: a fuzz run without its corpus would look the same and find less.
seeds=()
gold="$shared/reference/arrow-testing/data/arrow-ipc-stream/integration/cpp-21.0.0"
for d in "$here/seeds" \
         "$shared/reference/arrow-testing/fuzz/arrow-ipc-stream" \
         "$shared/reference/arrow-testing/fuzz/arrow-ipc-file" \
         "$shared/reference/pyarrow-generated" "$gold"; do
    if [ ! -d "$d" ]; then
        echo "fuzz/run.sh: seed folder $d is missing (set HYPHA_SHARED_DIR to the folder holding reference/)" >&2
        exit 2
    fi
done
seeds+=("$here/seeds" "$shared/reference/arrow-testing/fuzz/arrow-ipc-stream"
        "$shared/reference/arrow-testing/fuzz/arrow-ipc-file" "$shared/reference/pyarrow-generated")
# gold files (small ones) as extra seeds
mkdir -p "$build/gold-seeds"
find "$gold" -name '*.stream' -size -64k -exec cp -f {} "$build/gold-seeds/" \;
find "$gold" -name '*.arrow_file' -size -64k -exec cp -f {} "$build/gold-seeds/" \;
seeds+=("$build/gold-seeds")

echo "== fuzzing for ${seconds}s (seeds: ${#seeds[@]} folders)"
cd "$here"
ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1" \
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$here/artifacts/" \
    "$here/.corpus" "${seeds[@]}"
