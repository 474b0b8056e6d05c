#!/usr/bin/env python3
"""Reads a client's JSON line on stdin, checks on the server that each of its names
(RUN-0 ... RUN-(N-1)) was created exactly once, and prints the line with the check added:
`stored` (jobs of the run on the server), `repeats` (PUTs of a name already there) or, on
the emulator, `updated` (jobs past version 1). Exits 1 when the check fails.

    verify.py fast|emulator ENDPOINT < line
"""
import json
import sys
import urllib.parse
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=120) as reply:
        return json.load(reply)


def main():
    kind, endpoint = sys.argv[1], sys.argv[2].rstrip("/")
    line = json.loads(sys.stdin.read())
    run, jobs = line["run"], line["jobs"]
    if kind == "fast":
        stats = get(endpoint + "/stats?prefix=" + urllib.parse.quote(run + "-"))
        line["stored"], line["repeats"] = stats["prefix_stored"], stats["prefix_repeats"]
        ok = line["stored"] == jobs and line["repeats"] == 0
    else:
        query = urllib.parse.urlencode({"labels": "hypha-bench=" + run, "namespace": "*", "limit": jobs * 2})
        items = get(endpoint + "/api/v1/orchestrator/jobs?" + query).get("Items") or []
        names = [job["Name"] for job in items]
        line["stored"], line["distinct"] = len(names), len(set(names))
        line["updated"] = sum(1 for job in items if job.get("Version", 1) != 1)
        ok = line["stored"] == jobs and line["distinct"] == jobs and line["updated"] == 0
    ok = ok and line.get("errors", 0) == 0
    line["exactly_once"] = ok
    print(json.dumps(line, separators=(",", ":")))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
