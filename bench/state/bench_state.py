#!/usr/bin/env python3
"""What the state store costs, with the same trivial job as bench/core/bench.py.

    python3 bench/state/bench_state.py [--hypha PATH] [--files N] [--rounds R] [--handled N] [--json FILE]

  throughput  N files (default 5,000) moved into a watched folder at once, a trivial job each:
              jobs/s with the state store and with --no-state, in alternating rounds (default 3),
              medians reported.
  startup     a folder of --handled files (default 100,000) that an earlier run handled; hypha
              starts watching it and one new file is moved in at that moment: seconds from the
              start to that file's job starting (the scan must skip every handled file).
  size        the state database's size after that earlier run, per 10,000 files.

Build Hypha in release mode first: swift build -c release --product hypha
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "core"))
import bench  # noqa: E402  (bench/core/bench.py: the stamp job, the workflow, the throughput case)


def throughput(tmp, args, stamp, with_state):
    """bench.throughput for Hypha, with or without its state store."""
    original = bench.make_runner

    def runner(kind, tmp_, inbox, stamp_, log, hypha, python):
        wf = bench.workflow(tmp_, inbox, stamp_, log)
        argv = [hypha, "run", wf, "--no-progress", "--log-level", "error", "--run-dir", os.path.join(tmp_, "run")]
        argv += ["--state-dir", os.path.join(tmp_, "state")] if with_state else ["--no-state"]
        return bench.Runner("hypha" + ("" if with_state else " --no-state"), argv)

    bench.make_runner = runner
    try:
        return bench.throughput("hypha", tmp, args, stamp, args.files)
    finally:
        bench.make_runner = original


def startup(tmp, args, stamp):
    base, inbox, staging, log = bench.fresh(tmp, "startup")
    for i in range(args.handled):
        open(os.path.join(inbox, f"h-{i:06d}.zip"), "w").close()
    wf = bench.workflow(base, inbox, stamp, log)
    state = os.path.join(base, "state")
    common = ["--no-progress", "--log-level", "error", "--state-dir", state]
    t = time.time()
    subprocess.run([args.hypha, "run", wf, "--once", "--run-dir", os.path.join(base, "run0")] + common, check=True)
    first_run = time.time() - t
    handled = len(bench.read_stamps(log))
    db = os.path.join(state, "state.db")
    # Checkpoint the WAL into the database so its size is the data's.
    subprocess.run(["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_checkpoint(TRUNCATE)')", db],
                   check=True)
    size = os.path.getsize(db)

    new = os.path.join(staging, "new.zip")
    open(new, "w").close()
    t0 = time.time()
    proc = subprocess.Popen([args.hypha, "run", wf, "--run-dir", os.path.join(base, "run1")] + common,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    os.rename(new, os.path.join(inbox, "new.zip"))
    target = os.path.join(inbox, "new.zip")
    deadline = t0 + 60
    started = None
    follower = bench.StampFollower(log)
    while time.time() < deadline and started is None:
        started = follower.read().get(target)
        time.sleep(0.01)
    proc.terminate()
    proc.wait()
    again = sum(1 for k in bench.read_stamps(log) if "/h-" in k) - handled
    return {"handled": handled, "first_run_s": first_run, "new_file_job_after_s": (started - t0) if started else None,
            "handled_run_again": again, "db_bytes": size, "db_bytes_per_10k_files": size * 10_000 / max(1, args.handled)}


def main():
    ap = argparse.ArgumentParser(description="State store benchmarks")
    ap.add_argument("--hypha", default=os.path.join(bench.ROOT, ".build", "release", "hypha"))
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--handled", type=int, default=100_000)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--json")
    args = ap.parse_args()
    results = {"throughput": [], "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="hypha-state-bench-") as tmp:
        stamp = bench.compile_stamp(tmp)
        for r in range(args.rounds):
            for with_state in (True, False):
                res = throughput(tmp, args, stamp, with_state)
                res["round"] = r + 1
                results["throughput"].append(res)
                print(f"throughput  round {r + 1}  {res['runner']:18} {res['files']} files  {res['jobs_per_s']:7.0f} jobs/s  lost {res['lost']}",
                      flush=True)
        for name in ("hypha", "hypha --no-state"):
            runs = [x["jobs_per_s"] for x in results["throughput"] if x["runner"] == name]
            print(f"throughput  {name:18} median {statistics.median(runs):7.0f} jobs/s over {len(runs)} rounds", flush=True)
        s = startup(tmp, args, stamp)
        results["startup"] = s
        print(f"startup     {s['handled']} handled files (first run {s['first_run_s']:.1f} s): the new file's job started "
              f"{s['new_file_job_after_s']:.3f} s after hypha started; handled files run again: {s['handled_run_again']}", flush=True)
        print(f"size        state.db {s['db_bytes'] / 1e6:.1f} MB for {s['handled']} files: "
              f"{s['db_bytes_per_10k_files'] / 1e6:.2f} MB per 10,000 files", flush=True)
    results["load_after"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
