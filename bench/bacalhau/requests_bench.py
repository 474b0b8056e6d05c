#!/usr/bin/env python3
"""Submit N distinct noop jobs (named RUN-0 ... RUN-(N-1)) to a Bacalhau API with Python
`requests` (one Session, so keep-alive, per thread) and print one JSON line in
bacalhau-bench's format. run.sh checks the server afterwards (verify.py).

    requests_bench.py --endpoint URL --jobs N --concurrency C --run RUN
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
    ap.add_argument("--run", default="bench-requests-%08x" % random.getrandbits(32))
    args = ap.parse_args()
    url = args.endpoint.rstrip("/") + "/api/v1/orchestrator/jobs"
    run = args.run
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

    print(json.dumps({"client": "python-requests %s" % requests.__version__, "mode": "put", "run": run,
                      "jobs": args.jobs, "concurrency": args.concurrency, "seconds": round(seconds, 3),
                      "per_second": int(args.jobs / seconds), "errors": len(state["errors"])},
                     separators=(",", ":")))


if __name__ == "__main__":
    main()
