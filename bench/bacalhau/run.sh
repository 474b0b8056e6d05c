#!/usr/bin/env bash
# Job submissions per second against a fast loopback server (the release-built Bacalhau
# emulator, noop jobs, no rate limit), for the `bacalhau` plugin's client (URLSession),
# Python `requests` and one `curl` process, in the same run. Every client's jobs are listed
# back afterwards: each name must be there exactly once.
#
#   bench/bacalhau/run.sh [JOBS] [CONCURRENCY]        (defaults 5000 and 16)
#   EMULATOR=.build-bac/release/bacalhau-emulator bench/bacalhau/run.sh   (reuse a release build)
#
# Builds (release) the emulator into .build-bench and the benchmark package into
# bench/bacalhau/.build; makes bench/bacalhau/.venv with `requests`. Writes results.jsonl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jobs=${1:-5000}
concurrency=${2:-16}

emulator_bin=${EMULATOR:-}   # a release-built bacalhau-emulator, to skip building one
if [[ -z "$emulator_bin" ]]; then
  swift build -c release --package-path "$root" --scratch-path "$root/.build-bench" --product bacalhau-emulator >&2
  emulator_bin="$root/.build-bench/release/bacalhau-emulator"
fi
swift build -c release --package-path "$here" >&2
if [[ ! -x "$here/.venv/bin/python" ]]; then
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install --quiet requests >&2
fi

log=$(mktemp)
"$emulator_bin" --port 0 --rate-limit 0 >"$log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
endpoint="http://$(sed -n 's/^listening on //p' "$log")"
echo "emulator at $endpoint; $jobs jobs per client; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

bench="$here/.build/release/bacalhau-bench"
results="$here/results.jsonl"
: >"$results"
{
  "$bench" --endpoint "$endpoint" --jobs "$jobs" --concurrency "$concurrency" --mode put
  "$bench" --endpoint "$endpoint" --jobs "$jobs" --concurrency "$concurrency" --mode put --keep-alive-writes
  "$bench" --endpoint "$endpoint" --jobs "$jobs" --concurrency "$concurrency" --mode ensure
  "$bench" --endpoint "$endpoint" --jobs "$jobs" --concurrency 1 --mode put --keep-alive-writes
  "$here/.venv/bin/python" "$here/requests_bench.py" --endpoint "$endpoint" --jobs "$jobs" --concurrency 1
  "$here/.venv/bin/python" "$here/requests_bench.py" --endpoint "$endpoint" --jobs "$jobs" --concurrency "$concurrency"
  "$here/curl_bench.sh" "$endpoint" "$jobs" 1
  "$here/curl_bench.sh" "$endpoint" "$jobs" "$concurrency"
} | tee "$results"
curl -s "$endpoint/api/v1/emulator/stats" >&2
echo >&2
