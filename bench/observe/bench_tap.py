#!/usr/bin/env python3
"""The cost of a tap (`hypha tap`, /api/v1/tap/NODE) on throughput: the same run with the
endpoint off, with it on and nobody tapping (idle), and with a reader tapping `decode` (active),
alternating over several rounds in the same run.

    python3 bench/observe/bench_tap.py [--hypha .build/release/hypha] [--workload records|jobs]
                                       [--rows N] [--rounds 5] [--baseline OLD_HYPHA]

records: arrow-http -> arrow-decode -> capture; one `hypha send` of N rows (default 100,000),
         timed from the send to the capture sink's last line: records/s through the tapped node.
jobs:    arrow-http -> arrow-decode -> template -> process of bench/core/stamp.c; N rows (default
         5,000), timed from the send to the last job's stamp: jobs/s.
--baseline adds a fourth variant, another Hypha binary (one built before the tap) with the
endpoint on: beside `idle`, the cost of the tap's hook alone, not of the endpoint.
The active reader is a Python thread reading the tap's event stream as fast as it can; what it
could not take in time is dropped by Hypha and counted (printed per round). Build Hypha in
release mode first: swift build -c release --product hypha
"""
import argparse
import json
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
import bench  # noqa: E402  (bench/core/bench.py: the stamp program and its log)
from bench_http import free_port  # noqa: E402


def workflow(base, workload, source_port, stamp):
    """arrow-http -> arrow-decode -> capture (records), or -> template -> process of stamp (jobs)."""
    head, tail = "", "  out: { plugin: capture, from: decode, path: captured.jsonl }\n"
    if workload == "jobs":
        store = os.path.join(base, "jobstore")
        os.makedirs(store, exist_ok=True)
        with open(os.path.join(store, "stamp.yml"), "w") as fh:
            fh.write(f"""Type: batch
Count: 1
Tasks:
  - Name: stamp
    Engine:
      Type: process
      Params:
        Name: {stamp}
        Arguments: ["{os.path.join(base, 'stamps.log')}", "{{{{ n }}}}"]
""")
        head = f"jobstore: {store}\n"
        tail = "  spec: { plugin: template, from: decode, job: stamp }\n  run: { plugin: process, from: spec }\n"
    path = os.path.join(base, "tap-bench.yml")
    with open(path, "w") as fh:
        fh.write(head + f"""name: tap-bench
nodes:
  incoming: {{ plugin: arrow-http, port: {source_port}, accept_timeout: 60 }}
  decode: {{ plugin: arrow-decode, from: incoming }}
""" + tail)
    return path


class TapReader(threading.Thread):
    """Reads /api/v1/tap/NODE as fast as it can: counts records and the drops Hypha reports."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.records, self.dropped = url, 0, 0
        self.connected = threading.Event()

    def run(self):
        try:
            with urllib.request.urlopen(self.url, timeout=600) as response:
                event = ""
                for raw in response:
                    line = raw.rstrip(b"\n")
                    if line.startswith(b"event: "):
                        event = line[7:].decode()
                    elif line.startswith(b"data: "):
                        if event == "tap":
                            self.connected.set()
                        elif event == "dropped":
                            self.dropped += json.loads(line[6:])["dropped"]
                        elif event == "":
                            self.records += 1
                    elif not line:
                        event = ""
        except OSError:
            pass  # the run ended
        self.connected.set()


def wait_for_port(port, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


class LineCounter:
    """Counts the lines of a growing file, reading only what was added since the last call."""

    def __init__(self, path):
        self.path, self.handle, self.lines = path, None, 0

    def count(self):
        if self.handle is None:
            try:
                self.handle = open(self.path, "rb")
            except FileNotFoundError:
                return 0
        while chunk := self.handle.read(1 << 20):
            self.lines += chunk.count(b"\n")
        return self.lines

    def close(self):
        if self.handle:
            self.handle.close()


def one_run(args, tmp, stamp, rows_file, variant):
    base = os.path.join(tmp, variant)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    source_port = free_port()
    wf = workflow(base, args.workload, source_port, stamp)
    argv = [args.baseline if variant == "baseline" else args.hypha, "run", wf, "--no-state", "--no-progress", "--log-level", "error", "--run-dir", os.path.join(base, "run")]
    http_port = free_port()
    if variant != "off":
        argv += ["--http", f"127.0.0.1:{http_port}"]
    proc = subprocess.Popen(argv, cwd=base, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    reader = None
    try:
        wait_for_port(source_port)
        if variant == "tap":
            reader = TapReader(f"http://127.0.0.1:{http_port}/api/v1/tap/decode")
            reader.start()
            if not reader.connected.wait(60):
                raise RuntimeError("the tap never connected")
        done = LineCounter(os.path.join(base, "captured.jsonl" if args.workload == "records" else "stamps.log"))
        t0 = time.monotonic()
        sent = subprocess.run([args.hypha, "send", f"http://127.0.0.1:{source_port}/arrow", rows_file, "--timeout", "600"],
                              capture_output=True)
        if sent.returncode != 0:
            raise RuntimeError(f"hypha send failed: {sent.stderr.decode()}")
        while done.count() < args.rows:
            if proc.poll() is not None:
                raise RuntimeError(f"hypha exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.005)
        elapsed = time.monotonic() - t0
        done.close()
    finally:
        proc.terminate()
        proc.wait()
    if reader:
        reader.join(30)
    shutil.rmtree(base, ignore_errors=True)
    return {"seconds": elapsed, "rate": args.rows / elapsed,
            "tapped": reader.records if reader else 0, "dropped": reader.dropped if reader else 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hypha", default=os.path.join(ROOT, ".build", "release", "hypha"))
    ap.add_argument("--workload", choices=["records", "jobs"], default="records")
    ap.add_argument("--rows", type=int)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline", help="another hypha binary, run with the endpoint on (nobody tapping)")
    args = ap.parse_args()
    args.hypha = os.path.abspath(args.hypha)
    args.rows = args.rows or (100_000 if args.workload == "records" else 5_000)
    unit = "records/s" if args.workload == "records" else "jobs/s"
    tmp = tempfile.mkdtemp(prefix="hypha-bench-tap-")
    try:
        stamp = bench.compile_stamp(tmp)
        rows_file = os.path.join(tmp, "rows.jsonl")
        with open(rows_file, "w") as fh:
            for n in range(args.rows):
                fh.write(json.dumps({"n": n, "path": f"/data/inbox/file-{n:06d}.zip", "size": n * 7}) + "\n")
        results = {"off": [], "idle": [], "tap": []}
        if args.baseline:
            args.baseline = os.path.abspath(args.baseline)
            results["baseline"] = []
        variants = list(results)
        for i in range(args.rounds):
            # Rotate which goes first, so drift in the machine's speed falls on all alike.
            k = i % len(variants)
            for variant in variants[k:] + variants[:k]:
                r = one_run(args, tmp, stamp, rows_file, variant)
                results[variant].append(r)
                extra = f"  tapped {r['tapped']}, dropped {r['dropped']}" if variant == "tap" else ""
                print(f"round {i + 1}  {variant:8}  {r['seconds']:6.2f} s  {r['rate']:9.0f} {unit}{extra}", flush=True)
        median = {v: statistics.median(r["rate"] for r in rs) for v, rs in results.items()}

        def paired(v, to="off"):
            return (1 - statistics.median(a["rate"] / b["rate"] for a, b in zip(results[v], results[to]))) * 100
        print(f"median of {args.rounds} rounds, {args.rows} rows ({args.workload}): off {median['off']:.0f} {unit}; "
              f"idle {median['idle']:.0f} ({paired('idle'):+.1f} %); tap {median['tap']:.0f} ({paired('tap'):+.1f} %)"
              + (f"; baseline {median['baseline']:.0f} ({paired('baseline'):+.1f} %); idle beside baseline "
                 f"{paired('idle', 'baseline'):+.1f} %" if args.baseline else "")
              + " [cost: median of the rounds' paired ratios to off]")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
