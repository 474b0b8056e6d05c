#!/usr/bin/env python3
"""Hypha beside its peers, the whole comparison table of issue 24 in one run, with ratios and aims.

    python3 bench/compare.py --hypha .build/release/hypha [--python .venv/bin/python]
                             [--rounds 3] [--quick] [--only NAME[,NAME]] [--json FILE]

Runs, one after another on this machine (run it on a quiet one), and prints one Markdown table:

  latency     rename -> job started, p50/p99, Hypha vs the inotifywait loop, rounds alternating
              the two (bench/core/bench.py's `latency`, medians over --rounds)
  throughput  5,000 zips moved in at once: jobs/s, Hypha vs the loop vs Python watchdog
              (bench/core/bench.py's `throughput`, one pass each)
  overhead    100 zips through two chained jobs, max_parallel 1, vs a bash loop (bench.py's `overhead`)
  cpu         Hypha's own CPU per job and jobs/s over 5,000 zips, with the state store and with
              --no-state, alternating, --rounds pairs (bench/core/cpu_per_job.py)
  exec        exec with `pipeline: 64` vs the built-in transform (bench/exec/bench_exec.py --records 50000)
  download    one 1 GiB download vs curl (and wget), 1,000 small downloads vs curl
              (bench/download/bench_download.py)

--quick shrinks every size and runs one round: it checks the script and the binary in a minute or
two; its figures are not the issue's. --only takes the names above (and `core` for the first
three). A peer whose tool is missing (inotifywait, curl, wget, watchdog) shows "n/a (missing X)";
any other failure is shown on its line and the script exits 1 at the end. Progress goes to
stderr, the table to stdout. This is a benchmark: never run it as a timed test.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "core"))
import bench as core  # noqa: E402  (bench/core/bench.py: its functions, not its main)

NAMES = ["latency", "throughput", "overhead", "cpu", "exec", "download"]
T0 = time.time()


def progress(msg):
    print("[compare %5.0fs] %s" % (time.time() - T0, msg), file=sys.stderr, flush=True)


def tail(text, n=300):
    text = (text or "").strip().replace("\n", " / ")
    return text[-n:]


def run(cmd, env=None, timeout=3600):
    """Runs a sub-benchmark; returns its stdout, raises with the tail of its output on failure."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                       timeout=timeout, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (os.path.basename(cmd[1] if cmd[0] == sys.executable else cmd[0]),
                                                 r.returncode, tail(r.stderr or r.stdout)))
    return r.stdout


def missing_tool(tool):
    return None if shutil.which(tool) else "n/a (missing %s)" % tool


def python_has_watchdog(python):
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return "n/a (missing %s)" % python
    r = subprocess.run([python, "-c", "import watchdog"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return None if r.returncode == 0 else "n/a (missing watchdog in %s)" % python


# --- the benchmarks: each fills figures[name] or raises ---

def bench_latency(a, tmp, stamp, sizes):
    """Rounds alternating Hypha and the loop; medians over rounds (as bench.py's main does)."""
    loop_missing = missing_tool("inotifywait")
    ns = types.SimpleNamespace(hypha=a.hypha, python=a.python)
    rounds = {"hypha": [], "inotifywait": []}
    peer_error = None
    for i in range(a.rounds):
        progress("latency round %d/%d: hypha" % (i + 1, a.rounds))
        rounds["hypha"].append(core.latency("hypha", tmp, ns, stamp, n=sizes["latency_files"]))
        if loop_missing or peer_error:
            continue
        progress("latency round %d/%d: inotifywait loop" % (i + 1, a.rounds))
        try:
            rounds["inotifywait"].append(core.latency("inotifywait", tmp, ns, stamp, n=sizes["latency_files"]))
        except Exception as e:  # noqa: BLE001 -- shown on the line, exit 1 at the end
            peer_error = "error: %s" % e
    out = {}
    for kind, runs in rounds.items():
        if runs:
            out[kind] = {"p50_ms": statistics.median(r["p50_ms"] for r in runs),
                         "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                         "lost": sum(r["lost"] for r in runs), "n": runs[0]["n"], "rounds": len(runs),
                         "per_round": [{k: r[k] for k in ("p50_ms", "p99_ms", "lost")} for r in runs]}
    if loop_missing or peer_error:
        out["inotifywait"] = {"unavailable": loop_missing or peer_error}
    return out


def bench_throughput(a, tmp, stamp, sizes):
    ns = types.SimpleNamespace(hypha=a.hypha, python=a.python)
    out = {}
    unavailable = {"inotifywait": missing_tool("inotifywait"), "watchdog": python_has_watchdog(a.python)}
    for kind in ("hypha", "inotifywait", "watchdog"):
        if unavailable.get(kind):
            out[kind] = {"unavailable": unavailable[kind]}
            continue
        progress("throughput: %d zips at once, %s" % (sizes["files"], kind))
        try:
            r = core.throughput(kind, tmp, ns, stamp, sizes["files"])
            out[kind] = {k: r[k] for k in ("files", "jobs_per_s", "lost", "seconds")}
        except Exception as e:  # noqa: BLE001
            if kind == "hypha":
                raise
            out[kind] = {"unavailable": "error: %s" % e}
    return out


def bench_overhead(a, tmp, stamp, sizes):
    progress("overhead: 100 zips through two chained jobs, max_parallel 1, vs a bash loop")
    return core.overhead(tmp, types.SimpleNamespace(hypha=a.hypha, python=a.python), stamp)


CPU_LINE = re.compile(r"jobs/s=(\d+) hypha user=([\d.]+)s sys=([\d.]+)s per job ([\d.]+) ms")


def bench_cpu(a, tmp, stamp, sizes):
    """cpu_per_job.py with the state store and with --no-state, alternating, --rounds pairs."""
    script = os.path.join(HERE, "core", "cpu_per_job.py")
    runs = {"state": [], "no_state": []}
    for i in range(a.rounds):
        for label, extra in (("state", ""), ("no_state", "--no-state")):
            progress("cpu per job round %d/%d: %d zips, %s" % (i + 1, a.rounds, sizes["cpu_jobs"],
                                                                "with state" if not extra else "--no-state"))
            env = dict(os.environ, HYPHA=a.hypha, HYPHA_ARGS=extra)
            text = run([sys.executable, script, str(sizes["cpu_jobs"])], env=env)
            m = CPU_LINE.search(text)
            if not m:
                raise RuntimeError("cpu_per_job.py printed no figures: %s" % tail(text))
            runs[label].append({"jobs_per_s": int(m.group(1)), "cpu_ms_per_job": float(m.group(4))})
    out = {"jobs": sizes["cpu_jobs"], "rounds": a.rounds, "per_round": runs}
    for label, rs in runs.items():
        out[label] = {"cpu_ms_per_job": statistics.median(r["cpu_ms_per_job"] for r in rs),
                      "jobs_per_s": statistics.median(r["jobs_per_s"] for r in rs)}
    out["state_cost_ms"] = out["state"]["cpu_ms_per_job"] - out["no_state"]["cpu_ms_per_job"]
    out["state_cost_fraction"] = 1 - out["state"]["jobs_per_s"] / out["no_state"]["jobs_per_s"]
    return out


EXEC_LINE = re.compile(r"^(\S.*?)\s+([\d.]+)\s+(\d+)\s*$")


def bench_exec(a, tmp, stamp, sizes):
    progress("exec: bench_exec.py --records %d (all its workflows)" % sizes["records"])
    text = run([sys.executable, os.path.join(HERE, "exec", "bench_exec.py"), "--records", str(sizes["records"]),
                "--hypha", a.hypha])
    rows = {}
    for line in text.splitlines():
        m = EXEC_LINE.match(line)
        if m and m.group(1) != "workflow":
            rows[m.group(1)] = {"wall_s": float(m.group(2)), "records_per_s": int(m.group(3))}
    for need in ("builtin", "exec c=1 p=64"):
        if need not in rows:
            raise RuntimeError("bench_exec.py printed no line %r: %s" % (need, tail(text)))
    return {"records": sizes["records"], "workflows": rows}


def bench_download(a, tmp, stamp, sizes):
    progress("download: %d small files and one %d MiB file, hypha, curl, wget" % (sizes["small"], sizes["big_mib"]))
    text = run([sys.executable, os.path.join(HERE, "download", "bench_download.py"), "--hypha", a.hypha,
                "--small", str(sizes["small"]), "--big-mib", str(sizes["big_mib"]),
                "--work", os.path.join(tmp, "download")])
    last = text.strip().splitlines()[-1]
    out = json.loads(last)
    for tool in ("curl", "wget"):
        if missing_tool(tool):
            out.setdefault("missing", {})[tool] = missing_tool(tool)
    return out


RUNNERS = {"latency": bench_latency, "throughput": bench_throughput, "overhead": bench_overhead,
           "cpu": bench_cpu, "exec": bench_exec, "download": bench_download}

# --- the table ---

# The issue's own ratios (2026-12-07, release build, --rounds 3), for a glance at drift.
ISSUE = {"p50": "1.19×", "p99": "1.39×", "zips": "1.30×", "cpu": "+0.11 ms", "state": "12–13%",
         "big": "0.46×", "small": "0.92–0.96×", "exec": "0.82×", "overhead": "—"}


def fmt_int(x):
    return "{:,.0f}".format(x)


def ratio_text(r, lower_is_better):
    if lower_is_better:
        word = "slower" if r > 1 else "faster"
    else:
        word = "faster" if r > 1 else "slower"
    return "%.2f× (%s)" % (r, word)


def mark(ok):
    return "✓" if ok else "✗"


def rows(fig, err, sizes, quick):
    """[(line, hypha, peer, ratio, aim, met, issue)]: one per line of the issue's table."""
    out = []

    def failed(name, line, aim, key):
        out.append((line, "error: %s" % err[name], "", "", aim, "—", ISSUE[key]))

    # latency
    aims = {"p50": ("≤ 0.9× the loop", 0.9), "p99": ("≤ 1× the loop", 1.0)}
    for key in ("p50", "p99"):
        line = "rename → job started, %s" % key
        aim, limit = aims[key]
        if "latency" in err:
            failed("latency", line, aim, key)
        elif "latency" in fig:
            h, p = fig["latency"]["hypha"], fig["latency"]["inotifywait"]
            hy = "%.3f ms" % h[key + "_ms"] + (" (lost %d)" % h["lost"] if h["lost"] else "")
            if "unavailable" in p:
                out.append((line, hy, "inotifywait loop " + p["unavailable"], "n/a", aim, "—", ISSUE[key]))
            else:
                r = h[key + "_ms"] / p[key + "_ms"]
                peer = ("inotifywait loop " if key == "p50" else "loop ") + "%.3f ms" % p[key + "_ms"]
                out.append((line, hy, peer, ratio_text(r, True), aim, mark(r <= limit), ISSUE[key]))
    # throughput
    line = "%s zips at once" % fmt_int(sizes["files"])
    aim = "≥ 1.7× the loop"
    if "throughput" in err:
        failed("throughput", line, aim, "zips")
    elif "throughput" in fig:
        t = fig["throughput"]
        h = t["hypha"]
        hy = "%s jobs/s" % fmt_int(h["jobs_per_s"]) + (" (lost %d)" % h["lost"] if h["lost"] else "")
        peers, ratios, met = [], [], "—"
        for kind, name in (("inotifywait", "loop"), ("watchdog", "watchdog")):
            p = t[kind]
            if "unavailable" in p:
                peers.append("%s %s" % (name, p["unavailable"]))
                continue
            peers.append("%s %s" % (name, fmt_int(p["jobs_per_s"])) + (" (lost %d)" % p["lost"] if p["lost"] else ""))
            r = h["jobs_per_s"] / p["jobs_per_s"]
            ratios.append("%.2f× %s" % (r, "the loop" if kind == "inotifywait" else name))
            if kind == "inotifywait":
                met = mark(r >= 1.7)
        out.append((line, hy, "; ".join(peers), "; ".join(ratios) or "n/a", aim, met, ISSUE["zips"]))
    # cpu per job and the cost of durable state
    if "cpu" in err:
        failed("cpu", "Hypha's own CPU per job", "≤ 0.2 ms with state", "cpu")
        failed("cpu", "cost of durable state (jobs/s)", "< 5%", "state")
    elif "cpu" in fig:
        c = fig["cpu"]
        s, n = c["state"], c["no_state"]
        out.append(("Hypha's own CPU per job", "%.2f ms with state, %.2f without" % (s["cpu_ms_per_job"], n["cpu_ms_per_job"]),
                    "—", "state costs %+.2f ms" % c["state_cost_ms"], "≤ 0.2 ms with state",
                    mark(s["cpu_ms_per_job"] <= 0.2), ISSUE["cpu"]))
        w = " / ".join(fmt_int(r["jobs_per_s"]) for r in c["per_round"]["state"])
        wo = " / ".join(fmt_int(r["jobs_per_s"]) for r in c["per_round"]["no_state"])
        out.append(("cost of durable state (jobs/s)", "%s vs %s" % (w, wo), "—",
                    "%.0f%%" % (100 * c["state_cost_fraction"]), "< 5%", mark(c["state_cost_fraction"] < 0.05),
                    ISSUE["state"]))
    # downloads
    big_line = "one %s download, verified" % ("1 GiB" if sizes["big_mib"] == 1024 else "%d MiB" % sizes["big_mib"])
    small_line = "%s small downloads" % fmt_int(sizes["small"])
    if "download" in err:
        failed("download", big_line, "≥ 0.9× curl", "big")
        failed("download", small_line, "≥ 1× curl †", "small")
    elif "download" in fig:
        d = fig["download"]
        res, miss = d["results"], d.get("missing", {})
        h = next(v for k, v in res.items() if k.startswith("hypha"))
        seq = res.get("curl sequential")
        par = next((v for k, v in res.items() if k.startswith("curl --parallel")), None)
        wget = res.get("wget")
        # one big file: curl sequential (one connection, as Hypha's one download)
        peers = []
        if seq:
            peers.append("curl %s MB/s, %.1f s CPU" % (fmt_int(seq["big_MB_per_s"]), seq["big_cpu_s"]))
        else:
            peers.append("curl " + miss.get("curl", "n/a"))
        peers.append("wget %s" % fmt_int(wget["big_MB_per_s"]) if wget else "wget " + miss.get("wget", "n/a"))
        if seq:
            r = h["big_MB_per_s"] / seq["big_MB_per_s"]
            ratio, met = "%.2f× curl" % r, mark(r >= 0.9)
        else:
            ratio, met = "n/a", "—"
        out.append((big_line, "%s MB/s, %.1f s CPU" % (fmt_int(h["big_MB_per_s"]), h["big_cpu_s"]), "; ".join(peers),
                    ratio, "≥ 0.9× curl", met, ISSUE["big"]))
        # many small files: curl sequential and curl --parallel
        curls = [v["files_per_s"] for v in (seq, par) if v]
        if curls:
            lo, hi = min(curls), max(curls)
            peer = "curl %s" % (fmt_int(lo) if lo == hi else "%s–%s" % (fmt_int(lo), fmt_int(hi)))
            rlo, rhi = h["files_per_s"] / hi, h["files_per_s"] / lo
            ratio = "%.2f×" % rlo if len(curls) == 1 else "%.2f–%.2f×" % (rlo, rhi)
            met = mark(rlo >= 1.0)
        else:
            peer, ratio, met = "curl " + miss.get("curl", "n/a"), "n/a", "—"
        out.append((small_line, "%s files/s" % fmt_int(h["files_per_s"]), peer, ratio, "≥ 1× curl †", met, ISSUE["small"]))
    # exec
    line = "exec, 1 copy, `pipeline: 64`"
    if "exec" in err:
        failed("exec", line, "≥ 0.9× the built-in", "exec")
    elif "exec" in fig:
        w = fig["exec"]["workflows"]
        e, b = w["exec c=1 p=64"]["records_per_s"], w["builtin"]["records_per_s"]
        r = e / b
        out.append((line, "%.1f k records/s" % (e / 1000), "built-in transform %.1f k" % (b / 1000), "%.2f×" % r,
                    "≥ 0.9× the built-in", mark(r >= 0.9), ISSUE["exec"]))
    # overhead (bench.py's third benchmark; the issue sets no aim for it)
    line = "100 zips → 2 chained jobs, max_parallel 1"
    if "overhead" in err:
        failed("overhead", line, "—", "overhead")
    elif "overhead" in fig:
        o = fig["overhead"]
        out.append((line, "%.3f s (%d jobs; start-up %.3f s)" % (o["hypha_s"], o["jobs"], o["startup_s"]),
                    "bash loop %.3f s" % o["loop_s"],
                    "%+.3f ms/job (%+.3f without start-up)" % (o["overhead_ms_per_job"], o["overhead_ms_per_job_after_startup"]),
                    "—", "—", "—"))
    return out


def table(rws):
    head = ["", "Hypha", "peer, same run", "ratio", "aim (issue 24)", "met", "issue 24's ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rws:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description="Hypha beside its peers: issue 24's comparison table in one run")
    ap.add_argument("--hypha", required=True, help="a release build of hypha")
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"),
                    help="a python with watchdog (and pyarrow) installed")
    ap.add_argument("--rounds", type=int, default=3, help="latency rounds and cpu-per-job pairs (medians)")
    ap.add_argument("--quick", action="store_true", help="small sizes, one round: checks the script, not the figures")
    ap.add_argument("--only", help="comma-separated subset of: " + ", ".join(NAMES) + " (core = the first three)")
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    a.hypha = os.path.abspath(a.hypha)
    a.python = os.path.abspath(a.python)
    if not os.access(a.hypha, os.X_OK):
        sys.exit("no executable hypha at %s" % a.hypha)
    which = NAMES
    if a.only:
        asked = [w.strip() for w in a.only.split(",") if w.strip()]
        asked = sum((["latency", "throughput", "overhead"] if w == "core" else [w] for w in asked), [])
        bad = [w for w in asked if w not in NAMES]
        if bad:
            sys.exit("unknown benchmark(s) %s; choose from %s, core" % (", ".join(bad), ", ".join(NAMES)))
        which = [n for n in NAMES if n in asked]
    if a.quick:
        a.rounds = 1
        sizes = {"latency_files": 50, "files": 500, "cpu_jobs": 500, "records": 2000, "small": 100, "big_mib": 64}
    else:
        sizes = {"latency_files": 200, "files": 5000, "cpu_jobs": 5000, "records": 50000, "small": 1000, "big_mib": 1024}
    version = subprocess.run([a.hypha, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    load = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    progress("hypha %s (%s); %s; rounds %d; load %.2f" % (version, a.hypha, "QUICK" if a.quick else "full", a.rounds, load[0]))

    fig, err = {}, {}
    tmp = tempfile.mkdtemp(prefix="hypha-compare-")
    try:
        stamp = core.compile_stamp(tmp) if set(which) & {"latency", "throughput", "overhead"} else None
        for name in which:
            t = time.time()
            try:
                fig[name] = RUNNERS[name](a, tmp, stamp, sizes)
                progress("%s done in %.0f s" % (name, time.time() - t))
            except Exception as e:  # noqa: BLE001 -- shown on the line, exit 1 at the end
                err[name] = tail(str(e) or type(e).__name__, 400)
                progress("%s FAILED: %s" % (name, err[name]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rws = rows(fig, err, sizes, a.quick)
    # A peer that failed for another reason than a missing tool is a failure too.
    peer_errors = [r for r in rws if "error:" in r[2]]
    kind = "QUICK run (small sizes, 1 round: checks the script, not the issue's figures)" if a.quick else \
        "%d rounds" % a.rounds
    print("Hypha %s, %s; %s; started %s; load average %.2f at start\n" % (version, a.hypha, kind, started, load[0]))
    print(table(rws))
    print("\nratio: Hypha's figure over the peer's. † no figure set by the issue for this line; "
          "its general aim: beat the peer on every line.")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"hypha": a.hypha, "version": version, "quick": a.quick, "rounds": a.rounds, "sizes": sizes,
                       "started": started, "load_at_start": load[0], "figures": fig, "errors": err,
                       "table": [dict(zip(["line", "hypha", "peer", "ratio", "aim", "met", "issue"], r)) for r in rws]},
                      fh, indent=2, ensure_ascii=False)
    progress("finished in %.0f s" % (time.time() - T0))
    if err or peer_errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
