#!/usr/bin/env bash
# Job submissions per second, for the `bacalhau` plugin's client (AsyncHTTPClient), Python
# `requests` and one `curl` process, in one run, against two servers:
#   1. fastserver.c: a tiny C stand-in for Bacalhau's PUT /jobs (a few µs per request), so
#      the figures measure the clients;
#   2. the release-built bacalhau-emulator (--rate-limit 0), for comparison.
# After each client, verify.py checks on the server that every name was created exactly once.
#
#   bench/bacalhau/run.sh [JOBS] [CONCURRENCY]        (defaults 5000 and 16)
#   EMULATOR=.build-bac/release/bacalhau-emulator bench/bacalhau/run.sh   (reuse a release build)
#   SERVERS=fast bench/bacalhau/run.sh                (only the fast server)
#
# Builds fastserver (cc -O2) and the benchmark package into bench/bacalhau/.build, the
# emulator (release) into .build-bench; makes bench/bacalhau/.venv with `requests`.
# Writes results.jsonl (not committed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jobs=${1:-5000}
concurrency=${2:-16}
servers=${SERVERS:-"fast emulator"}

mkdir -p "$here/.build"
cc -O2 -o "$here/.build/fastserver" "$here/fastserver.c"
emulator_bin=${EMULATOR:-}   # a release-built bacalhau-emulator, to skip building one
if [[ -z "$emulator_bin" && "$servers" == *emulator* ]]; then
  swift build -c release --package-path "$root" --scratch-path "$root/.build-bench" --product bacalhau-emulator >&2
  emulator_bin="$root/.build-bench/release/bacalhau-emulator"
fi
swift build -c release --package-path "$here" >&2
if [[ ! -x "$here/.venv/bin/python" ]]; then
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install --quiet requests >&2
fi

bench="$here/.build/release/bacalhau-bench"
python="$here/.venv/bin/python"
results="$here/results.jsonl"
: >"$results"
log=$(mktemp)
server=""
trap '[[ -n "$server" ]] && kill "$server" 2>/dev/null; rm -f "$log"' EXIT
status=0

# One client's line, checked on the server, tagged with the server and the load average.
check() {
  local kind=$1 line
  line=$("$python" "$here/verify.py" "$kind" "$endpoint") || status=1
  line=${line%\}}
  echo "$line,\"server\":\"$kind\",\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\"}" | tee -a "$results"
}

for kind in $servers; do
  if [[ $kind == fast ]]; then
    "$here/.build/fastserver" 0 >"$log" 2>&1 &
  else
    "$emulator_bin" --port 0 --rate-limit 0 >"$log" 2>&1 &
  fi
  server=$!
  for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
  endpoint="http://$(sed -n 's/^listening on //p' "$log")"
  echo "== $kind server at $endpoint; $jobs jobs per client; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  tag="$kind-$(printf '%08x' $((RANDOM * 32768 + RANDOM)))"
  "$bench" --endpoint "$endpoint" --jobs "$jobs" --concurrency "$concurrency" --mode put --run "$tag-put" | check "$kind"
  "$bench" --endpoint "$endpoint" --jobs "$jobs" --concurrency 1 --mode put --run "$tag-put1" | check "$kind"
  "$bench" --endpoint "$endpoint" --jobs "$jobs" --concurrency "$concurrency" --mode ensure --run "$tag-ensure" | check "$kind"
  "$bench" --endpoint "$endpoint" --jobs "$jobs" --concurrency "$concurrency" --mode ensure-lookup --run "$tag-lookup" | check "$kind"
  "$python" "$here/requests_bench.py" --endpoint "$endpoint" --jobs "$jobs" --concurrency 1 --run "$tag-req1" | check "$kind"
  "$python" "$here/requests_bench.py" --endpoint "$endpoint" --jobs "$jobs" --concurrency "$concurrency" --run "$tag-req" | check "$kind"
  "$here/curl_bench.sh" "$endpoint" "$jobs" 1 "$tag-curl1" | check "$kind"
  "$here/curl_bench.sh" "$endpoint" "$jobs" "$concurrency" "$tag-curl" | check "$kind"
  if [[ $kind == fast ]]; then curl -s "$endpoint/stats" >&2; else curl -s "$endpoint/api/v1/emulator/stats" >&2; fi
  echo >&2
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
done
exit $status
