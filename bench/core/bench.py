#!/usr/bin/env python3
"""Hypha core benchmarks, with the peers run beside Hypha on the same machine in the same run.

    python3 bench/core/bench.py [--hypha PATH] [latency] [throughput] [overhead] [--files N] [--big N]

  latency     rename of a zip into the watched folder -> its job process starting, p50/p99 over
              200 files, Hypha vs `inotifywait -m | while read` starting the same command; in
              --rounds rounds (default 5) that alternate the two, reported as medians over rounds.
  throughput  5,000 zips moved in at once, a trivial job each: jobs/s and files lost, Hypha vs the
              inotifywait loop vs Python watchdog starting a subprocess per event; then Hypha alone
              at 20,000 files (past the kernel's default queue of 16,384 events).
  overhead    100 zips through extract -> aggregate with max_parallel 1 and trivial jobs (200 jobs),
              vs a bash loop running the same 200 commands one after another.

The trivial job is bench/core/stamp.c (compiled here with cc -O2): it appends its start time and
its argument to a log. Build Hypha in release mode first:
    swift build -c release --product hypha
Peers: apt-get install inotify-tools; pip install watchdog (in the venv given by --python).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEERS = os.path.join(ROOT, "bench", "peers")


def compile_stamp(tmp):
    exe = os.path.join(tmp, "stamp")
    subprocess.run(["cc", "-O2", "-o", exe, os.path.join(ROOT, "bench", "core", "stamp.c")], check=True)
    return exe


def read_stamps(log):
    """{argument: start time (s)} from a stamp log."""
    out = {}
    try:
        with open(log) as fh:
            for line in fh:
                t, _, arg = line.rstrip("\n").partition("\t")
                if arg and arg not in out:
                    out[arg] = float(t)
    except FileNotFoundError:
        pass
    return out


class StampFollower:
    """Reads a stamp log as it grows: each call returns only the lines added since the last."""

    def __init__(self, log):
        self.log, self.offset, self.partial = log, 0, ""

    def read(self):
        out = {}
        try:
            with open(self.log) as fh:
                fh.seek(self.offset)
                chunk = fh.read()
                self.offset = fh.tell()
        except FileNotFoundError:
            return out
        lines = (self.partial + chunk).split("\n")
        self.partial = lines.pop()
        for line in lines:
            t, _, arg = line.partition("\t")
            if arg and arg not in out:
                out[arg] = float(t)
        return out


def workflow(tmp, inbox, stamp, log, chain=False, parallel=None):
    """A Hypha workflow: file-watch -> arrow-decode -> template -> process (-> template -> process)."""
    store = os.path.join(tmp, "jobstore")
    os.makedirs(store, exist_ok=True)
    for name, arg in (("first", "{{ path }}"), ("second", "{{ record.path }}#2")):
        with open(os.path.join(store, name + ".yml"), "w") as fh:
            fh.write(f"""Type: batch
Count: 1
Tasks:
  - Name: {name}
    Engine:
      Type: process
      Params:
        Name: {stamp}
        Arguments: ["{log}", "{arg}"]
""")
    par = f"\n    max_parallel: {parallel}" if parallel else ""
    text = f"""name: bench
jobstore: {store}
nodes:
  files:
    plugin: file-watch
    path: {inbox}
    pattern: "*.zip"
  decode:
    plugin: arrow-decode
    from: files
  first-spec:
    plugin: template
    from: decode
    job: first
  first:
    plugin: process
    from: first-spec{par}
"""
    if chain:
        text += f"""  second-spec:
    plugin: template
    from: first
    job: second
  second:
    plugin: process
    from: second-spec{par}
"""
    path = os.path.join(tmp, "bench.yml")
    with open(path, "w") as fh:
        fh.write(text)
    return path


class Runner:
    """A watcher process (Hypha or a peer) that starts `stamp LOG PATH` for each new zip."""

    def __init__(self, name, argv, env=None):
        self.name, self.argv = name, argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, env=env)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def make_runner(kind, tmp, inbox, stamp, log, hypha, python):
    if kind == "hypha":
        wf = workflow(tmp, inbox, stamp, log)
        return Runner("hypha", [hypha, "run", wf, "--no-progress", "--log-level", "error", "--run-dir", os.path.join(tmp, "run")])
    if kind == "inotifywait":
        return Runner("inotifywait loop", ["bash", os.path.join(PEERS, "inotify_loop.sh"), inbox, stamp, log])
    if kind == "watchdog":
        return Runner("python watchdog", [python, os.path.join(PEERS, "watchdog_runner.py"), inbox, stamp, log])
    raise ValueError(kind)


def wait_ready(runner, inbox, staging, log, timeout=20):
    """Drops warm-up files until the runner has started a job for one."""
    deadline = time.time() + timeout
    i = 0
    while time.time() < deadline:
        name = f"warmup-{i}.zip"
        src = os.path.join(staging, name)
        open(src, "w").close()
        os.rename(src, os.path.join(inbox, name))
        for _ in range(50):
            if any(k.endswith(name) for k in read_stamps(log)):
                return
            time.sleep(0.01)
        i += 1
    raise RuntimeError(f"{runner.name} did not start")


def fresh(tmp, label):
    base = os.path.join(tmp, label)
    shutil.rmtree(base, ignore_errors=True)
    inbox, staging = os.path.join(base, "inbox"), os.path.join(base, "staging")
    os.makedirs(inbox)
    os.makedirs(staging)
    return base, inbox, staging, os.path.join(base, "stamps.log")


def pct(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def latency(kind, tmp, args, stamp, n=200, spacing=0.025):
    """Renames n files one at a time, `spacing` apart, and reads the stamp log afterwards.

    The log is read only once all files are in: polling it while jobs start would take a core
    away from the watcher being measured (Hypha and the peers alike)."""
    base, inbox, staging, log = fresh(tmp, f"lat-{kind}")
    runner = make_runner(kind, base, inbox, stamp, log, args.hypha, args.python)
    try:
        wait_ready(runner, inbox, staging, log)
        renamed = {}
        for i in range(n):
            name = f"f-{i:05d}.zip"
            src, dst = os.path.join(staging, name), os.path.join(inbox, name)
            with open(src, "w") as fh:
                fh.write("x")
            renamed[dst] = time.time()
            os.rename(src, dst)
            time.sleep(spacing)
        deadline = time.time() + 5
        while time.time() < deadline and not all(k in read_stamps(log) for k in renamed):
            time.sleep(0.05)
        stamps = read_stamps(log)
        samples = [(stamps[k] - t0) * 1000 for k, t0 in renamed.items() if k in stamps]
        lost = n - len(samples)
        return {"runner": runner.name, "p50_ms": pct(samples, 50), "p99_ms": pct(samples, 99), "lost": lost, "n": n}
    finally:
        runner.stop()


def throughput(kind, tmp, args, stamp, n):
    base, inbox, staging, log = fresh(tmp, f"tp-{kind}-{n}")
    for i in range(n):
        open(os.path.join(staging, f"z-{i:06d}.zip"), "w").close()
    runner = make_runner(kind, base, inbox, stamp, log, args.hypha, args.python)
    try:
        wait_ready(runner, inbox, staging, log)
        t0 = time.time()
        for i in range(n):
            name = f"z-{i:06d}.zip"
            os.rename(os.path.join(staging, name), os.path.join(inbox, name))
        moved = time.time()
        # Follow the log incrementally: re-reading it whole every poll would take CPU from the
        # runner being measured.
        stamps, follower = {}, StampFollower(log)
        last_change = time.time()
        while len(stamps) < n:
            fresh_stamps = {k: v for k, v in follower.read().items() if "/z-" in k and k not in stamps}
            if fresh_stamps:
                stamps.update(fresh_stamps)
                last_change = time.time()
            elif time.time() - last_change > 10:
                break
            time.sleep(0.1)
        done = max(stamps.values()) if stamps else time.time()
        return {"runner": runner.name, "files": n, "jobs_per_s": len(stamps) / (done - t0), "lost": n - len(stamps),
                "seconds": done - t0, "move_seconds": moved - t0}
    finally:
        runner.stop()


def overhead(tmp, args, stamp, n=100):
    base, inbox, staging, log = fresh(tmp, "overhead")
    for i in range(n):
        open(os.path.join(inbox, f"o-{i:04d}.zip"), "w").close()
    wf = workflow(base, inbox, stamp, log, chain=True, parallel=1)
    t0 = time.time()
    subprocess.run([args.hypha, "run", wf, "--once", "--no-progress", "--log-level", "error", "--run-dir",
                    os.path.join(base, "run")], check=True, stdout=subprocess.DEVNULL)
    hypha_s = time.time() - t0
    stamps = read_stamps(log)
    jobs = len(stamps)
    # The same 200 commands, one after another, from a bash loop.
    commands = os.path.join(base, "commands.tsv")
    log2 = os.path.join(base, "loop.log")
    with open(commands, "w") as fh:
        for i in range(n):
            path = os.path.join(inbox, f"o-{i:04d}.zip")
            fh.write(f"{stamp}\t{log2}\t{path}\n{stamp}\t{log2}\t{path}#2\n")
    t0 = time.time()
    subprocess.run(["bash", os.path.join(PEERS, "bash_sequential.sh"), commands], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    loop_s = time.time() - t0
    # Hypha's start-up alone (load, check, start, find nothing, drain), to separate it out.
    empty = os.path.join(base, "empty")
    os.makedirs(empty)
    os.makedirs(os.path.join(base, "e"))
    wf_empty = workflow(os.path.join(base, "e"), empty, stamp, log, chain=True, parallel=1)
    t0 = time.time()
    subprocess.run([args.hypha, "run", wf_empty, "--once", "--no-progress", "--log-level", "error", "--run-dir",
                    os.path.join(base, "run-empty")], check=True, stdout=subprocess.DEVNULL)
    startup_s = time.time() - t0
    return {"jobs": jobs, "hypha_s": hypha_s, "loop_s": loop_s, "startup_s": startup_s,
            "overhead_ms_per_job": (hypha_s - loop_s) * 1000 / (2 * n),
            "overhead_ms_per_job_after_startup": (hypha_s - startup_s - loop_s) * 1000 / (2 * n)}


def main():
    ap = argparse.ArgumentParser(description="Hypha core benchmarks")
    ap.add_argument("which", nargs="*", default=["latency", "throughput", "overhead"])
    ap.add_argument("--hypha", default=os.path.join(ROOT, ".build", "release", "hypha"))
    ap.add_argument("--python", default=sys.executable, help="a python with watchdog installed")
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--big", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5, help="latency: rounds of Hypha then the loop (medians reported)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hypha-bench-")
    stamp = compile_stamp(tmp)
    results = {}
    try:
        if "latency" in args.which:
            # Rounds alternate Hypha and the loop, so drift in the machine's speed (other VMs on
            # the host, CPU idle states) falls on both alike; the figures are medians over rounds.
            rounds = []
            for i in range(args.rounds):
                pair = [latency(k, tmp, args, stamp) for k in ("hypha", "inotifywait")]
                rounds.append(pair)
                if args.rounds > 1:
                    print("latency     round %d: " % (i + 1) + "; ".join(
                        f"{r['runner']} p50 {r['p50_ms']:.3f} p99 {r['p99_ms']:.3f}" for r in pair), flush=True)
            results["latency"] = []
            for j in range(2):
                runs = [pair[j] for pair in rounds]
                results["latency"].append({
                    "runner": runs[0]["runner"], "n": runs[0]["n"], "rounds": len(runs),
                    "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                    "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                    "lost": sum(r["lost"] for r in runs), "per_round": runs})
            for r in results["latency"]:
                print(f"latency     {r['runner']:18} p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  lost {r['lost']}/{r['n'] * r['rounds']}"
                      + (f"  (medians of {r['rounds']} rounds)" if r["rounds"] > 1 else ""), flush=True)
        if "throughput" in args.which:
            results["throughput"] = [throughput(k, tmp, args, stamp, args.files) for k in ("hypha", "inotifywait", "watchdog")]
            results["throughput"].append(throughput("hypha", tmp, args, stamp, args.big))
            for r in results["throughput"]:
                print(f"throughput  {r['runner']:18} {r['files']:6} files  {r['jobs_per_s']:8.0f} jobs/s  lost {r['lost']}", flush=True)
        if "overhead" in args.which:
            r = overhead(tmp, args, stamp)
            results["overhead"] = r
            print(f"overhead    hypha {r['hypha_s']:.3f} s for {r['jobs']} jobs; bash loop {r['loop_s']:.3f} s; "
                  f"hypha start-up {r['startup_s']:.3f} s; overhead {r['overhead_ms_per_job']:.3f} ms/job "
                  f"({r['overhead_ms_per_job_after_startup']:.3f} ms/job without start-up)", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
