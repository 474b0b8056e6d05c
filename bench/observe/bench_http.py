#!/usr/bin/env python3
"""The cost of being watched: jobs/s of a `hypha run --once` of 5,000 files with the
observability endpoint on (`--http`, a scraper reading /metrics every 100 ms) beside the same
run with it off, alternating, over several rounds in the same run.

    python3 bench/observe/bench_http.py [--hypha .build/release/hypha] [--files 5000] [--rounds 5]

The workflow is bench/core/bench.py's (file-watch -> arrow-decode -> template -> process of a
trivial C program, bench/core/stamp.c). jobs/s = files / (process start to exit), --no-state.
Build Hypha in release mode first: swift build -c release --product hypha
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "core"))
import bench  # noqa: E402  (bench/core/bench.py: the workflow and the stamp program)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scraper(threading.Thread):
    """Reads /metrics every `interval` seconds until stopped; counts the scrapes that answered."""

    def __init__(self, url, interval):
        super().__init__(daemon=True)
        self.url, self.interval, self.stopped, self.ok, self.bytes = url, interval, threading.Event(), 0, 0

    def run(self):
        while not self.stopped.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    self.bytes += len(response.read())
                    self.ok += 1
            except OSError:
                pass  # not up yet, or gone
            self.stopped.wait(max(0.0, self.interval - (time.monotonic() - started)))


def one_run(args, tmp, stamp, label, watched):
    base, inbox, _, log = bench.fresh(tmp, label)
    for i in range(args.files):
        open(os.path.join(inbox, f"z-{i:06d}.zip"), "w").close()
    wf = bench.workflow(base, inbox, stamp, log)
    argv = [args.hypha, "run", wf, "--once", "--no-state", "--no-progress", "--log-level", "error",
            "--run-dir", os.path.join(base, "run")]
    scraper = None
    if watched:
        port = free_port()
        argv += ["--http", f"127.0.0.1:{port}"]
        scraper = Scraper(f"http://127.0.0.1:{port}/metrics", args.interval)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if scraper:
        scraper.start()
    _, err = proc.communicate()
    elapsed = time.monotonic() - t0
    if scraper:
        scraper.stopped.set()
        scraper.join()
    if proc.returncode != 0:
        raise RuntimeError(f"hypha exited {proc.returncode}: {err.decode()[-2000:]}")
    jobs = len(bench.read_stamps(log))
    if jobs != args.files:
        raise RuntimeError(f"{label}: {jobs} jobs ran, not {args.files}")
    shutil.rmtree(base, ignore_errors=True)
    return {"seconds": elapsed, "jobs_per_s": jobs / elapsed, "scrapes": scraper.ok if scraper else 0,
            "scrape_bytes": scraper.bytes // max(1, scraper.ok) if scraper else 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hypha", default=os.path.join(ROOT, ".build", "release", "hypha"))
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between scrapes")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hypha-bench-observe-")
    try:
        stamp = bench.compile_stamp(tmp)
        off, on = [], []
        for i in range(args.rounds):
            # Alternate which goes first, so drift in the machine's speed falls on both alike.
            order = [("off", False), ("on", True)] if i % 2 == 0 else [("on", True), ("off", False)]
            for name, watched in order:
                r = one_run(args, tmp, stamp, f"{name}-{i}", watched)
                (on if watched else off).append(r)
                print(f"round {i + 1}  http {name:3}  {r['seconds']:6.2f} s  {r['jobs_per_s']:7.0f} jobs/s"
                      + (f"  {r['scrapes']} scrapes of {r['scrape_bytes']} bytes" if watched else ""), flush=True)
        off_rate = statistics.median(r["jobs_per_s"] for r in off)
        on_rate = statistics.median(r["jobs_per_s"] for r in on)
        cost = (off_rate - on_rate) / off_rate * 100
        # Each round's pair ran back to back: the median of their ratios is less exposed to the
        # machine's load changing between rounds.
        paired = (1 - statistics.median(a["jobs_per_s"] / b["jobs_per_s"] for a, b in zip(on, off))) * 100
        print(f"median of {args.rounds} rounds, {args.files} files: http off {off_rate:.0f} jobs/s; "
              f"http on + scraping every {args.interval * 1000:.0f} ms {on_rate:.0f} jobs/s; cost {cost:+.1f} % "
              f"(median of the rounds' paired ratios: {paired:+.1f} %)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
