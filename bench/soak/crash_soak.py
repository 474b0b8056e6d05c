#!/usr/bin/env python3
"""Crash soak: kill -9 Hypha again and again while it works, then check that nothing was lost,
that no job ran again after its completion was recorded, and that no job outlived its Hypha.

    python3 bench/soak/crash_soak.py [--trials 20] [--zips 200] [--seed 1] [--bacalhau]
                                     [--scenarios crash,idle,rewrite] [--json FILE] [--keep]

In a temporary folder it makes N sample zips (scripts/make_sample_zips.py), a copy of the
jobstore whose two jobs (extract, aggregate) first run a marker wrapper (marker.py, written there),
and a copy of workflows/extract-aggregate.yml pointing at that jobstore. The wrapper appends
`KIND<TAB>ZIP|SIZE|MODIFIED<TAB>START_UNIX_TIME` to a markers file, sleeps a little (--job-sleep,
random, so kills often land mid-job), then execs the real job (python3 scripts/extract.py ... or
scripts/aggregate.py ..., arguments as in the original templates, --within included).

Scenarios (all three by default, in this order, on the same state folder):

  crash    `hypha run` (watch mode) is started and SIGKILLed at a random moment (uniform in
           --kill-window, seeded by --seed), then started again, --trials times; after each kill
           the soak checks, for up to 5 s, that no process carrying HYPHA_JOB_OF=<state folder>
           in /proc/PID/environ remains (the job guard must end them). Then `hypha run --once`
           finishes. Checks: every zip has WORK/STEM/report.json equal to an independent
           computation (zipfile + csv here: count/sum/min/max of `amount` by `category`), none
           skipped; for each completed job of the journal (STATE/state.db), no marker of it starts
           after its recorded `ended` (a run after recorded completion; the earliest `ended` seen
           in the journal read after every kill and every --once, since a second completion
           would overwrite it); jobs run more than once (killed mid-run) are counted; one more
           `hypha run --once` runs no job (`jobs: 0 completed`, markers unchanged).
  idle     restart with nothing new: 3 x `hypha run --once` and 3 x watch mode killed after 1.5 s;
           no marker may appear, every report stays right.
  rewrite  --rewrite zips are rewritten in place (same inode, new bytes, new size and mtime), then
           `hypha run --once`: exactly their two jobs run again, once each, and no other job;
           their reports follow the new data, the others stay right.
  reprocess  (not run by default) a check of the soak itself: `hypha run --once --reprocess` runs
           every job again on purpose, so the detector must flag every job as run after its
           recorded completion; the scenario passes when it does.

--bacalhau runs the same jobs with `--profile cluster` against the emulator, started once
(`--port 0 --fail-rate 0.1 --drop-rate 0.05 --state FILE`) and kept running across the kills; it
also checks, through GET /api/v1/orchestrator/jobs (paged with next_token, retried through the
injected faults), that every job name was created once, at version 1. In that mode the jobs run
as the emulator's local processes, so the markers work the same; they are the emulator's
children, not Hypha's, so they are meant to keep running when Hypha dies.

Uses only the Python standard library. Does not build anything: give --hypha and --emulator.
"""
import argparse
import collections
import csv
import io
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The wrapper each job runs first. Its marker line is one write(2) on an O_APPEND descriptor,
# far below PIPE_BUF, so lines from parallel jobs never interleave.
MARKER_PY = r'''#!/usr/bin/env python3
"""marker.py KIND KEY MARKERS SLEEP_MIN SLEEP_MAX -- PROGRAM ARGS...: note the start, nap, exec."""
import os, random, sys, time
kind, key, markers, lo, hi, sep = sys.argv[1:7]
assert sep == "--", sys.argv
line = "%s\t%s\t%.6f\n" % (kind, key, time.time())
fd = os.open(markers, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, line.encode())
os.close(fd)
time.sleep(random.uniform(float(lo), float(hi)))
os.execvp(sys.argv[7], sys.argv[7:])
'''


# ----------------------------------------------------------------------------- set-up

def q(text):
    """A YAML double-quoted scalar (JSON's escaping is valid YAML)."""
    return json.dumps(text)


def write_jobstore(tmp, marker, markers, sleep):
    """Copies jobstore/*.yml with the marker wrapper put in front of each job's program."""
    store = os.path.join(tmp, "jobstore")
    os.makedirs(store)
    keys = {"extract": "{{ name }}|{{ size }}|{{ modified }}",
            "aggregate": "{{ record.name }}|{{ record.size }}|{{ record.modified }}"}
    for kind, key in keys.items():
        with open(os.path.join(ROOT, "jobstore", kind + ".yml")) as fh:
            text = fh.read()
        program, args = "        Name: python3\n", "        Arguments:\n"
        if text.count(program) != 1 or text.count(args) != 1:
            raise SystemExit(f"jobstore/{kind}.yml no longer has the shape this soak edits (Name: python3, Arguments:)")
        wrapper = [marker, kind, key, markers, str(sleep[0]), str(sleep[1]), "--", "python3"]
        text = text.replace(args, args + "".join(f"          - {q(a)}\n" for a in wrapper))
        with open(os.path.join(store, kind + ".yml"), "w") as fh:
            fh.write(f"# Copied by bench/soak/crash_soak.py from jobstore/{kind}.yml, with a marker wrapper.\n" + text)
    return store


def write_workflow(tmp, store):
    with open(os.path.join(ROOT, "workflows", "extract-aggregate.yml")) as fh:
        text = fh.read()
    if text.count("jobstore: ../jobstore\n") != 1:
        raise SystemExit("workflows/extract-aggregate.yml no longer says `jobstore: ../jobstore`")
    text = text.replace("jobstore: ../jobstore\n", f"jobstore: {q(store)}\n")
    folder = os.path.join(tmp, "workflow")
    os.makedirs(folder)
    path = os.path.join(folder, "extract-aggregate.yml")
    with open(path, "w") as fh:
        fh.write(text)
    return path


# ----------------------------------------------------------------------------- expectations

def expected_report(zip_path):
    """{category: {count, sum, min, max}} of one zip, as RunCommandTests.expectedReportsScript."""
    groups = {}
    with zipfile.ZipFile(zip_path) as z:
        for entry in z.namelist():
            for row in csv.DictReader(io.StringIO(z.read(entry).decode())):
                groups.setdefault(row["category"], []).append(float(row["amount"]))
    return {k: {"count": len(v), "sum": sum(v), "min": min(v), "max": max(v)} for k, v in groups.items()}


def check_reports(inbox, work, expected):
    """{stem: problem} for every zip whose report is missing, wrong, or skipped anything."""
    problems = {}
    for stem, groups in expected.items():
        path = os.path.join(work, stem, "report.json")
        try:
            with open(path) as fh:
                report = json.load(fh)
        except (OSError, ValueError) as error:
            problems[stem] = f"no readable report.json ({error})"
            continue
        got = report.get("groups", {})
        if report.get("skipped_files") or report.get("malformed_rows"):
            problems[stem] = f"skipped {report.get('skipped_files')} / malformed {report.get('malformed_rows')}"
        elif set(got) != set(groups):
            problems[stem] = f"groups {sorted(got)} != {sorted(groups)}"
        else:
            for g, stats in groups.items():
                if got[g].get("count") != stats["count"] or any(
                        abs(float(got[g].get(k, float("nan"))) - stats[k]) > 1e-6 for k in ("sum", "min", "max")):
                    problems[stem] = f"group {g}: {got[g]} != {stats}"
                    break
    return problems


# ----------------------------------------------------------------------------- observation

def read_markers(path):
    """[(kind, key, start)] in file order."""
    out = []
    try:
        with open(path) as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3:
                    out.append((parts[0], parts[1], float(parts[2])))
    except FileNotFoundError:
        pass
    return out


def count_lines(path):
    try:
        with open(path, "rb") as fh:
            return fh.read().count(b"\n")
    except FileNotFoundError:
        return 0


def job_processes(state):
    """PIDs of live processes whose environment says HYPHA_JOB_OF=<this state folder>."""
    wanted = {os.path.abspath(state), os.path.realpath(state)}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        for var in env.split(b"\0"):
            if var.startswith(b"HYPHA_JOB_OF=") and var[13:].decode(errors="replace") in wanted:
                found.append(int(entry))
                break
    return found


def log_counts(text):
    """What a Hypha log says it did: jobs run, recorded results reused, files emitted again."""
    return {"log_jobs_reused": text.count("completed in an earlier run; using its recorded result"),
            "log_files_emitted_again": text.count("did not finish with it; emitting it again"),
            "log_leftover_jobs_ended": len(re.findall(r"left running by an earlier hypha", text)),
            "log_bacalhau_submitted": text.count("[Bacalhau] submitted"),
            "log_bacalhau_adopted": text.count("already submitted; following the job that is there")}


def record_key(record):
    return f"{record['name']}|{record['size']}|{record['modified']}"


def journal(state):
    """Rows of the jobs table, with the marker key of each (from its input record)."""
    con = sqlite3.connect(f"file:{os.path.join(state, 'state.db')}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT node, name, state, input, file, started, ended, attempts, remote_id FROM jobs").fetchall()
        dead = con.execute("SELECT node, reason, file FROM dead_letters").fetchall()
        files = collections.Counter(s for (s,) in con.execute("SELECT state FROM files"))
    finally:
        con.close()
    out = []
    for node, name, st, inp, file, started, ended, attempts, remote in rows:
        data = json.loads(inp)
        record = data["record"] if node == "aggregate" else data
        out.append({"node": node, "name": name, "state": st, "file": file, "started": started, "ended": ended,
                    "attempts": attempts, "remote_id": remote, "key": record_key(record)})
    return out, dead, dict(files)


def analyse_runs(markers, rows, first_ended):
    """Compares the markers with the journal's completed rows.

    first_ended holds, per (node, job name), the earliest `ended` of a completed row seen in any
    snapshot of the journal (taken after each kill and each --once, with no Hypha running): a job
    run again after its completion was recorded would overwrite `ended`, so the final row alone
    could hide it."""
    by_job = collections.defaultdict(list)
    for kind, key, start in markers:
        by_job[(kind, key)].append(start)
    completed = {(r["node"], r["key"]): r for r in rows if r["state"] == "completed"}
    after, more_than_once = [], []
    for job, row in completed.items():
        starts = sorted(by_job.get(job, []))
        ended = min(row["ended"], first_ended.get((row["node"], row["name"]), row["ended"]))
        late = [s for s in starts if s > ended]
        if late:
            after.append({"job": row["name"], "node": row["node"], "key": row["key"], "ended": row["ended"],
                          "first_recorded_ended": ended,
                          "started": row["started"], "attempts": row["attempts"], "marker_starts": starts})
        if len(starts) > 1:
            more_than_once.append({"job": row["name"], "runs": len(starts), "attempts": row["attempts"]})
    orphans = [job for job in by_job if job not in completed]
    attempts_differ = [{"job": row["name"], "runs": len(by_job.get(job, [])), "attempts": row["attempts"]}
                       for job, row in completed.items() if len(by_job.get(job, [])) != row["attempts"]]
    return {"completed_jobs": len(completed), "run_after_recorded_completion": after,
            "ran_more_than_once": more_than_once, "extra_runs": sum(m["runs"] - 1 for m in more_than_once),
            "attempts_differ_from_runs": attempts_differ, "markers_without_completed_job": orphans,
            "not_completed_rows": [r for r in rows if r["state"] != "completed"]}


# ----------------------------------------------------------------------------- the emulator

class Emulator:
    def __init__(self, exe, tmp, seed):
        self.state = os.path.join(tmp, "emulator-state.jsonl")
        self.log = open(os.path.join(tmp, "emulator.log"), "w")
        self.proc = subprocess.Popen([exe, "--port", "0", "--fail-rate", "0.1", "--drop-rate", "0.05",
                                      "--state", self.state, "--seed", str(seed)],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, start_new_session=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (\S+):(\d+)", line)
        if not m:
            raise SystemExit(f"the emulator did not start: {line!r}")
        self.endpoint = f"http://{m.group(1)}:{m.group(2)}"
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def get(self, path):
        """GET with retries through the injected 429/500/503 answers and dropped connections."""
        last = None
        for attempt in range(60):
            try:
                with urllib.request.urlopen(self.endpoint + path, timeout=10) as r:
                    return json.load(r)
            except (urllib.error.URLError, ConnectionError, OSError, ValueError) as error:
                last = error
                time.sleep(min(0.05 * (attempt + 1), 0.5))
        raise RuntimeError(f"GET {path} kept failing: {last}")

    def jobs(self):
        items, token = [], ""
        while True:
            page = self.get("/api/v1/orchestrator/jobs?limit=100" + (f"&next_token={token}" if token else ""))
            items += page.get("Items") or []
            token = page.get("NextToken") or ""
            if not token:
                return items

    def stats(self):
        return self.get("/api/v1/emulator/stats")

    def executions(self):
        """{job name: executions of its newest persisted version} from the --state file."""
        latest = {}
        try:
            with open(self.state) as fh:
                for line in fh:
                    try:
                        job = json.loads(line)
                    except ValueError:
                        continue
                    if "Name" in job:
                        latest[job["Name"]] = len(job.get("Executions") or [])
        except FileNotFoundError:
            pass
        return latest

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def check_emulator(emulator):
    jobs = emulator.jobs()
    names = collections.Counter(j.get("Name") for j in jobs)
    twice = sorted(n for n, c in names.items() if c > 1)
    not_v1 = sorted((j.get("Name"), j.get("Version")) for j in jobs if j.get("Version") != 1)
    states = collections.Counter((j.get("State") or {}).get("StateType") for j in jobs)
    execs = emulator.executions()
    multi = sorted((n, c) for n, c in execs.items() if c > 1)
    return {"jobs": len(jobs), "names": len(names), "created_twice": twice, "version_not_1": not_v1,
            "states": dict(states), "jobs_with_several_executions": multi, "stats": emulator.stats()}


# ----------------------------------------------------------------------------- the soak

class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.tmp = tempfile.mkdtemp(prefix="hypha-soak-")
        self.inbox = os.path.join(self.tmp, "inbox")
        self.work = os.path.join(self.tmp, "work")
        self.state = os.path.join(self.tmp, "state")
        self.markers = os.path.join(self.tmp, "markers.tsv")
        self.logs = os.path.join(self.tmp, "logs")
        os.makedirs(self.logs)
        marker = os.path.join(self.tmp, "marker.py")
        with open(marker, "w") as fh:
            fh.write(MARKER_PY)
        store = write_jobstore(self.tmp, marker, self.markers, args.job_sleep)
        self.workflow = write_workflow(self.tmp, store)
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_sample_zips.py"), self.inbox,
                        "--count", str(args.zips), "--seed", str(args.seed)], check=True, stdout=subprocess.DEVNULL)
        self.expected = {name[:-4]: expected_report(os.path.join(self.inbox, name))
                         for name in sorted(os.listdir(self.inbox)) if name.endswith(".zip")}
        self.emulator = Emulator(args.emulator, self.tmp, args.seed) if args.bacalhau else None
        self.env = dict(os.environ)
        if self.emulator:
            self.env["BACALHAU_ENDPOINT"] = self.emulator.endpoint
        self.starts = 0
        self.first_ended = {}  # (node, job name) -> earliest `ended` of it as completed, over snapshots

    def snapshot(self):
        """Reads the journal while no Hypha runs; returns the file states."""
        if not os.path.exists(os.path.join(self.state, "state.db")):
            return {}
        rows, _, files = journal(self.state)
        for r in rows:
            if r["state"] == "completed" and r["ended"] is not None:
                key = (r["node"], r["name"])
                self.first_ended[key] = min(r["ended"], self.first_ended.get(key, r["ended"]))
        return files

    def command(self, once):
        self.starts += 1
        cmd = [self.args.hypha, "run", self.workflow, "--state-dir", self.state,
               "--run-dir", os.path.join(self.tmp, "runs", f"{self.starts:03d}"),
               "--var", f"inbox={self.inbox}", "--var", f"work={self.work}",
               "--var", f"scripts={os.path.join(ROOT, 'scripts')}", "--no-progress"]
        if once:
            cmd.append("--once")
        if self.args.bacalhau:
            cmd += ["--profile", "cluster"]
        return cmd, os.path.join(self.logs, f"{self.starts:03d}-{'once' if once else 'watch'}.log")

    def once(self):
        cmd, log = self.command(True)
        t0 = time.time()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env, timeout=1800)
        with open(log, "w") as fh:
            fh.write(r.stdout + r.stderr)
        self.snapshot()
        m = re.search(r"jobs: (\d+) completed, (\d+) failed", r.stdout)
        return {"rc": r.returncode, "seconds": round(time.time() - t0, 3), "log": log,
                "completed": int(m.group(1)) if m else None, "failed": int(m.group(2)) if m else None,
                "summary": m.group(0) if m else r.stdout.strip().splitlines()[-1:],
                **log_counts(r.stdout + r.stderr)}

    def start_and_kill(self, delay):
        """Starts watch mode, SIGKILLs it after delay s, waits up to 5 s for its jobs to end."""
        cmd, log = self.command(False)
        with open(log, "w") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        t0 = time.time()
        try:
            rc = proc.wait(delay)
            return {"exited_by_itself": rc, "after_s": round(time.time() - t0, 3), "log": log}
        except subprocess.TimeoutExpired:
            pass
        proc.send_signal(signal.SIGKILL)  # Hypha alone: its guard and jobs are left to themselves
        proc.wait()
        killed = time.time()
        markers = count_lines(self.markers)
        files = self.snapshot()
        in_flight = job_processes(self.state)
        left = in_flight
        while left and time.time() - killed < 5:
            time.sleep(0.02)
            left = job_processes(self.state)
        gone_after = round(time.time() - killed, 3)
        with open(log) as fh:
            counts = log_counts(fh.read())
        return {"killed_after_s": round(killed - t0, 3), "killed_at": round(killed, 3), "markers": markers,
                "jobs_running_at_kill": len(in_flight), "leftover_after_5s": len(left),
                "leftover_pids": left, "jobs_gone_after_s": gone_after if in_flight else 0.0, "log": log,
                "files_done": files.get("done", 0), **counts}

    # ------------------------------------------------------------------ scenarios

    def crash(self):
        a = self.args
        t0 = time.time()
        trials, attempts = [], 0
        while len(trials) < a.trials and attempts < a.trials * 3:
            attempts += 1
            delay = self.rng.uniform(*a.kill_window)
            t = self.start_and_kill(delay)
            t["delay_s"] = round(delay, 3)
            if "exited_by_itself" in t:
                print(f"  start {attempts}: hypha exited by itself ({t['exited_by_itself']}) after {t['after_s']} s; "
                      f"see {t['log']}", flush=True)
                time.sleep(0.5)
                continue
            t["trial"] = len(trials) + 1
            trials.append(t)
            print(f"  kill {t['trial']:3}: after {t['killed_after_s']:5.2f} s, {t['markers']:4} markers, "
                  f"{t['jobs_running_at_kill']} jobs running, {t['leftover_after_5s']} left after 5 s; "
                  f"{t['files_done']} files done; log: {t['log_jobs_reused']} recorded results reused, "
                  f"{t['log_files_emitted_again']} files emitted again", flush=True)
        finish = self.once()
        print(f"  finish: hypha run --once: rc {finish['rc']}, {finish['summary']} in {finish['seconds']} s", flush=True)
        problems = check_reports(self.inbox, self.work, self.expected)
        rows, dead, files = journal(self.state)
        runs = analyse_runs(read_markers(self.markers), rows, self.first_ended)
        before = count_lines(self.markers)
        subs = self.emulator.stats().get("Submissions") if self.emulator else None
        again = self.once()
        added = count_lines(self.markers) - before
        wall = time.time() - t0
        emu = check_emulator(self.emulator) if self.emulator else None
        if emu:
            again["submissions_added"] = emu["stats"].get("Submissions") - subs
        leftover = sum(t["leftover_after_5s"] for t in trials)
        result = {
            "scenario": "crash", "trials": len(trials), "starts_without_kill": attempts - len(trials),
            "files": len(self.expected), "lost": len(problems), "report_problems": problems,
            "run_twice_after_recorded_completion": len(runs["run_after_recorded_completion"]),
            "jobs_run_more_than_once": len(runs["ran_more_than_once"]),
            "leftover_processes": leftover, "wall_s": round(wall, 1),
            "jobs_running_at_kills": sum(t["jobs_running_at_kill"] for t in trials),
            "markers": count_lines(self.markers), "journal_rows": len(rows), "dead_letters": len(dead),
            "file_states": files, "finish": finish, "rerun": again, "rerun_markers_added": added,
            "rerun_ran_no_job": again["completed"] == 0 and added == 0,
            "details": runs, "trial_log": trials, "emulator": emu,
        }
        if emu:
            result["names_created_twice"] = len(emu["created_twice"]) + len(emu["version_not_1"])
        return result

    def idle(self):
        t0 = time.time()
        before = count_lines(self.markers)
        subs = self.emulator.stats().get("Submissions") if self.emulator else None
        onces, kills = [self.once() for _ in range(3)], [self.start_and_kill(1.5) for _ in range(3)]
        added = count_lines(self.markers) - before
        problems = check_reports(self.inbox, self.work, self.expected)
        result = {"scenario": "idle", "trials": 6, "files": len(self.expected), "lost": len(problems),
                  "report_problems": problems, "run_twice_after_recorded_completion": added,
                  "markers_added": added, "once_completed": [o["completed"] for o in onces],
                  "leftover_processes": sum(k.get("leftover_after_5s", 0) for k in kills),
                  "wall_s": round(time.time() - t0, 1), "onces": onces, "kills": kills}
        if self.emulator:
            result["submissions_added"] = self.emulator.stats().get("Submissions") - subs
            result["emulator"] = emu = check_emulator(self.emulator)
            result["names_created_twice"] = len(emu["created_twice"]) + len(emu["version_not_1"])
        return result

    def rewrite(self):
        t0 = time.time()
        stems = sorted(self.rng.sample(sorted(self.expected), min(self.args.rewrite, len(self.expected))))
        staging = os.path.join(self.tmp, "rewrite-src")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_sample_zips.py"), staging, "--count",
                        str(len(stems)), "--seed", str(self.args.seed + 1000), "--rows", "23"], check=True,
                       stdout=subprocess.DEVNULL)
        sources = sorted(os.listdir(staging))
        same_inode = 0
        for stem, src in zip(stems, sources):
            path = os.path.join(self.inbox, stem + ".zip")
            inode = os.stat(path).st_ino
            with open(os.path.join(staging, src), "rb") as fh:
                data = fh.read()
            with open(path, "r+b") as fh:  # in place: same inode, new bytes, size and mtime
                fh.write(data)
                fh.truncate()
            same_inode += os.stat(path).st_ino == inode
            self.expected[stem] = expected_report(path)
        before = read_markers(self.markers)
        run = self.once()
        new = read_markers(self.markers)[len(before):]
        got = collections.Counter((kind, key.split("|")[0][:-4]) for kind, key, _ in new)
        want = collections.Counter({(kind, stem): 1 for stem in stems for kind in ("extract", "aggregate")})
        unexpected = sorted(f"{k}:{s} x{c}" for (k, s), c in (got - want).items())
        missing = sorted(f"{k}:{s}" for (k, s), c in (want - got).items())
        problems = check_reports(self.inbox, self.work, self.expected)
        rows, _, _ = journal(self.state)
        late = analyse_runs(read_markers(self.markers), rows, self.first_ended)["run_after_recorded_completion"]
        unexpected += [f"run after recorded completion: {x['job']}" for x in late]
        result = {"scenario": "rewrite", "trials": 1, "files": len(stems), "rewritten": stems,
                "rewritten_in_place": same_inode, "lost": len(problems) + len(missing), "report_problems": problems,
                "jobs_missing": missing, "run_twice_after_recorded_completion": len(unexpected),
                "unexpected_jobs": unexpected, "new_markers": len(new), "once": run, "leftover_processes": 0,
                "wall_s": round(time.time() - t0, 1)}
        if self.emulator:
            result["emulator"] = emu = check_emulator(self.emulator)
            result["names_created_twice"] = len(emu["created_twice"]) + len(emu["version_not_1"])
        return result

    def reprocess(self):
        """Not a promise but a check of this soak: `--reprocess` runs every job again on purpose,
        so the detector of runs after recorded completion must flag every job that ran again (with
        local jobs: all of them). With --bacalhau it also shows what --reprocess does on a cluster."""
        t0 = time.time()
        cmd, log = self.command(True)
        before = read_markers(self.markers)
        subs = self.emulator.stats().get("Submissions") if self.emulator else None
        r = subprocess.run(cmd + ["--reprocess"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=self.env, timeout=1800)
        with open(log, "w") as fh:
            fh.write(r.stdout)
        self.snapshot()
        markers = read_markers(self.markers)
        ran_again = {(k, key) for k, key, _ in markers[len(before):]}
        rows, _, _ = journal(self.state)
        runs = analyse_runs(markers, rows, self.first_ended)
        flagged = len(runs["run_after_recorded_completion"])
        counts = log_counts(r.stdout)
        result = {"scenario": "reprocess", "trials": 1, "files": len(self.expected),
                  "lost": len(check_reports(self.inbox, self.work, self.expected)),
                  "run_twice_after_recorded_completion": flagged, "jobs_run_again": len(ran_again),
                  "completed_jobs": runs["completed_jobs"],
                  "detector_works": flagged == len(ran_again) and (self.args.bacalhau or flagged == runs["completed_jobs"] > 0),
                  "leftover_processes": 0, "wall_s": round(time.time() - t0, 1), "log": log, **counts}
        print(f"reprocess (detector check): --reprocess ran {len(ran_again)} of {runs['completed_jobs']} jobs again; "
              f"the detector flagged {flagged} as run after recorded completion"
              + (f"; emulator submissions +{self.emulator.stats().get('Submissions') - subs}, hypha adopted "
                 f"{counts['log_bacalhau_adopted']} existing jobs by name" if self.emulator else ""), flush=True)
        return result


def table(rows, mode):
    head = ["scenario", "trials", "files", "lost", "run twice after recorded completion", "leftover processes", "wall s"]
    if mode == "bacalhau":
        head.insert(6, "names created twice")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"{r['scenario']} ({mode})", r["trials"], r["files"], r["lost"], r["run_twice_after_recorded_completion"],
                 r["leftover_processes"], r["wall_s"]]
        if mode == "bacalhau":
            cells.insert(6, r.get("names_created_twice", "-"))
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def built(product):
    """This checkout's build of `product`: release if there is one, else debug."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    release = os.path.join(root, ".build", "release", product)
    return release if os.path.exists(release) else os.path.join(root, ".build", "debug", product)


def main():
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hypha", default=built("hypha"), help="the hypha binary (default %(default)s)")
    ap.add_argument("--emulator", default=built("bacalhau-emulator"), help="the emulator binary (default %(default)s)")
    ap.add_argument("--trials", type=int, default=20, help="kills of hypha (default 20)")
    ap.add_argument("--zips", type=int, default=200, help="sample zips (default 200)")
    ap.add_argument("--seed", type=int, default=1, help="seeds the zips, the kill moments and the emulator's faults")
    ap.add_argument("--kill-window", type=float, nargs=2, default=[0.3, 3.0], metavar=("MIN", "MAX"),
                    help="seconds after a start at which it is killed, uniform (default 0.3 3.0)")
    ap.add_argument("--job-sleep", type=float, nargs=2, default=[0.05, 0.2], metavar=("MIN", "MAX"),
                    help="seconds each job naps after its marker, uniform (default 0.05 0.2)")
    ap.add_argument("--rewrite", type=int, default=5, help="zips rewritten in place in the rewrite scenario")
    ap.add_argument("--scenarios", default="crash,idle,rewrite",
                    help="comma-separated, run in order on one state folder: crash, idle, rewrite, reprocess")
    ap.add_argument("--bacalhau", action="store_true", help="--profile cluster against the emulator")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (kept anyway on a failure)")
    args = ap.parse_args()
    mode = "bacalhau" if args.bacalhau else "local"
    load0 = os.getloadavg()
    soak = Soak(args)
    print(f"crash soak ({mode}): {args.zips} zips, {args.trials} kills, seed {args.seed}, in {soak.tmp}"
          + (f", emulator at {soak.emulator.endpoint}" if soak.emulator else ""), flush=True)
    rows = []
    try:
        for name in args.scenarios.split(","):
            print(f"scenario {name}:", flush=True)
            rows.append(getattr(soak, name.strip())())
    finally:
        if soak.emulator:
            soak.emulator.stop()
    failed = any(r["lost"] or (r["run_twice_after_recorded_completion"] and r["scenario"] != "reprocess")
                 or (r["scenario"] == "reprocess" and not r["detector_works"]) or r["leftover_processes"]
                 or r.get("names_created_twice") or (r["scenario"] == "crash" and not r["rerun_ran_no_job"])
                 for r in rows)
    for r in rows:
        if r["scenario"] == "crash":
            d = r["details"]
            print(f"crash: {r['markers']} job starts for {d['completed_jobs']} completed jobs; "
                  f"{r['jobs_run_more_than_once']} jobs ran more than once ({d['extra_runs']} extra runs; "
                  f"{r['jobs_running_at_kills']} job processes seen right after the kills); journal attempts != runs "
                  f"for {len(d['attempts_differ_from_runs'])} jobs; dead letters {r['dead_letters']}; "
                  f"files {r['file_states']}; then --once again: {r['rerun']['summary']}, "
                  f"{r['rerun_markers_added']} markers added", flush=True)
            for late in d["run_after_recorded_completion"]:
                print(f"  RUN AFTER RECORDED COMPLETION: {late}", flush=True)
            if d["markers_without_completed_job"] or d["not_completed_rows"]:
                print(f"  markers without a completed job: {d['markers_without_completed_job'][:10]}; "
                      f"rows not completed: {d['not_completed_rows'][:10]}", flush=True)
            if r["emulator"]:
                e = r["emulator"]
                print(f"emulator: {e['jobs']} jobs, {e['names']} names, created twice {e['created_twice'][:5]}, "
                      f"version != 1 {e['version_not_1'][:5]}, states {e['states']}, several executions "
                      f"{e['jobs_with_several_executions'][:5]}; stats {e['stats']}", flush=True)
        if r["scenario"] == "idle":
            print(f"idle: --once x3 ran {r['once_completed']} jobs (summary), {r['markers_added']} markers added"
                  + (f", {r['submissions_added']} submissions" if "submissions_added" in r else ""), flush=True)
        if r["scenario"] == "rewrite":
            print(f"rewrite: {r['rewritten_in_place']}/{r['files']} rewritten in place (same inode); --once: "
                  f"{r['once']['summary']}; {r['new_markers']} job starts"
                  + (f"; emulator: {r['emulator']['jobs']} jobs, {r['emulator']['names']} names, version != 1: "
                     f"{r['emulator']['version_not_1'][:5]}" if "emulator" in r else ""), flush=True)
        for stem, problem in list(r.get("report_problems", {}).items())[:10]:
            print(f"  LOST {r['scenario']}: {stem}: {problem}", flush=True)
        for item in r.get("unexpected_jobs", []) + r.get("jobs_missing", []):
            print(f"  rewrite: unexpected or missing job {item}", flush=True)
    if rows and rows[0]["scenario"] == "crash" and args.bacalhau:
        logs = [t for t in rows[0]["trial_log"]] + [rows[0]["finish"]]
        print(f"bacalhau: hypha logged {sum(t['log_bacalhau_submitted'] for t in logs)} submissions and "
              f"{sum(t['log_bacalhau_adopted'] for t in logs)} adoptions (found by name after a kill or a lost answer)",
              flush=True)
    print(f"machine: {os.cpu_count()} cores; load average before {load0[0]:.2f}, "
          f"after {os.getloadavg()[0]:.2f}", flush=True)
    print(table(rows, mode))
    results = {"mode": mode, "date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(), "load_before": load0,
               "load_after": os.getloadavg(), "args": vars(args), "tmp": soak.tmp, "scenarios": rows}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2, default=str)
    if failed or args.keep:
        print(f"kept {soak.tmp}", flush=True)
    else:
        shutil.rmtree(soak.tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
