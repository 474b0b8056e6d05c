#!/usr/bin/env bash
# Submit N distinct noop jobs (RUN-0 ... RUN-(N-1)) with ONE curl process (a config file of N
# requests, so one kept-alive connection, sequential) and print one JSON line in
# bacalhau-bench's format. run.sh checks the server afterwards (verify.py).
#
#   curl_bench.sh ENDPOINT N [PARALLEL] [RUN]     PARALLEL > 1 adds --parallel --parallel-max PARALLEL
set -euo pipefail
endpoint=${1:?endpoint}
jobs=${2:-2000}
parallel=${3:-1}
run=${4:-"bench-curl-$(printf '%08x' $((RANDOM * 32768 + RANDOM)))"}
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
python3 - "$jobs" "$parallel" "$start" "$end" "$run" "$(curl --version | head -1 | cut -d' ' -f1-2)" <<'PY'
import json, sys
jobs, parallel, start, end, run, version = sys.argv[1:]
seconds = float(end) - float(start)
print(json.dumps({"client": version, "mode": "put" if parallel == "1" else "put-parallel", "run": run,
                  "jobs": int(jobs), "concurrency": int(parallel), "seconds": round(seconds, 3),
                  "per_second": int(int(jobs) / seconds), "errors": 0}, separators=(",", ":")))
PY
