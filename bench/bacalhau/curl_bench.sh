#!/usr/bin/env bash
# Submit N distinct noop jobs with ONE curl process (a config file of N requests, so one
# kept-alive connection, sequential) and print one JSON line in bacalhau-bench's format.
#
#   curl_bench.sh ENDPOINT N [PARALLEL]     PARALLEL > 1 adds --parallel --parallel-max PARALLEL
set -euo pipefail
endpoint=${1:?endpoint}
jobs=${2:-2000}
parallel=${3:-1}
run="bench-curl-$(printf '%08x' $((RANDOM * 32768 + RANDOM)))"
url="${endpoint%/}/api/v1/orchestrator/jobs"
config=$(mktemp)
trap 'rm -f "$config"' EXIT
for ((i = 0; i < jobs; i++)); do
  printf 'url = "%s"\nrequest = "PUT"\nheader = "Content-Type: application/json"\noutput = "/dev/null"\n' "$url"
  printf 'data = "{\\"Job\\":{\\"Name\\":\\"%s-%d\\",\\"Type\\":\\"batch\\",\\"Count\\":1,\\"Labels\\":{\\"hypha-bench\\":\\"%s\\"},\\"Tasks\\":[{\\"Name\\":\\"main\\",\\"Engine\\":{\\"Type\\":\\"noop\\"}}]}}"\n' "$run" "$i" "$run"
  [[ $i -lt $((jobs - 1)) ]] && printf 'next\n'
done >"$config"
extra=()
[[ $parallel -gt 1 ]] && extra=(--parallel --parallel-max "$parallel")
start=$(date +%s.%N)
curl -s -f --no-progress-meter "${extra[@]}" -K "$config" 2>/dev/null || true
end=$(date +%s.%N)
listed=$(curl -s "$url?labels=hypha-bench%3D$run&namespace=*&limit=$((jobs * 2))")
read -r stored distinct < <(python3 -c 'import json,sys; n=[j["Name"] for j in json.load(sys.stdin)["Items"] or []]; print(len(n), len(set(n)))' <<<"$listed")
python3 - "$jobs" "$parallel" "$start" "$end" "$stored" "$distinct" "$(curl --version | head -1 | cut -d' ' -f1-2)" <<'PY'
import json, sys
jobs, parallel, start, end, stored, distinct, version = sys.argv[1:]
seconds = float(end) - float(start)
print(json.dumps({"client": version, "mode": "put" if parallel == "1" else "put-parallel", "jobs": int(jobs),
                  "concurrency": int(parallel), "seconds": round(seconds, 3), "per_second": int(int(jobs) / seconds),
                  "errors": int(jobs) - int(stored), "stored": int(stored), "distinct": int(distinct)},
                 separators=(",", ":")))
PY
