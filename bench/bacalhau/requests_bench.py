#!/usr/bin/env python3
"""Submit N distinct noop jobs to a Bacalhau API with Python `requests` (one Session, so
keep-alive, per thread) and print one JSON line in bacalhau-bench's format.

    requests_bench.py --endpoint URL --jobs N --concurrency C
"""
import argparse
import json
import random
import threading
import time

import requests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=1)
    args = ap.parse_args()
    url = args.endpoint.rstrip("/") + "/api/v1/orchestrator/jobs"
    run = "bench-requests-%08x" % random.getrandbits(32)
    lock = threading.Lock()
    state = {"next": 0, "errors": []}

    def worker():
        session = requests.Session()
        while True:
            with lock:
                index = state["next"]
                state["next"] += 1
            if index >= args.jobs:
                return
            job = {"Name": "%s-%d" % (run, index), "Type": "batch", "Count": 1,
                   "Labels": {"hypha-bench": run},
                   "Tasks": [{"Name": "main", "Engine": {"Type": "noop"}}]}
            try:
                reply = session.put(url, json={"Job": job}, timeout=30)
                if reply.status_code != 200:
                    with lock:
                        state["errors"].append("HTTP %d" % reply.status_code)
            except requests.RequestException as error:
                with lock:
                    state["errors"].append(str(error))

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started

    listed = requests.get(url, params={"labels": "hypha-bench=" + run, "namespace": "*",
                                       "limit": args.jobs * 2}, timeout=60).json().get("Items") or []
    names = [j["Name"] for j in listed]
    print(json.dumps({"client": "python-requests %s" % requests.__version__, "mode": "put",
                      "jobs": args.jobs, "concurrency": args.concurrency, "seconds": round(seconds, 3),
                      "per_second": int(args.jobs / seconds), "errors": len(state["errors"]),
                      "stored": len(names), "distinct": len(set(names))}, separators=(",", ":")))


if __name__ == "__main__":
    main()
